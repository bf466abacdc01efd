//! Rust SDK for the HighLevel (GoHighLevel) API.
//!
//! Every v2 module of the official OpenAPI specs is a generated crate behind a cargo feature of
//! this facade (`contacts`, `calendars`, `ad-manager`, … or `full`). One [`HighLevel`] handle
//! holds the credentials and one connection pool; each enabled module has an accessor returning
//! its typed client:
//!
//! ```no_run
//! # #[cfg(feature = "contacts")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let hl = highlevel::HighLevel::builder()
//!     .private_integration_token(std::env::var("HIGHLEVEL_TOKEN")?)
//!     .build()?;
//! let contact = hl
//!     .contacts()
//!     .get_contact()
//!     .contact_id("ocQHyuzHvysMo5N5VsXc")
//!     .send()
//!     .await?;
//! println!("{:?}", contact.into_inner());
//! # Ok(())
//! # }
//! ```
//!
//! A marketplace app authenticates with its client id and secret instead, and calls as one
//! of its installed locations or agencies; the SDK stores, refreshes and mints the tokens (see
//! [`auth`] and the README):
//!
//! ```no_run
//! # #[cfg(feature = "contacts")]
//! # async fn example(callback_url: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use highlevel::auth::{FileStore, OAuthConfig};
//! use highlevel::{HighLevel, Scope};
//!
//! let hl = HighLevel::builder()
//!     .oauth_app(
//!         OAuthConfig::new("app123-clientsuffix", std::env::var("HL_CLIENT_SECRET")?)
//!             .store(FileStore::new("/var/lib/myapp/highlevel-sessions")),
//!     )
//!     .build()?;
//! let app = hl.oauth_app().expect("an OAuth handle");
//! let request = app
//!     .authorize("https://myapp.example/oauth/callback")
//!     .scopes([Scope::ContactsReadonly, Scope::ContactsWrite])
//!     .build()?;
//! // Redirect the admin to `request.url`; keep `request.pending` until the callback.
//! let installed = app.complete_authorization(callback_url, &request.pending).await?;
//! let location = "ve9EPM428h8vShlRW1KT";
//! let contact = hl
//!     .location(location)
//!     .contacts()
//!     .get_contact()
//!     .contact_id("JUTFTny8EXQOSB5NcvAA")
//!     .send()
//!     .await?;
//! # let _ = (installed, contact);
//! # Ok(())
//! # }
//! ```
//!
//! Calls wait for their resource's rate-limit budget (HighLevel's 100 requests per 10 s
//! and 200,000 per day per location or company, corrected live by its headers) instead of
//! collecting 429s, and failed attempts are retried by [`RetryConfig`]: 429 after the wait
//! HighLevel names, 408/5xx/timeouts with jittered backoff for idempotent methods. A spent
//! daily quota fails at once with [`RateLimitError::DailyQuotaExhausted`].
//!
//! Every paginated list operation (57 of the 82 in the specs; see [`pagination`]) has
//! `.stream()` (items) and `.pages()` (whole pages) on its builder, lazy `Stream`s that page
//! through the runtime and stop with [`Error::Pagination`] instead of looping:
//!
//! ```no_run
//! # #[cfg(feature = "conversations")]
//! # async fn example(hl: highlevel::HighLevel) -> Result<(), highlevel::Error> {
//! use futures_util::TryStreamExt as _;
//!
//! let conversations = hl.conversations();
//! let mut stream = conversations
//!     .search_conversation()
//!     .location_id("ve9EPM428h8vShlRW1KT")
//!     .stream();
//! while let Some(conversation) = stream.try_next().await? {
//!     println!("{:?}", conversation.last_message_body);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Each call sends the operation's own `Version` header and `Authorization: Bearer …`,
//! decodes responses leniently (an enum value the spec lacks lands in `Unrecognized(String)`,
//! a missing field is `None`) and fails with [`Error`]: an API answer with status, message,
//! `traceId`, headers and raw body; a decode failure with the JSON path; or a transport error,
//! each naming the operation.
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;

use highlevel_runtime::auth::{OAuthApp, OAuthConfig};
use highlevel_runtime::{Credentials, Runtime};
use secrecy::{ExposeSecret, SecretString};

