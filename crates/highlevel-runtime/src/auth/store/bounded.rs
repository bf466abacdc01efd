//! Every store call an app makes, bounded in time. A store that hangs (a stalled network, a
//! row locked elsewhere, a custom store without timeouts of its own) would otherwise hold the
//! resource's refresh lock, and every caller queued behind it, for as long as it hangs.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{Expected, StoreError, StoreFuture, TokenStore, Versioned};
use crate::auth::session::{Session, SessionKey};

/// A store whose every call fails with [`StoreError::Timeout`] once it has taken `after`.
/// A write that timed out may still land later; the lifecycle treats it as not written
/// (its tokens are kept in memory), and the version check sorts out which write stands.
pub(crate) struct TimeBounded {
    inner: Arc<dyn TokenStore>,
    after: Duration,
}

impl TimeBounded {
    pub(crate) fn new(inner: Arc<dyn TokenStore>, after: Duration) -> Self {
        Self { inner, after }
    }

    fn bound<'a, T: Send + 'a>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let after = self.after;
        Box::pin(async move {
            tokio::time::timeout(after, call)
                .await
                .unwrap_or(Err(StoreError::Timeout { operation, after }))
        })
    }
}

// The bound is the SDK's, not the user's store: show theirs.
impl fmt::Debug for TimeBounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl TokenStore for TimeBounded {
    fn get<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<Versioned>> {
        self.bound("get", self.inner.get(key))
    }

    fn put<'a>(
        &'a self,
        key: &'a SessionKey,
        session: &'a Session,
        expected: Expected,
    ) -> StoreFuture<'a, u64> {
        self.bound("put", self.inner.put(key, session, expected))
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, ()> {
        self.bound("delete", self.inner.delete(key))
    }

    fn try_lease<'a>(
        &'a self,
        key: &'a SessionKey,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        self.bound("try_lease", self.inner.try_lease(key, holder, ttl))
    }

    fn release<'a>(&'a self, key: &'a SessionKey, holder: &'a str) -> StoreFuture<'a, ()> {
        self.bound("release", self.inner.release(key, holder))
    }
}
