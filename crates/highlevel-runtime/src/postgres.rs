//! A PostgreSQL connection that comes back after the server drops it, with every statement
//! bounded in time: what the PostgreSQL stores (tokens here, seen ids and pending installs
//! in `highlevel-webhooks`) are built on.
//!
//! # TLS
//!
//! The connection string's `sslmode` and [`PostgresOptions::tls`] decide:
//!
//! | `sslmode`            | no TLS setting                 | with [`PostgresTls`]            |
//! |----------------------|--------------------------------|---------------------------------|
//! | `disable`            | plain                          | plain                           |
//! | `prefer` (default)   | plain                          | TLS if the server offers it     |
//! | `require`            | TLS, the system's authorities  | TLS, as set                     |
//!
//! TLS is rustls on the provider of [`crate::tls`]; the server's certificate is checked against the authorities
//! and the host name (or IP address) connected to.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use highlevel_runtime::postgres::{PostgresOptions, PostgresTls};
//! use highlevel_runtime::tls::TrustedRoots;
//!
//! let ca = TrustedRoots::from_pem(std::fs::read("ca.pem")?)?;
//! let options = PostgresOptions::new().tls(PostgresTls::Trust(ca));
//! # let _ = options;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::{TlsError, TrustedRoots};

/// How long a statement may run by default.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting (and creating the tables) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The first wait after a failed reconnect; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// A down database is tried at most this rarely by each store.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The client-side bound is the server's plus this, so that the server's cancellation (which
/// leaves the connection usable) normally comes first; the client's catches a dead network.
const CLIENT_MARGIN: Duration = Duration::from_millis(500);

/// Time bounds and TLS of a PostgreSQL store.
///
/// [`Debug`] prints no secret: the connection string (which may hold a password) is not part
/// of it, and certificates are shown as a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresOptions {
    statement_timeout: Duration,
    connect_timeout: Duration,
    tls: Option<PostgresTls>,
}

/// Which certificate authorities a TLS connection to PostgreSQL trusts (see the
/// [module](self) for when TLS is used).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostgresTls {
    /// The system's certificate authorities (read with `rustls-native-certs`).
    SystemRoots,
    /// Only these authorities (a private certificate authority).
    Trust(TrustedRoots),
}

/// How one connection is made, decided by `sslmode` and the TLS setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsChoice {
    /// No TLS.
    Plain,
    /// TLS as set in [`PostgresOptions::tls`] (tokio-postgres then follows `sslmode`).
    Configured,
    /// `sslmode=require` without a setting: the system's authorities.
    SystemRoots,
}

fn choose(mode: SslMode, configured: bool) -> TlsChoice {
    match (mode, configured) {
        (SslMode::Disable, _) => TlsChoice::Plain,
        (_, true) => TlsChoice::Configured,
        (SslMode::Require, false) => TlsChoice::SystemRoots,
        // `prefer` without a setting stays plain, as it always was.
        (_, false) => TlsChoice::Plain,
    }
}

/// A connector for each connection, built once.
#[derive(Clone)]
enum Connector {
    Plain,
    Tls(MakeRustlsConnect),
}

impl Connector {
    fn new(mode: SslMode, tls: Option<&PostgresTls>) -> Result<Self, TlsError> {
        let roots = match (choose(mode, tls.is_some()), tls) {
            (TlsChoice::Plain, _) => return Ok(Self::Plain),
            (TlsChoice::Configured, Some(PostgresTls::Trust(roots))) => roots.root_store()?,
            (TlsChoice::Configured | TlsChoice::SystemRoots, _) => crate::tls::system_roots(),
        };
        Ok(Self::Tls(MakeRustlsConnect::new(
            crate::tls::client_config(roots)?,
        )))
    }
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: None,
        }
    }
}

impl PostgresOptions {
    /// [`DEFAULT_STATEMENT_TIMEOUT`] and [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// How long one statement may run (at least 1 ms). The server cancels it then
    /// (`statement_timeout`), and the client gives up shortly after if the server does not
    /// answer; either way the call fails with [`PostgresError::Timeout`].
    #[must_use]
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long connecting, including creating the tables, may take (at least 1 ms).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Speaks TLS trusting `tls`: with `sslmode=prefer` (the default) when the server offers
    /// it, always with `sslmode=require`; never with `sslmode=disable`. Without this,
    /// `sslmode=require` trusts the system's authorities and `prefer` stays plain.
    #[must_use]
    pub fn tls(mut self, tls: PostgresTls) -> Self {
        self.tls = Some(tls);
        self
    }

