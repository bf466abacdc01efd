//! Where delivered `webhookId`s are remembered, so that a replay is refused: in memory for one
//! process, in Redis or PostgreSQL for several.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "postgres")]
pub use postgres::PostgresSeenStore;
#[cfg(feature = "redis")]
pub use redis::RedisSeenStore;

/// A seen-store answer in flight.
pub type SeenFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>;

/// Remembers delivered `webhookId`s.
pub trait SeenStore: fmt::Debug + Send + Sync {
    /// Records `webhook_id` for `ttl`, atomically; `Ok(true)` when it was not recorded
    /// (or its record expired), `Ok(false)` for a repeat, `Err` when the store failed.
    fn first_sighting<'a>(&'a self, webhook_id: &'a str, ttl: Duration) -> SeenFuture<'a>;

    /// Whether `webhook_id` is recorded and its record has not expired, recording nothing;
    /// `Err` when the store failed. The at-least-once endpoint asks this before handling a
    /// delivery and calls [`SeenStore::first_sighting`] only once it was handled, so that a
    /// retry after a failed handler is not refused as a duplicate.
    fn seen<'a>(&'a self, webhook_id: &'a str) -> SeenFuture<'a>;
}

/// Seen ids in this process's memory, each forgotten after its time to live.
#[derive(Debug, Default)]
pub struct MemorySeenStore {
    seen: Mutex<HashMap<String, Instant>>,
}

/// How many ids the memory store holds before it sweeps out expired ones.
const SWEEP_AT: usize = 4_096;

impl MemorySeenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many ids it holds now (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no id.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // One map operation per call: a panic cannot leave it torn.
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, webhook_id: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        // A time to live past what `Instant` can hold would panic when added; a century is
        // as good as forever here.
        let expires = now
            .checked_add(ttl)
            .or_else(|| now.checked_add(CENTURY))
            .unwrap_or(now);
        let mut seen = self.lock();
        if seen.len() >= SWEEP_AT {
            seen.retain(|_, expires| *expires > now);
        }
        match seen.get(webhook_id) {
            Some(expires) if *expires > now => false,
            _ => {
                seen.insert(webhook_id.to_owned(), expires);
                true
            }
        }
    }

    fn holds(&self, webhook_id: &str) -> bool {
        let now = Instant::now();
        self.lock()
            .get(webhook_id)
            .is_some_and(|expires| *expires > now)
    }
}

const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

impl SeenStore for MemorySeenStore {
    fn first_sighting<'a>(&'a self, webhook_id: &'a str, ttl: Duration) -> SeenFuture<'a> {
        let first = self.record(webhook_id, ttl);
        Box::pin(async move { Ok(first) })
    }

    fn seen<'a>(&'a self, webhook_id: &'a str) -> SeenFuture<'a> {
        let seen = self.holds(webhook_id);
        Box::pin(async move { Ok(seen) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_id_is_new_once_until_it_expires() {
        let store = MemorySeenStore::new();
        let ttl = Duration::from_millis(40);
        assert_eq!(store.first_sighting("a", ttl).await, Ok(true));
        assert_eq!(store.first_sighting("a", ttl).await, Ok(false));
        assert_eq!(store.first_sighting("b", ttl).await, Ok(true));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(store.first_sighting("a", ttl).await, Ok(true));
    }

    #[tokio::test]
    async fn asking_whether_an_id_was_seen_records_nothing() {
        let store = MemorySeenStore::new();
        let ttl = Duration::from_millis(40);
        assert_eq!(store.seen("a").await, Ok(false));
        assert_eq!(store.seen("a").await, Ok(false), "asking did not record it");
        assert_eq!(store.first_sighting("a", ttl).await, Ok(true));
        assert_eq!(store.seen("a").await, Ok(true));
        assert_eq!(store.seen("b").await, Ok(false));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(store.seen("a").await, Ok(false), "expired");
    }

    #[tokio::test]
    async fn a_time_to_live_past_what_instant_holds_is_kept_not_a_panic() {
        let store = MemorySeenStore::new();
        assert_eq!(store.first_sighting("a", Duration::MAX).await, Ok(true));
        assert_eq!(store.seen("a").await, Ok(true));
        assert_eq!(store.first_sighting("a", Duration::MAX).await, Ok(false));
    }

    #[tokio::test]
    async fn expired_ids_are_swept_once_the_store_is_large() {
        let store = MemorySeenStore::new();
        for i in 0..SWEEP_AT {
            store.record(&i.to_string(), Duration::ZERO);
        }
        assert_eq!(store.len(), SWEEP_AT);
        assert_eq!(
            store.first_sighting("fresh", Duration::from_secs(60)).await,
            Ok(true)
        );
        assert_eq!(store.len(), 1, "the expired ids went");
    }
}