mod modules;

#[doc(inline)]
pub use modules::*;

/// Re-exported so callers can name the runtime and build generated clients by hand.
pub use highlevel_runtime as runtime;
pub use highlevel_runtime::auth;
pub use highlevel_runtime::{
    ApiError, ApiErrorBody, AuthError, DecodeError, Error, ErrorMessage, OperationMeta,
    RateLimitConfig, RateLimitError, RateLimitStatus, RetryConfig, Scope, ScopeAccess,
    SecurityScheme,
};
/// Re-exported: sessions hold their tokens as `secrecy::SecretString`.
pub use secrecy;

/// Webhook deliveries: signature verification over the raw body (Ed25519 `x-ghl-signature`,
/// legacy RSA `x-wh-signature` with HighLevel's key bundled), replay protection, typed events
/// (feature `webhooks`).
#[cfg(feature = "webhooks")]
pub use highlevel_webhooks as webhooks;

/// Lazy streams over paginated list operations: `.stream()` and `.pages()` on a list
/// operation's builder.
///
/// ```no_run
/// # #[cfg(feature = "invoices")]
/// # async fn example(hl: highlevel::HighLevel) -> Result<(), highlevel::Error> {
/// use futures_util::TryStreamExt as _;
///
/// let invoices = hl.invoices();
/// let pages = invoices
///     .list_invoices()
///     .alt_id("ve9EPM428h8vShlRW1KT")
///     .alt_type("location")
///     .pages()
///     .page_size(50)
///     .prefetch(1);
/// let all: Vec<_> = pages.try_collect().await?;
/// # let _ = all;
/// # Ok(())
/// # }
/// ```
///
/// A stream sends one request at a time (`.prefetch(n)` keeps up to `n` more in flight for
/// offset and page-number lists), each through the runtime, so authentication, rate limits
/// and retries apply per page; a failed page ends the stream with that error after the items
/// before it. It asks for the operation's largest page unless `.page_size(n)` or the builder's
/// own `limit` / `pageSize` says otherwise (capped at the maximum), starts where the builder's
/// `offset`, `skip`, `page` or cursor says, and ends on an empty page, a page shorter than
/// asked for, no next cursor, `hasMore: false`, or the advertised total reached.
///
/// A server that repeats a cursor this stream already sent, or serves the previous page's
/// items again, ends it with [`Error::Pagination`]
/// ([`PaginationError`](highlevel_runtime::pagination::PaginationError)) instead of looping.
/// When the list changes while it is read, offset and page-number streams can yield an item
/// twice (an insertion before the position) or skip one (a deletion); cursor streams move by
/// the last item seen and do neither, but miss items inserted before it.
///
#[doc = include_str!("../PAGINATION.md")]
pub mod pagination {
    pub use highlevel_runtime::pagination::*;
}

/// Where HighLevel serves its v2 API.
pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";

/// A handle on the HighLevel API: credentials, base URL and one shared connection pool.
///
/// Cheap to clone; module accessors (`hl.contacts()`, …) build clients that share the pool.
#[derive(Clone)]
pub struct HighLevel {
    base_url: String,
    http: reqwest::Client,
    runtime: Runtime,
}

impl fmt::Debug for HighLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HighLevel")
            .field("base_url", &self.base_url)
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

impl HighLevel {
    /// Starts configuring a handle; credentials are required, everything else has defaults.
    pub fn builder() -> HighLevelBuilder {
        HighLevelBuilder::default()
    }

    /// The base URL every request goes to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The connection pool shared by every module client.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// The runtime every generated client sends its requests through.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// A handle whose calls act for one location (sub-account).
    ///
    /// With an OAuth app, calls use the location's stored session; a location without one
    /// gets a token minted from its agency's (this handle's agency, or the app's default
    /// company), stored and refreshed like any other. Operations that only take an agency
    /// token use the agency's session. With a static token the scope changes nothing.
    pub fn location(&self, location_id: &str) -> HighLevel {
        HighLevel {
            runtime: self.runtime.for_location(location_id),
            ..self.clone()
        }
    }

    /// A handle whose calls act for one agency (company); `.location(id)` on it scopes
    /// further to one of its locations, whose token is minted from the agency's when needed.
    pub fn agency(&self, company_id: &str) -> HighLevel {
        HighLevel {
            runtime: self.runtime.for_agency(company_id),
            ..self.clone()
        }
    }

