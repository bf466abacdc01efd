//! The default store: sessions in this process's memory.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{Expected, StoreError, StoreFuture, TokenStore, Versioned};
use crate::auth::session::{Session, SessionKey};

/// Sessions in memory: shared by every handle of this process, lost when it exits.
///
/// Right for tests, scripts and single-process services that can have their installs
/// re-authorized after a restart; use [`super::FileStore`] or a database store otherwise.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<SessionKey, Versioned>,
    leases: HashMap<SessionKey, (String, Instant)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every app and resource with a session, for listing installs.
    pub fn keys(&self) -> Vec<SessionKey> {
        let mut keys: Vec<_> = self.lock().sessions.keys().cloned().collect();
        keys.sort();
        keys
    }

    // Every update is a single map operation, so a panic elsewhere cannot leave it torn.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<Versioned>> {
        let found = self.lock().sessions.get(key).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn put<'a>(
        &'a self,
        key: &'a SessionKey,
        session: &'a Session,
        expected: Expected,
    ) -> StoreFuture<'a, u64> {
        let result = {
            let mut inner = self.lock();
            let current = inner.sessions.get(key).map(|v| v.version);
            match (expected, current) {
                (Expected::Absent, None) => Ok(1),
                (Expected::Version(v), Some(c)) if v == c => Ok(c + 1),
                _ => Err(StoreError::Conflict { key: key.clone() }),
            }
            .inspect(|&version| {
                inner.sessions.insert(
                    key.clone(),
                    Versioned {
                        session: session.clone(),
                        version,
                    },
                );
            })
        };
        Box::pin(async move { result })
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, ()> {
        {
            let mut inner = self.lock();
            inner.sessions.remove(key);
            inner.leases.remove(key);
        }
        Box::pin(async { Ok(()) })
    }

    fn try_lease<'a>(
        &'a self,
        key: &'a SessionKey,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let taken = {
            let mut inner = self.lock();
            let now = Instant::now();
            let free = inner
                .leases
                .get(key)
                .is_none_or(|(who, until)| *until <= now || who == holder);
            if free {
                let until = crate::saturating::instant_after(now.into(), ttl).into_std();
                inner.leases.insert(key.clone(), (holder.to_owned(), until));
            }
            free
        };
        Box::pin(async move { Ok(taken) })
    }

    fn release<'a>(&'a self, key: &'a SessionKey, holder: &'a str) -> StoreFuture<'a, ()> {
        {
            let mut inner = self.lock();
            if inner.leases.get(key).is_some_and(|(who, _)| who == holder) {
                inner.leases.remove(key);
            }
        }
        Box::pin(async { Ok(()) })
    }
}
