//! Pending installs in Redis: one set of locations per agency.

use highlevel_runtime::redis::RedisOptions;
use redis::aio::ConnectionManager;

use super::{PendingFuture, PendingInstalls};

/// Pending installs in Redis (`<prefix>:<companyId>` sets, prefix `highlevel:pending-installs`
/// unless told otherwise), shared by the processes that receive webhooks and exchange codes.
#[derive(Clone)]
pub struct RedisPendingInstalls {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisPendingInstalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPendingInstalls")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisPendingInstalls {
    /// Connects to `url` (`redis://…`, or `rediss://…` for TLS trusting the system's
    /// certificate authorities) with the default [`RedisOptions`].
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the TLS handshake fails or the server does not answer.
    pub async fn connect(url: &str) -> Result<Self, String> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// [`RedisPendingInstalls::connect`] with other options: a private certificate authority for
    /// `rediss://` ([`RedisOptions::trust`]), other time bounds.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the TLS handshake fails or the server does not answer.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, String> {
        Ok(Self {
            connection: crate::backend::redis(url, &options).await?,
            prefix: "highlevel:pending-installs".into(),
        })
    }

    /// Keys start with `prefix` instead of `highlevel:pending-installs`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, company: &str) -> String {
        format!("{}:{company}", self.prefix)
    }

    /// `SADD` or `SREM` of `location` in `company`'s set.
    fn member<'a>(
        &'a self,
        command: &'static str,
        company: &'a str,
        location: &'a str,
    ) -> PendingFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            redis::cmd(command)
                .arg(self.key(company))
                .arg(location)
                .query_async::<i64>(&mut connection)
                .await
                .map(|_| ())
                .map_err(|e| format!("redis: {e}"))
        })
    }
}

impl PendingInstalls for RedisPendingInstalls {
    fn add<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        self.member("SADD", company, location)
    }

    fn list<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let mut locations: Vec<String> = redis::cmd("SMEMBERS")
                .arg(self.key(company))
                .query_async(&mut connection)
                .await
                .map_err(|e| format!("redis: {e}"))?;
            // A set has no order; a sorted answer makes completions reproducible.
            locations.sort_unstable();
            Ok(locations)
        })
    }

    fn take_all<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            // Read and delete in one transaction: two processes never both take a location.
            let (locations, _): (Vec<String>, i64) = redis::pipe()
                .atomic()
                .cmd("SMEMBERS")
                .arg(self.key(company))
                .cmd("DEL")
                .arg(self.key(company))
                .query_async(&mut connection)
                .await
                .map_err(|e| format!("redis: {e}"))?;
            Ok(locations)
        })
    }

    fn remove<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        self.member("SREM", company, location)
    }
}