    /// The OAuth app (install flow, sessions, agency→location minting), when the handle
    /// was built with one.
    pub fn oauth_app(&self) -> Option<&OAuthApp> {
        self.runtime.oauth_app()
    }

    /// A handle whose calls follow another retry policy; everything else (credentials,
    /// scope, rate-limit budgets, connection pool) is shared. Cheap, so it can be made for a
    /// single call:
    ///
    /// ```no_run
    /// # #[cfg(feature = "contacts")]
    /// # async fn example(hl: &highlevel::HighLevel) -> Result<(), highlevel::Error> {
    /// use highlevel::RetryConfig;
    /// // An upsert (matched on email or phone): sending it twice does no harm.
    /// hl.with_retry(RetryConfig::new().retry_non_idempotent(true))
    ///     .contacts()
    ///     .upsert_contact()
    ///     .send()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_retry(&self, retry: RetryConfig) -> HighLevel {
        HighLevel {
            runtime: self.runtime.with_retry(retry),
            ..self.clone()
        }
    }

    /// The same handle with another cap on response bodies, for one call (or a group of
    /// calls) whose answers are expected to be larger; see
    /// [`HighLevelBuilder::max_response_bytes`].
    pub fn with_max_response_bytes(&self, bytes: usize) -> HighLevel {
        HighLevel {
            runtime: self.runtime.with_max_response_bytes(bytes),
            ..self.clone()
        }
    }

    /// The latest known rate-limit budget of every resource this handle (and its clones and
    /// scoped handles) has called, from HighLevel's `X-RateLimit-*` headers and the requests
    /// sent since.
    pub fn rate_limits(&self) -> Vec<RateLimitStatus> {
        self.runtime.rate_limits()
    }

    /// The latest known budget of one resource: `location:<id>`, `company:<id>`, or `token`
    /// when the handle uses a private integration or static access token.
    pub fn rate_limit(&self, resource: &str) -> Option<RateLimitStatus> {
        self.runtime.rate_limit(resource)
    }
}

/// Configures a [`HighLevel`] handle.
#[derive(Default)]
pub struct HighLevelBuilder {
    credentials: Option<Credentials>,
    oauth: Option<OAuthConfig>,
    base_url: Option<String>,
    http: Option<reqwest::Client>,
    oauth_http: Option<reqwest::Client>,
    rate_limit: RateLimitConfig,
    retry: RetryConfig,
    max_response_bytes: Option<usize>,
}

impl fmt::Debug for HighLevelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HighLevelBuilder")
            .field("credentials", &self.credentials)
            .field("oauth", &self.oauth)
            .field("base_url", &self.base_url)
            .field("custom_http_client", &self.http.is_some())
            .field("custom_oauth_http_client", &self.oauth_http.is_some())
            .field("max_response_bytes", &self.max_response_bytes)
            .field("rate_limit", &self.rate_limit)
            .field("retry", &self.retry)
            .finish()
    }
}

impl HighLevelBuilder {
    /// Authenticates with a private integration token (sub-account or agency settings →
    /// Private Integrations).
    pub fn private_integration_token(mut self, token: impl Into<String>) -> Self {
        self.oauth = None;
        self.credentials = Some(Credentials::PrivateIntegrationToken(SecretString::from(
            token.into(),
        )));
        self
    }

