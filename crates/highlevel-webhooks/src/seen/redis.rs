//! Seen ids in Redis: one `SET NX PX` per delivery.

use std::time::Duration;

use highlevel_runtime::redis::RedisOptions;
use redis::aio::ConnectionManager;

use super::{SeenFuture, SeenStore};

/// Seen ids in Redis, shared by every process of an app. Keys are
/// `<prefix>:<webhookId>` (prefix `highlevel:webhook` unless told otherwise) and expire with
/// the window.
#[derive(Clone)]
pub struct RedisSeenStore {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisSeenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSeenStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisSeenStore {
    /// Connects to `url` (`redis://…`, or `rediss://…` for TLS trusting the system's
    /// certificate authorities) with the default [`RedisOptions`].
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the TLS handshake fails or the server does not answer.
    pub async fn connect(url: &str) -> Result<Self, String> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// [`RedisSeenStore::connect`] with other options: a private certificate authority for
    /// `rediss://` ([`RedisOptions::trust`]), other time bounds.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the TLS handshake fails or the server does not answer.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, String> {
        Ok(Self {
            connection: crate::backend::redis(url, &options).await?,
            prefix: "highlevel:webhook".into(),
        })
    }

    /// Keys start with `prefix` instead of `highlevel:webhook`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl SeenStore for RedisSeenStore {
    fn first_sighting<'a>(&'a self, webhook_id: &'a str, ttl: Duration) -> SeenFuture<'a> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let set: Option<String> = redis::cmd("SET")
                .arg(format!("{}:{webhook_id}", self.prefix))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
                .query_async(&mut connection)
                .await
                .map_err(|e| format!("redis: {e}"))?;
            Ok(set.is_some())
        })
    }

    fn seen<'a>(&'a self, webhook_id: &'a str) -> SeenFuture<'a> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            // Keys expire with their record: one that exists is live.
            let exists: i64 = redis::cmd("EXISTS")
                .arg(format!("{}:{webhook_id}", self.prefix))
                .query_async(&mut connection)
                .await
                .map_err(|e| format!("redis: {e}"))?;
            Ok(exists > 0)
        })
    }
}
