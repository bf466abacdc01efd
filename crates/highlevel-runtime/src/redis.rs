//! Connections to Redis for the shared stores (tokens here, seen ids and pending installs in
//! `highlevel-webhooks`): one way to connect, with TLS and time bounds.
//!
//! `rediss://` URLs speak TLS (rustls on the provider of [`crate::tls`]) and trust the system's certificate
//! authorities, or only those of [`RedisOptions::trust`].
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use highlevel_runtime::redis::RedisOptions;
//! use highlevel_runtime::tls::TrustedRoots;
//!
//! let options = RedisOptions::new().trust(TrustedRoots::from_pem(std::fs::read("ca.pem")?)?);
//! let connection =
//!     highlevel_runtime::redis::connect("rediss://:password@redis.internal:6380/0", &options)
//!         .await?;
//! # let _ = connection;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::tls::TrustedRoots;

/// How long the server may take to answer a command by default (redis's own default).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long one connection attempt (TCP and TLS handshake) may take by default (redis's own
/// default).
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// How many times a failed connect (or reconnect) is tried again before the command waiting
/// on it fails. redis's default, 6, makes every command wait out 6–13 s of retries while the
/// server is down; with 2 it fails within about the connection timeout twice, and the next
/// command tries again.
const CONNECT_RETRIES: usize = 2;

/// How a Redis store connects: the certificate authorities a `rediss://` connection trusts
/// and the time bounds.
///
/// [`Debug`] prints no secret: the URL (which may hold a password) is not part of it, and
/// certificates are shown as a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    roots: Option<TrustedRoots>,
    response_timeout: Duration,
    connection_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            roots: None,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
        }
    }
}

impl RedisOptions {
    /// The system's certificate authorities, [`DEFAULT_RESPONSE_TIMEOUT`] and
    /// [`DEFAULT_CONNECTION_TIMEOUT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts only `roots` for `rediss://` (a private certificate authority). Connecting to a
    /// `redis://` URL with roots set fails with [`RedisConnectError::Config`]: the roots
    /// would be silently unused.
    #[must_use]
    pub fn trust(mut self, roots: TrustedRoots) -> Self {
        self.roots = Some(roots);
        self
    }

    /// How long the server may take to answer a command (at least 1 ms); past it the command
    /// fails and the connection is made again.
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long one connection attempt, TLS handshake included, may take (at least 1 ms).
    #[must_use]
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout.max(Duration::from_millis(1));
        self
    }
}

/// Why connecting to Redis failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisConnectError {
    /// The URL is invalid, or trusted roots were given for a URL that is not `rediss://`.
    Config(redis::RedisError),
    /// The TLS handshake failed: the server's certificate is not trusted (or not for this
    /// host), or the server does not speak TLS.
    Tls(redis::RedisError),
    /// The server was not reached in time or refused the connection.
    Connect(redis::RedisError),
}

impl RedisConnectError {
    /// The error from redis.
    pub fn redis_error(&self) -> &redis::RedisError {
        match self {
            Self::Config(e) | Self::Tls(e) | Self::Connect(e) => e,
        }
    }
}

// redis's errors name the host and port at most, never the password of the URL.
impl std::fmt::Display for RedisConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(e) => write!(f, "redis: invalid configuration: {e}"),
            Self::Tls(e) => write!(f, "redis: TLS handshake failed: {e}"),
            Self::Connect(e) => write!(f, "redis: cannot connect: {e}"),
        }
    }
}

impl std::error::Error for RedisConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.redis_error())
    }
}

/// Connects to `url` (`redis://[:password@]host:port/db`, `rediss://` for TLS) and returns a
/// connection that reconnects by itself, with the time bounds of `options`.
///
/// # Errors
///
/// [`RedisConnectError`]: an invalid URL, a failed TLS handshake, an unreachable server.
pub async fn connect(
    url: &str,
    options: &RedisOptions,
) -> Result<ConnectionManager, RedisConnectError> {
    let client = match &options.roots {
        None => redis::Client::open(url),
        Some(roots) => redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(roots.pem().to_vec()),
            },
        ),
    }
    .map_err(RedisConnectError::Config)?;
    if url.starts_with("rediss:") {
        // redis builds its TLS settings on rustls's process-wide provider.
        crate::tls::install_crypto_provider().map_err(|e| {
            RedisConnectError::Config(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "rediss://",
                e.to_string(),
            )))
        })?;
    }
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(options.response_timeout))
        .set_connection_timeout(Some(options.connection_timeout))
        .set_number_of_retries(CONNECT_RETRIES);
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|e| {
            if crate::tls::is_tls_failure(&e) {
                RedisConnectError::Tls(e)
            } else {
                RedisConnectError::Connect(e)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_redis_own_and_bounds_are_floored() {
        let options = RedisOptions::new();
        assert_eq!(options.response_timeout, Duration::from_millis(500));
        assert_eq!(options.connection_timeout, Duration::from_secs(1));
        let options = options
            .response_timeout(Duration::ZERO)
            .connection_timeout(Duration::ZERO);
        assert_eq!(options.response_timeout, Duration::from_millis(1));
        assert_eq!(options.connection_timeout, Duration::from_millis(1));
    }

    #[tokio::test]
    async fn roots_for_a_plain_url_are_refused() {
        let roots = TrustedRoots::unchecked_for_tests();
        let options = RedisOptions::new().trust(roots);
        let error = connect("redis://:hunter2@127.0.0.1:1/", &options)
            .await
            .expect_err("roots need rediss://");
        assert!(matches!(error, RedisConnectError::Config(_)), "{error:?}");
        assert!(!error.to_string().contains("hunter2"));
        assert!(!format!("{error:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn an_invalid_url_is_a_config_error() {
        let error = connect("http://nope", &RedisOptions::new())
            .await
            .expect_err("not a redis URL");
        assert!(matches!(error, RedisConnectError::Config(_)), "{error:?}");
    }
}