    /// Authenticates with an OAuth access token obtained elsewhere; it is sent as is and
    /// never refreshed.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.oauth = None;
        self.credentials = Some(Credentials::AccessToken(SecretString::from(token.into())));
        self
    }

    /// Authenticates as a marketplace app: each call uses the OAuth session of the location
    /// or agency the handle is scoped to ([`HighLevel::location`], [`HighLevel::agency`]),
    /// refreshed ahead of expiry and once after a 401, kept in the config's token store.
    pub fn oauth_app(mut self, config: OAuthConfig) -> Self {
        self.oauth = Some(config);
        self.credentials = None;
        self
    }

    /// Sends requests somewhere other than [`DEFAULT_BASE_URL`]: a sandbox, a mock, a proxy.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Uses this `reqwest::Client` (timeouts, proxy, TLS settings) instead of the default one
    /// for API calls. OAuth token requests keep a client of their own that never follows
    /// redirects (see [`HighLevelBuilder::oauth_http_client`]).
    ///
    /// reqwest is built without a rustls provider of its own: install one before building
    /// the client, e.g. the SDK's with [`runtime::tls::install_crypto_provider`].
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Uses this `reqwest::Client` for the OAuth endpoints (code exchange, refresh, location
    /// tokens, installed locations). It must not follow redirects
    /// (`.redirect(reqwest::redirect::Policy::none())`): those requests carry the client
    /// secret and a code or refresh token. By default the SDK builds one that does not;
    /// a redirect answer is then [`AuthError::Redirected`], and nothing is sent again. A
    /// client that follows one anyway gets the same error, naming where it went.
    pub fn oauth_http_client(mut self, client: reqwest::Client) -> Self {
        self.oauth_http = Some(client);
        self
    }

    /// The largest response body read (default [`runtime::DEFAULT_MAX_RESPONSE_BYTES`],
    /// 32 MiB): a larger one fails the call with [`Error::ResponseTooLarge`] as soon as the
    /// limit is passed, without reading on. Error answers are capped alike; downloads are
    /// not. With the `gzip` feature the cap counts decompressed bytes.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = Some(bytes);
        self
    }

    /// Paces requests per resource with these limits instead of HighLevel's documented
    /// ones (100 per 10 s, 200,000 per day), or not at all with
    /// [`RateLimitConfig::disabled`]. Answers' `X-RateLimit-*` headers still correct them.
    pub fn rate_limit(mut self, config: RateLimitConfig) -> Self {
        self.rate_limit = config;
        self
    }

    /// Retries failed attempts by this policy instead of the default one (see
    /// [`RetryConfig`]); [`HighLevel::with_retry`] overrides it per call.
    pub fn retry(mut self, config: RetryConfig) -> Self {
        self.retry = config;
        self
    }

    /// Checks the configuration and builds the handle.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when no credentials were given, the base URL is not an absolute http(s)
    /// URL, or the default HTTP client cannot be built.
    pub fn build(self) -> Result<HighLevel, BuildError> {
        let base_url = validate_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let http = match self.http {
            Some(client) => client,
            None => default_http_client()?,
        };
        let credentials = match (self.oauth, self.credentials) {
            (Some(config), _) => {
                let oauth_http = match self.oauth_http {
                    Some(client) => client,
                    None => default_oauth_http_client()?,
                };
                Credentials::OAuth(
                    OAuthApp::new(config, oauth_http, &base_url).map_err(BuildError::OAuth)?,
                )
            }
            (None, Some(credentials)) => credentials,
            (None, None) => return Err(BuildError::MissingCredentials),
        };
        validate_token(&credentials)?;
        Ok(HighLevel {
            base_url,
            http,
            runtime: Runtime::configured(credentials, self.rate_limit, self.retry)
                .with_max_response_bytes(
                    self.max_response_bytes
                        .unwrap_or(runtime::DEFAULT_MAX_RESPONSE_BYTES),
                ),
        })
    }
}

fn default_http_client() -> Result<reqwest::Client, BuildError> {
    http_client_builder()?
        .build()
        .map_err(BuildError::HttpClient)
}

/// The OAuth endpoints' client: a redirect would re-send the client secret and a code or
/// refresh token to wherever it points.
fn default_oauth_http_client() -> Result<reqwest::Client, BuildError> {
    http_client_builder()?
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(BuildError::HttpClient)
}