    fn client_bound(&self) -> Duration {
        self.statement_timeout.saturating_add(CLIENT_MARGIN)
    }
}

/// Why a PostgreSQL call failed. [`PostgresError::is_transient`] says whether the next call
/// may succeed without anything changing on this side.
#[derive(Debug)]
#[non_exhaustive]
pub enum PostgresError {
    /// The statement ran past the statement timeout and was cancelled.
    Timeout {
        /// The timeout it ran past.
        after: Duration,
    },
    /// Connecting (or creating the tables) took longer than the connect timeout.
    ConnectTimeout {
        /// The timeout.
        after: Duration,
    },
    /// The connection was lost; the next call reconnects.
    ConnectionLost(tokio_postgres::Error),
    /// The server could not be reached (connection refused or reset), or it is starting up
    /// or shutting down: a database down or restarting. The next call tries again.
    Unreachable(tokio_postgres::Error),
    /// The last reconnect failed and the next is not due yet, so the database is not
    /// hammered while it is down.
    Unavailable {
        /// When the next reconnect may be tried.
        retry_in: Duration,
    },
    /// The connection string is invalid.
    Config(tokio_postgres::Error),
    /// The store was built on a connected client, which it cannot reconnect.
    Closed,
    /// The server refused the statement or the connection.
    Backend(tokio_postgres::Error),
    /// The TLS setting cannot be used (see [`TlsError`]).
    TlsConfig(TlsError),
    /// The TLS handshake failed: the server's certificate is not trusted or not for this
    /// host. Not transient: the setting or the certificate must change.
    TlsHandshake(tokio_postgres::Error),
}

impl PostgresError {
    /// Whether a later call may succeed: a timeout, a lost connection, a server down or
    /// restarting, a reconnect not due.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::ConnectTimeout { .. }
                | Self::ConnectionLost(_)
                | Self::Unreachable(_)
                | Self::Unavailable { .. }
        )
    }

    /// Whether the statement or the connect timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::ConnectTimeout { .. })
    }

    fn from_statement(error: tokio_postgres::Error, after: Duration) -> Self {
        if error.code() == Some(&SqlState::QUERY_CANCELED) {
            Self::Timeout { after }
        } else if error.is_closed() || error.code() == Some(&SqlState::ADMIN_SHUTDOWN) {
            Self::ConnectionLost(error)
        } else {
            Self::Backend(error)
        }
    }
}

// tokio-postgres's errors name the server's message, never the connection string.
impl std::fmt::Display for PostgresError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout { after } => write!(f, "postgres: statement timed out after {after:?}"),
            Self::ConnectTimeout { after } => {
                write!(f, "postgres: connect timed out after {after:?}")
            }
            Self::ConnectionLost(e) => write!(
                f,
                "postgres: connection lost ({e}); the next call reconnects"
            ),
            Self::Unreachable(e) => write!(
                f,
                "postgres: server unreachable ({e}); the next call tries again"
            ),
            Self::Unavailable { retry_in } => write!(
                f,
                "postgres: unavailable (reconnect failed; next try in {retry_in:?})"
            ),
            Self::Config(e) => write!(f, "postgres: invalid connection string: {e}"),
            Self::Closed => write!(
                f,
                "postgres: connection closed (a store built on a client cannot reconnect)"
            ),
            Self::Backend(e) => write!(f, "postgres: {e}"),
            Self::TlsConfig(e) => write!(f, "postgres: {e}"),
            Self::TlsHandshake(e) => write!(f, "postgres: TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for PostgresError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::ConnectionLost(e)
            | Self::Unreachable(e)
            | Self::Config(e)
            | Self::Backend(e)
            | Self::TlsHandshake(e) => Some(e),
            Self::TlsConfig(e) => Some(e),
            _ => None,
        }
    }
}

struct State {
    client: Option<Arc<Client>>,
    /// Set after a failed reconnect: none is tried before it.
    next_attempt: Option<Instant>,
    backoff: Duration,
}

