//! Sessions in Redis, shared by every process of an app.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{Expected, StoreError, StoreFuture, TokenStore, Versioned};
use crate::auth::session::{Resource, Session, SessionKey};
use crate::redis::RedisOptions;

const STORE: &str = "redis";

/// Writes the session only when the stored version is the expected one ("" = absent), in
/// one atomic step; returns the new version or -1.
const PUT: &str = r"
local current = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '' then
  if current then return -1 end
elseif current ~= ARGV[1] then
  return -1
end
local next = (tonumber(current) or 0) + 1
redis.call('HSET', KEYS[1], 'version', next, 'session', ARGV[2])
return next
";

/// Deletes the lease only if `holder` holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Sessions in Redis: a hash per key (`version`, `session`) and a `SET NX PX` lease.
///
/// Keys are `<prefix>:<app>:<location|company>:<id>` (prefix `highlevel:oauth` unless told
/// otherwise), leases the same with `:lease` appended. The connection reconnects by itself.
/// Sessions hold tokens in clear: protect the Redis instance as you would the secrets.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    put: redis::Script,
    release: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection info may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::backend(STORE, e)
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host:port/db`, `rediss://` for TLS trusting
    /// the system's certificate authorities) with the default [`RedisOptions`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] (its source a
    /// [`RedisConnectError`](crate::redis::RedisConnectError)) when the URL is invalid,
    /// the TLS handshake fails or the server is unreachable.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// [`RedisStore::connect`] with other options: a private certificate authority for
    /// `rediss://` ([`RedisOptions::trust`]), other time bounds.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use highlevel_runtime::auth::RedisStore;
    /// use highlevel_runtime::redis::RedisOptions;
    /// use highlevel_runtime::tls::TrustedRoots;
    ///
    /// let ca = TrustedRoots::from_pem(std::fs::read("ca.pem")?)?;
    /// let options = RedisOptions::new().trust(ca);
    /// let store = RedisStore::connect_with("rediss://redis.internal:6380/0", options).await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] (its source a
    /// [`RedisConnectError`](crate::redis::RedisConnectError)) when the URL is invalid,
    /// the TLS handshake fails or the server is unreachable.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let connection = crate::redis::connect(url, &options)
            .await
            .map_err(|e| StoreError::backend(STORE, e))?;
        Ok(Self::with_connection(connection))
    }

    /// Uses an existing connection manager.
    pub fn with_connection(connection: ConnectionManager) -> Self {
        Self {
            connection,
            prefix: "highlevel:oauth".into(),
            put: redis::Script::new(PUT),
            release: redis::Script::new(RELEASE),
        }
    }

    /// Puts the keys under another prefix (several environments on one Redis).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn session_key(&self, key: &SessionKey) -> String {
        let (kind, id) = match &key.resource {
            Resource::Location(id) => ("location", id),
            Resource::Company(id) => ("company", id),
        };
        format!("{}:{}:{kind}:{id}", self.prefix, key.app)
    }
}

impl TokenStore for RedisStore {
    fn get<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<Versioned>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let (version, document): (Option<u64>, Option<String>) = redis::cmd("HMGET")
                .arg(self.session_key(key))
                .arg("version")
                .arg("session")
                .query_async(&mut connection)
                .await
                .map_err(backend)?;
            match (version, document) {
                (Some(version), Some(document)) => {
                    let session = Session::from_store_json(&document)
                        .map_err(|e| StoreError::corrupt(key, &e))?;
                    Ok(Some(Versioned { session, version }))
                }
                _ => Ok(None),
            }
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a SessionKey,
        session: &'a Session,
        expected: Expected,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let expected = match expected {
                Expected::Absent => String::new(),
                Expected::Version(v) => v.to_string(),
            };
            let written: i64 = self
                .put
                .key(self.session_key(key))
                .arg(expected)
                .arg(session.to_store_json())
                .invoke_async(&mut connection)
                .await
                .map_err(backend)?;
            u64::try_from(written).map_err(|_| StoreError::Conflict { key: key.clone() })
        })
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let session_key = self.session_key(key);
            redis::cmd("DEL")
                .arg(&session_key)
                .arg(format!("{session_key}:lease"))
                .query_async::<()>(&mut connection)
                .await
                .map_err(backend)
        })
    }

    fn try_lease<'a>(
        &'a self,
        key: &'a SessionKey,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let lease = format!("{}:lease", self.session_key(key));
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let set: Option<String> = redis::cmd("SET")
                .arg(&lease)
                .arg(holder)
                .arg("NX")
                .arg("PX")
                .arg(millis)
                .query_async(&mut connection)
                .await
                .map_err(backend)?;
            if set.is_some() {
                return Ok(true);
            }
            // Already ours (a retry within one holder) counts as held.
            let current: Option<String> = redis::cmd("GET")
                .arg(&lease)
                .query_async(&mut connection)
                .await
                .map_err(backend)?;
            Ok(current.as_deref() == Some(holder))
        })
    }

    fn release<'a>(&'a self, key: &'a SessionKey, holder: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            self.release
                .key(format!("{}:lease", self.session_key(key)))
                .arg(holder)
                .invoke_async::<i64>(&mut connection)
                .await
                .map(drop)
                .map_err(backend)
        })
    }
}