fn http_client_builder() -> Result<reqwest::ClientBuilder, BuildError> {
    // reqwest is built without a rustls provider; it takes the process-wide one.
    runtime::tls::install_crypto_provider().map_err(BuildError::Tls)?;
    let builder = reqwest::Client::builder()
        .user_agent(concat!("highlevel-rs/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60));
    // HTTP/1.1 only, even where another crate turns reqwest's HTTP/2 on: then reqwest's own
    // retry layer has nothing to repeat (it retries HTTP/2 and HTTP/3 refusals), yet by
    // default it copies every request in case it must; the runtime's retries copy their own.
    #[cfg(not(feature = "http2"))]
    let builder = builder
        .http1_only()
        .retry(reqwest::retry::never().max_retries_per_request(0));
    Ok(builder)
}

/// A token that cannot go into a header would fail every call; say so once, here.
fn validate_token(credentials: &Credentials) -> Result<(), BuildError> {
    let token = match credentials {
        Credentials::PrivateIntegrationToken(token) | Credentials::AccessToken(token) => token,
        _ => return Ok(()),
    };
    let token = token.expose_secret();
    if token.trim().is_empty() {
        return Err(BuildError::InvalidToken("the token is empty"));
    }
    if token.bytes().any(|b| b.is_ascii_control() || !b.is_ascii()) {
        return Err(BuildError::InvalidToken(
            "the token holds characters an HTTP header cannot carry (a line break?)",
        ));
    }
    Ok(())
}

fn validate_base_url(raw: &str) -> Result<String, BuildError> {
    let invalid = |reason: &str| BuildError::InvalidBaseUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = reqwest::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL carries no query or fragment"));
    }
    // Generated clients append `/contacts/...` to the base URL as text.
    Ok(raw.trim_end_matches('/').to_owned())
}

/// Why a [`HighLevel`] handle could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither a private integration token nor an access token was given.
    MissingCredentials,
    /// The token is empty or holds characters an HTTP header cannot carry; the reason never
    /// includes the token.
    InvalidToken(&'static str),
    /// The base URL is not an absolute http(s) URL.
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The default `reqwest::Client` could not be built (TLS backend initialisation).
    HttpClient(reqwest::Error),
    /// No rustls crypto provider: the `ring` (default) and `aws-lc-rs` features are both off
    /// and the application installed none.
    Tls(runtime::tls::TlsError),
    /// The OAuth app's configuration is unusable (an empty client id or secret).
    OAuth(AuthError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingCredentials => f.write_str(
                "no credentials: call private_integration_token(..), access_token(..) or oauth_app(..)",
            ),
            Self::InvalidToken(reason) => write!(f, "invalid token: {reason}"),
            Self::InvalidBaseUrl { url, reason } => write!(f, "invalid base URL `{url}`: {reason}"),
            Self::HttpClient(e) => write!(f, "cannot build the HTTP client: {e}"),
            Self::Tls(e) => write!(f, "cannot build the HTTP client: {e}"),
            Self::OAuth(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::HttpClient(e) => Some(e),
            Self::Tls(e) => Some(e),
            Self::OAuth(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_requires_credentials() {
        assert!(matches!(
            HighLevel::builder().build(),
            Err(BuildError::MissingCredentials)
        ));
    }

    #[test]
    fn base_url_is_validated_and_trimmed() {
        let hl = HighLevel::builder()
            .access_token("t")
            .base_url("http://127.0.0.1:8080/")
            .build();
        assert_eq!(
            hl.map(|h| h.base_url().to_owned()).ok().as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in ["not a url", "ftp://x", "https://x/?q=1"] {
            let err = HighLevel::builder().access_token("t").base_url(bad).build();
            assert!(
                matches!(err, Err(BuildError::InvalidBaseUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn unusable_tokens_are_refused_without_echoing_them() {
        for bad in ["", "   ", "pit-abc\r\nX-Injected: 1"] {
            let err = HighLevel::builder().private_integration_token(bad).build();
            let Err(err @ BuildError::InvalidToken(_)) = err else {
                panic!("{bad:?} must be refused, got {err:?}");
            };
            assert!(!err.to_string().contains("X-Injected"), "{err}");
        }
        assert!(
            HighLevel::builder()
                .access_token("ya29.a0-token_ok")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let builder = HighLevel::builder().private_integration_token("pit-secret-123");
        assert!(!format!("{builder:?}").contains("pit-secret-123"));
        let hl = builder.build();
        assert!(!format!("{hl:?}").contains("pit-secret-123"));
    }
}

/// The README's Rust examples, compiled as doctests with the features they use (the test
/// command's build has them all), so the first code a user copies cannot rot.
#[cfg(all(
    doctest,
    feature = "full",
    feature = "v3-full",
    feature = "redis",
    feature = "postgres",
    feature = "webhooks-axum"
))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;
