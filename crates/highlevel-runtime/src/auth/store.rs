//! Where sessions live between calls and between processes.
//!
//! A [`TokenStore`] is keyed by [`SessionKey`] (app, resource) and offers two guards that
//! make one refresh per token hold across processes sharing the store:
//! - a compare-and-swap on a version: [`TokenStore::put`] only replaces the version the
//!   writer read, so a writer that raced another never overwrites newer tokens;
//! - a lease: [`TokenStore::try_lease`] lets one holder at a time call HighLevel's token
//!   endpoint for a key; the others wait for the new version to appear.
//!
//! Implementations: [`MemoryStore`] (the default), [`FileStore`], and behind features
//! `RedisStore` (`redis`) and `PostgresStore` (`postgres`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::session::{Session, SessionKey};

mod bounded;
mod file;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

pub(crate) use bounded::TimeBounded;
pub use file::FileStore;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// The future every store method returns (boxed so that stores can be trait objects).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A session as stored, with the version a compare-and-swap must name to replace it.
#[derive(Clone, Debug)]
pub struct Versioned {
    /// The session.
    pub session: Session,
    /// Its version: 1 when first written, one more at every replacement.
    pub version: u64,
}

/// What [`TokenStore::put`] may replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Only write when the key holds no session.
    Absent,
    /// Only write when the key holds this version.
    Version(u64),
}

/// Persistent storage of sessions with the guards that keep a refresh single across processes.
///
/// Implement it to keep sessions in your own database; `put` must be atomic with its
/// version check, and a lease must be held by at most one holder until it expires or is
/// released.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The session stored under `key`, if any.
    fn get<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<Versioned>>;

    /// Stores `session` under `key` if the key is as `expected`, returning the new version.
    /// [`StoreError::Conflict`] when it is not.
    fn put<'a>(
        &'a self,
        key: &'a SessionKey,
        session: &'a Session,
        expected: Expected,
    ) -> StoreFuture<'a, u64>;

    /// Removes `key`'s session (and any lease on it); removing nothing is not an error.
    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, ()>;

    /// Takes the refresh lease on `key` for `ttl` if nobody else holds it (or theirs expired);
    /// `true` when `holder` now holds it.
    fn try_lease<'a>(
        &'a self,
        key: &'a SessionKey,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    /// Gives the lease back if `holder` still holds it.
    fn release<'a>(&'a self, key: &'a SessionKey, holder: &'a str) -> StoreFuture<'a, ()>;
}

/// Why a store operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A compare-and-swap found another version (someone else wrote first).
    Conflict {
        /// The key written.
        key: SessionKey,
    },
    /// A stored document did not decode as a session.
    Corrupt {
        /// The key read.
        key: SessionKey,
        /// Why (never the document itself, which holds tokens).
        reason: String,
    },
    /// The store did not answer within the app's store timeout
    /// (`OAuthConfig::store_timeout`). A write that timed out may still land.
    Timeout {
        /// Which call: `get`, `put`, `delete`, `try_lease` or `release`.
        operation: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The storage backend failed (I/O, connection, query).
    Backend {
        /// Which store.
        store: &'static str,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    pub(crate) fn backend(
        store: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend {
            store,
            source: source.into(),
        }
    }

    pub(crate) fn corrupt(key: &SessionKey, error: &serde_json::Error) -> Self {
        Self::Corrupt {
            key: key.clone(),
            reason: format!("not a stored session: {error}"),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict { key } => write!(f, "token store: {key} was written by someone else"),
            Self::Corrupt { key, reason } => write!(f, "token store: {key}: {reason}"),
            Self::Timeout { operation, after } => {
                write!(
                    f,
                    "token store: {operation} did not answer within {after:?}"
                )
            }
            Self::Backend { store, source } => write!(f, "{store} token store: {source}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Backend { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