/// One connection to PostgreSQL, made again lazily when the server drops it. The schema is run
/// (in one transaction) on every new connection, with the statement timeout set for the
/// session. Clones share the connection.
#[derive(Clone)]
pub struct Reconnecting {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` for a client handed in, which cannot be made again.
    config: Option<Config>,
    connector: Connector,
    schema: &'static str,
    what: &'static str,
    options: PostgresOptions,
    // An async lock: a reconnect is in flight at most once, the other calls wait for it.
    state: Mutex<State>,
}

// The config holds the password.
impl std::fmt::Debug for Reconnecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconnecting")
            .field("store", &self.inner.what)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Reconnecting {
    /// Connects with a libpq-style `config` and runs `schema` (statements without
    /// `BEGIN`/`COMMIT`; they run in one transaction). `what` names the store in logs. TLS
    /// follows `sslmode` and [`PostgresOptions::tls`] (see the [module](self)).
    ///
    /// # Errors
    ///
    /// When the string or the TLS setting is invalid, the TLS handshake fails, the server
    /// does not answer in time or the schema fails.
    pub async fn connect(
        config: &str,
        schema: &'static str,
        what: &'static str,
        options: PostgresOptions,
    ) -> Result<Self, PostgresError> {
        let mut config: Config = config.parse().map_err(PostgresError::Config)?;
        config.connect_timeout(options.connect_timeout);
        let connector = Connector::new(config.get_ssl_mode(), options.tls.as_ref())
            .map_err(PostgresError::TlsConfig)?;
        let inner = Inner {
            config: Some(config),
            connector,
            schema,
            what,
            options,
            state: Mutex::new(State {
                client: None,
                next_attempt: None,
                backoff: FIRST_BACKOFF,
            }),
        };
        let client = inner.open().await?;
        inner.state.lock().await.client = Some(client);
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Uses a connected client (its connection task already spawned) and runs `schema` on
    /// it. It is not made again once closed: every later call fails with
    /// [`PostgresError::Closed`].
    ///
    /// # Errors
    ///
    /// When the schema fails or takes longer than the connect timeout.
    pub async fn with_client(
        client: Client,
        schema: &'static str,
        what: &'static str,
        options: PostgresOptions,
    ) -> Result<Self, PostgresError> {
        prepare(&client, schema, &options).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                config: None,
                connector: Connector::Plain,
                schema,
                what,
                options,
                state: Mutex::new(State {
                    client: Some(Arc::new(client)),
                    next_attempt: None,
                    backoff: FIRST_BACKOFF,
                }),
            }),
        })
    }

    /// Runs `call` on the connection (reconnecting first when it was closed), bounded by the
    /// statement timeout. A call that times out on the client side drops the connection, as
    /// it may still be busy with the statement; the next call makes a new one.
    ///
    /// # Errors
    ///
    /// [`PostgresError`]: a timeout, a lost connection, a failed reconnect, the server's
    /// refusal.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, PostgresError>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let client = self.client().await?;
        let after = self.inner.options.statement_timeout;
        match tokio::time::timeout(self.inner.options.client_bound(), call(client.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                let error = PostgresError::from_statement(e, after);
                if matches!(error, PostgresError::ConnectionLost(_)) {
                    self.discard(&client).await;
                }
                Err(error)
            }
            Err(_) => {
                tracing::warn!(
                    store = self.inner.what,
                    "postgres: statement timed out; reconnecting"
                );
                self.discard(&client).await;
                Err(PostgresError::Timeout { after })
            }
        }
    }

    async fn client(&self) -> Result<Arc<Client>, PostgresError> {
        let mut state = self.inner.state.lock().await;
        if let Some(client) = &state.client {
            if !client.is_closed() {
                return Ok(client.clone());
            }
            state.client = None;
        }
        if self.inner.config.is_none() {
            return Err(PostgresError::Closed);
        }
        let now = Instant::now();
        if let Some(next) = state.next_attempt
            && next > now
        {
            return Err(PostgresError::Unavailable {
                retry_in: next - now,
            });
        }
        match self.inner.open().await {
            Ok(client) => {
                tracing::info!(store = self.inner.what, "postgres: reconnected");
                state.client = Some(client.clone());
                state.next_attempt = None;
                state.backoff = FIRST_BACKOFF;
                Ok(client)
            }
            Err(e) => {
                tracing::warn!(store = self.inner.what, error = %e, "postgres: reconnect failed");
                state.next_attempt = Some(Instant::now() + state.backoff);
                state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
                Err(e)
            }
        }
    }

    async fn discard(&self, client: &Arc<Client>) {
        let mut state = self.inner.state.lock().await;
        if state
            .client
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, client))
        {
            state.client = None;
        }
    }
}

impl Inner {
    async fn open(&self) -> Result<Arc<Client>, PostgresError> {
        let Some(config) = &self.config else {
            return Err(PostgresError::Closed);
        };
        let after = self.options.connect_timeout;
        let what = self.what;
        let connect = async {
            let client = match &self.connector {
                Connector::Plain => {
                    let (client, connection) =
                        config.connect(NoTls).await.map_err(connect_error)?;
                    spawn(connection, what);
                    client
                }
                Connector::Tls(tls) => {
                    let (client, connection) =
                        config.connect(tls.clone()).await.map_err(connect_error)?;
                    spawn(connection, what);
                    client
                }
            };
            prepare(&client, self.schema, &self.options).await?;
            Ok(Arc::new(client))
        };
        tokio::time::timeout(after, connect)
            .await
            .unwrap_or(Err(PostgresError::ConnectTimeout { after }))
    }
}

fn connect_error(e: tokio_postgres::Error) -> PostgresError {
    if crate::tls::is_tls_failure(&e) {
        PostgresError::TlsHandshake(e)
    } else if e.is_closed() {
        PostgresError::ConnectionLost(e)
    } else if not_reached(&e) {
        PostgresError::Unreachable(e)
    } else {
        PostgresError::Backend(e)
    }
}

/// A connect error that says nothing about this side's settings: the socket failed (refused,
/// reset; no SQL state), or the server is starting up or shutting down.
fn not_reached(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => [SqlState::CANNOT_CONNECT_NOW, SqlState::ADMIN_SHUTDOWN].contains(code),
        None => {
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                if cause.is::<std::io::Error>() {
                    return true;
                }
                source = cause.source();
            }
            false
        }
    }
}

/// Drives a connection until it ends.
fn spawn<C>(connection: C, what: &'static str)
where
    C: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, store = what, "postgres: connection ended");
        }
    });
}

/// Sets the session's statement timeout and runs the schema, bounded by the connect timeout.
async fn prepare(
    client: &Client,
    schema: &str,
    options: &PostgresOptions,
) -> Result<(), PostgresError> {
    let millis = options.statement_timeout.as_millis().max(1);
    let batch = format!("SET statement_timeout = {millis}; BEGIN; {schema}; COMMIT;");
    let after = options.connect_timeout;
    match tokio::time::timeout(after, client.batch_execute(&batch)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(PostgresError::from_statement(e, options.statement_timeout)),
        Err(_) => Err(PostgresError::ConnectTimeout { after }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_setting_decide_tls() {
        assert_eq!(choose(SslMode::Disable, false), TlsChoice::Plain);
        assert_eq!(choose(SslMode::Disable, true), TlsChoice::Plain);
        assert_eq!(choose(SslMode::Prefer, false), TlsChoice::Plain);
        assert_eq!(choose(SslMode::Prefer, true), TlsChoice::Configured);
        assert_eq!(choose(SslMode::Require, false), TlsChoice::SystemRoots);
        assert_eq!(choose(SslMode::Require, true), TlsChoice::Configured);
    }

    #[test]
    fn connection_strings_choose_their_connector() {
        let mode = |s: &str| s.parse::<Config>().expect("config").get_ssl_mode();
        assert!(matches!(
            Connector::new(mode("host=db user=u"), None),
            Ok(Connector::Plain)
        ));
        assert!(matches!(
            Connector::new(mode("postgres://u@db/x?sslmode=require"), None),
            Ok(Connector::Tls(_))
        ));
        assert!(matches!(
            Connector::new(
                mode("postgres://u@db/x?sslmode=disable"),
                Some(&PostgresTls::SystemRoots)
            ),
            Ok(Connector::Plain)
        ));
        assert!(matches!(
            Connector::new(mode("postgres://u@db/x"), Some(&PostgresTls::SystemRoots)),
            Ok(Connector::Tls(_))
        ));
    }

    #[test]
    fn debug_shows_the_setting_not_certificate_bytes() {
        let options =
            PostgresOptions::new().tls(PostgresTls::Trust(TrustedRoots::unchecked_for_tests()));
        let printed = format!("{options:?}");
        assert!(
            printed.contains("Trust(TrustedRoots { certificates: 0 })"),
            "{printed}"
        );
    }

    /// A database that is down (nothing listens on the port) is a transient failure, both
    /// when the store is made and when it reconnects: the next call may find it back.
    #[tokio::test]
    async fn a_server_that_is_down_is_transient() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = format!("host=127.0.0.1 port={closed} user=u dbname=d");
        let error = Reconnecting::connect(&config, "SELECT 1", "test", PostgresOptions::new())
            .await
            .expect_err("nothing listens");
        assert!(matches!(error, PostgresError::Unreachable(_)), "{error:?}");
        assert!(error.is_transient());
    }
}
