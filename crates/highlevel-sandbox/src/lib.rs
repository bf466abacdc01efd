//! An in-memory twin of the HighLevel API, for the SDK's quickstart, its tests and yours.
//!
//! It answers as HighLevel does: a private integration token (`Authorization: Bearer …`,
//! 401 otherwise), the `Version` header each operation declares (422 otherwise; the routes
//! v2 and v3 share take v2's `2021-07-28` and v3's `v3`), error bodies
//! shaped `{"statusCode", "message", "error", "traceId"}` (message a string, or a list for
//! validation failures), a `traceid` header on every answer, and the contacts API: create, get,
//! update, delete, search, and `GET /contacts/` paged with `meta.startAfterId` / `startAfter` /
//! `nextPageUrl`. Malformed JSON, wrong content types, bodies over 1 MiB and unknown routes get
//! HighLevel-shaped errors too.
//!
//! It is also a marketplace app's OAuth 2.0 server, as HighLevel's:
//!
//! - `GET /v2/oauth/chooselocation`, the authorization page, where the simulated admin
//!   consents at once: a 302 to `redirect_uri` with `code` and `state` (`location_id=…` picks
//!   one of the [installed locations](Sandbox::installed_locations), `user_type=Company`
//!   installs for the agency); a bad `client_id`, `response_type` or `redirect_uri` is a 400,
//!   never a redirect. Codes are single-use and live 10 minutes.
//! - `POST /oauth/token` (form body): `authorization_code` and `refresh_token` grants, with
//!   v2's snake_case fields (`client_id`, `grant_type`, …; answered `access_token`,
//!   `expires_in`, …) or v3's camelCase ones (`clientId`, `grantType`, …; answered
//!   `accessToken`, `expiresIn`, …).
//!   Refresh tokens are single-use: each refresh returns a new pair and presenting a spent
//!   refresh token again is `invalid_grant`, counted in
//!   [`OAuthStats::refresh_token_reuses`]. A wrong client is a 401 `invalid_client`.
//! - `POST /oauth/locationToken` and `GET /oauth/installedLocations` (paged by `skip` and
//!   `limit`) with an agency token, and v3's `POST /oauth/location-token` and
//!   `GET /oauth/installed-locations` (`Version: v3`, paged by `pageSize` and `pageToken`,
//!   answered `{ items, pagination: { totalRecords, hasNextPage, nextPageToken, … } }`).
//! - Issued access tokens work on the API until they expire
//!   ([`Sandbox::access_token_ttl`], or at once with
//!   [`RunningSandbox::expire_access_tokens`]); then they get HighLevel's 401.
//!
//! Every API route counts against its location's rate limit, as HighLevel's do: 100
//! requests per 10 s (a fixed window from the location's first request) and 200,000 per day
//! by default, configurable per run ([`Sandbox::rate_limit`], [`Sandbox::daily_limit`],
//! [`Sandbox::without_rate_limits`]). Every answer carries `X-RateLimit-Max`,
//! `-Remaining`, `-Interval-Milliseconds`, `-Limit-Daily` and `-Daily-Remaining`; past a
//! limit the answer is a 429 with `Retry-After`. `GET /locations/{id}` answers for every
//! location the sandbox knows, so several locations can be called at once.
//!
//! It delivers signed webhooks, as HighLevel does, to the URL given with
//! [`Sandbox::webhook_url`]: `ContactCreate`, `ContactUpdate` and `ContactDelete` as the
//! contacts API changes them, `INSTALL` when an OAuth code is exchanged. Each is a JSON body
//! with `type`, `timestamp` and a unique `webhookId`, POSTed with `x-ghl-signature`: the
//! Ed25519 signature of the body by a key pair generated at start, whose public key is
//! [`RunningSandbox::webhook_public_key`]. Deliveries are sent in the order the events
//! happened, after the API has answered, one attempt each.
//!
//! [`RunningSandbox::oauth_stats`], [`RunningSandbox::rate_limit_stats`] and
//! [`RunningSandbox::webhook_stats`] count what happened, for tests to assert on.
//!
//! Start one per test; it listens on 127.0.0.1 with a port of its own and stops when the
//! handle is dropped:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = highlevel_sandbox::Sandbox::start().await?;
//! // Point the SDK (or any HTTP client) at it:
//! println!("{} {} {}", sandbox.url(), sandbox.token(), sandbox.location_id());
//! # Ok(()) }
//! ```
//!
//! Or run it as a program: `cargo run -p highlevel-sandbox -- --port 4010`.

#![warn(missing_docs)]

mod app;
mod auth;
mod contacts;
mod errors;
mod locations;
mod oauth;
mod rate_limit;
mod request;
mod state;
mod version;
mod webhooks;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;

pub use app::{BODY_LIMIT, TRACE_HEADER};
pub use oauth::OAuthStats;
pub use rate_limit::{RateLimitStats, RateLimits};
pub use webhooks::WebhookStats;

/// How long [`RunningSandbox::shutdown`] lets in-flight requests finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long a request body may take to arrive unless told otherwise.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The token a sandbox accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "pit-sandbox-0000-0000-0000-000000000000";
/// The location a sandbox serves unless told otherwise.
pub const DEFAULT_LOCATION_ID: &str = "sbxLocation0000000001";
/// The OAuth client id it accepts unless told otherwise (`<appId>-<suffix>`, as HighLevel's).
pub const DEFAULT_CLIENT_ID: &str = "sbxapp00000000000001-sandboxclient";
/// The OAuth client secret it accepts unless told otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-client-secret";
/// The agency the app is installed in unless told otherwise.
pub const DEFAULT_COMPANY_ID: &str = "sbxCompany00000000001";
/// How long access tokens live unless told otherwise (HighLevel's `expires_in`).
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(86_399);

/// Starts sandboxes.
#[derive(Clone)]
pub struct Sandbox {
    token: String,
    location_id: String,
    port: u16,
    body_timeout: Duration,
    client_id: String,
    client_secret: String,
    company_id: String,
    installed_locations: usize,
    access_token_ttl: Duration,
    rate_limits: Option<RateLimits>,
    /// Redis URL of the shared rate-limit counts (feature `redis`).
    #[cfg(feature = "redis")]
    rate_limit_redis: Option<String>,
    seeded_contacts: usize,
    webhook_url: Option<String>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A caller may configure a token that matters elsewhere; it stays out of Debug output.
        let mut debug = f.debug_struct("Sandbox");
        // Whether the counts are in Redis; its URL may carry a password.
        #[cfg(feature = "redis")]
        debug.field("shared_rate_limits", &self.rate_limit_redis.is_some());
        debug
            .field("location_id", &self.location_id)
            .field("port", &self.port)
            .field("body_timeout", &self.body_timeout)
            .field("client_id", &self.client_id)
            .field("company_id", &self.company_id)
            .field("installed_locations", &self.installed_locations)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("rate_limits", &self.rate_limits)
            .field("seeded_contacts", &self.seeded_contacts)
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self {
            token: DEFAULT_TOKEN.into(),
            location_id: DEFAULT_LOCATION_ID.into(),
            port: 0,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            company_id: DEFAULT_COMPANY_ID.into(),
            installed_locations: 0,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            rate_limits: Some(RateLimits::default()),
            #[cfg(feature = "redis")]
            rate_limit_redis: None,
            seeded_contacts: 0,
            webhook_url: None,
        }
    }
}

impl Sandbox {
    /// A sandbox with the default token and location, on a free port.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub async fn start() -> std::io::Result<RunningSandbox> {
        Self::default().serve().await
    }

    /// Configures a sandbox before starting it.
    pub fn builder() -> Self {
        Self::default()
    }

    /// The private integration token it accepts.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The location it serves (other location ids get 403, as a token of one location does).
    pub fn location_id(mut self, location_id: impl Into<String>) -> Self {
        self.location_id = location_id.into();
        self
    }

    /// The loopback port; 0 (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long a request body may take to arrive before the answer is a shaped 408
    /// (default [`DEFAULT_BODY_TIMEOUT`]): a client that announces more than it sends never
    /// holds the sandbox.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The OAuth app it knows (client id `<appId>-<suffix>`, and secret).
    pub fn oauth_client(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.client_id = client_id.into();
        self.client_secret = client_secret.into();
        self
    }

    /// The agency its locations belong to.
    pub fn company_id(mut self, company_id: impl Into<String>) -> Self {
        self.company_id = company_id.into();
        self
    }

    /// How many more locations (besides the default one) the app is installed in:
    /// `sbxInstalled00000001`, … listed by `installedLocations` and open to `locationToken`.
    pub fn installed_locations(mut self, count: usize) -> Self {
        self.installed_locations = count;
        self
    }

    /// How long OAuth access tokens live (default [`DEFAULT_ACCESS_TOKEN_TTL`]).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Limits each location to `max` requests per `interval` (a fixed window from its first
    /// request), instead of HighLevel's 100 per 10 s, so tests and benchmarks can run at,
    /// say, 20 per second.
    pub fn rate_limit(mut self, max: u32, interval: Duration) -> Self {
        let limits = self.rate_limits.get_or_insert_with(RateLimits::default);
        limits.max = max.max(1);
        limits.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Limits each location to `max` requests per day (window from its first request)
    /// instead of HighLevel's 200,000.
    pub fn daily_limit(mut self, max: u64) -> Self {
        self.rate_limits
            .get_or_insert_with(RateLimits::default)
            .daily = max;
        self
    }

    /// Starts with `count` generated contacts in the location (`Seed Contact N`,
    /// `seed-N@example.com`), for paging through a long list.
    pub fn seeded_contacts(mut self, count: usize) -> Self {
        self.seeded_contacts = count;
        self
    }

    /// Delivers signed webhooks to `url` (absolute http or https); without one nothing is
    /// delivered.
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// Keeps the per-location rate-limit counts (window and day) in the Redis at `url`
    /// (feature `redis`; `redis://[:password@]host:port/db`), so that every sandbox pointed at it counts each location's requests
    /// together, as HighLevel does across its servers: several sandbox processes behind one
    /// address, or one restarted mid-window. The limits themselves are each sandbox's own
    /// (give them the same). The keys are `highlevel-sandbox:ratelimit:{<location>}:window`
    /// and `:day`. When Redis does not answer, a limited request is answered 503.
    #[cfg(feature = "redis")]
    pub fn shared_rate_limits(mut self, url: impl Into<String>) -> Self {
        self.rate_limit_redis = Some(url.into());
        self
    }

    /// No rate limits and no `X-RateLimit-*` headers: for measuring the client alone.
    pub fn without_rate_limits(mut self) -> Self {
        self.rate_limits = None;
        self
    }

    /// Binds 127.0.0.1 and serves until the returned handle is dropped or shut down.
    ///
    /// # Errors
    ///
    /// When the port cannot be bound, the webhook URL is not an absolute http(s) URL, or
    /// the Redis of [`Sandbox::shared_rate_limits`] cannot be reached.
    pub async fn serve(self) -> std::io::Result<RunningSandbox> {
        #[cfg(feature = "redis")]
        let redis_counts = match &self.rate_limit_redis {
            Some(url) => Some(
                rate_limit::redis_counts::RedisCounts::connect(url)
                    .await
                    .map_err(|e| {
                        std::io::Error::other(format!("the rate-limit counts' Redis: {e}"))
                    })?,
            ),
            None => None,
        };
        let (webhooks, courier) = webhooks::Webhooks::start(self.webhook_url.as_deref())?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await?;
        let address = listener.local_addr()?;
        let url = format!("http://{address}");
        let mut locations = vec![self.location_id.clone()];
        locations.extend((1..=self.installed_locations).map(|i| format!("sbxInstalled{i:08}")));
        let shared = state::Shared::new(
            self.token.clone(),
            self.location_id.clone(),
            self.body_timeout,
            oauth::OAuthSetup {
                client_id: self.client_id,
                client_secret: self.client_secret,
                company_id: self.company_id,
                locations,
                access_token_ttl: self.access_token_ttl,
            },
            self.rate_limits,
            webhooks,
        );
        shared.set_base_url(url.clone());
        #[cfg(feature = "redis")]
        if let Some(counts) = redis_counts {
            shared.rate_limits().count_in_redis(counts);
        }
        shared
            .contacts()
            .seed(self.seeded_contacts, &self.location_id);
        let shared_handle = shared.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(listener, app::router(shared)).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            // An accept error ends the server; requests then fail to connect, which the
            // caller's HTTP client reports.
            let _ = server.await;
        });
        Ok(RunningSandbox {
            url,
            address,
            token: self.token,
            location_id: self.location_id,
            shared: shared_handle,
            stop: Some(stop),
            task,
            courier,
        })
    }
}

/// A sandbox serving on loopback; stops when dropped.
pub struct RunningSandbox {
    url: String,
    address: SocketAddr,
    token: String,
    location_id: String,
    shared: state::Shared,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    courier: Option<webhooks::Courier>,
}

impl fmt::Debug for RunningSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a test value, but Debug output of test fixtures ends up in CI logs that
        // users copy around; keep the habit.
        f.debug_struct("RunningSandbox")
            .field("url", &self.url)
            .field("location_id", &self.location_id)
            .finish_non_exhaustive()
    }
}

impl RunningSandbox {
    /// Its base URL (`http://127.0.0.1:PORT`), to give the SDK as its base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The socket address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The private integration token it accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The location it serves.
    pub fn location_id(&self) -> &str {
        &self.location_id
    }

    /// The OAuth client id it accepts.
    pub fn client_id(&self) -> String {
        self.shared.oauth().setup().client_id.clone()
    }

    /// The OAuth client secret it accepts.
    pub fn client_secret(&self) -> String {
        self.shared.oauth().setup().client_secret.clone()
    }

    /// The agency the app is installed in.
    pub fn company_id(&self) -> String {
        self.shared.oauth().setup().company_id.clone()
    }

    /// The locations the app is installed in, the default location first.
    pub fn installed_location_ids(&self) -> Vec<String> {
        self.shared.oauth().setup().locations.clone()
    }

    /// What the OAuth endpoints have done so far.
    pub fn oauth_stats(&self) -> OAuthStats {
        self.shared.oauth().stats()
    }

    /// What the rate limiter has done so far (requests let through, 429s).
    pub fn rate_limit_stats(&self) -> RateLimitStats {
        self.shared.rate_limits().stats()
    }

    /// The Ed25519 public key webhooks are signed with: base64 of its raw 32 bytes, as the
    /// SDK's webhook verifier reads it.
    pub fn webhook_public_key(&self) -> String {
        self.shared.webhooks().public_key()
    }

    /// The `x-ghl-signature` value for `body` (base64 of its Ed25519 signature), for tests
    /// that build deliveries of their own.
    pub fn sign_webhook(&self, body: &[u8]) -> String {
        self.shared.webhooks().sign(body)
    }

    /// How many webhook deliveries arrived and how many failed so far.
    pub fn webhook_stats(&self) -> WebhookStats {
        self.shared.webhooks().stats()
    }

    /// Expires every OAuth access token issued so far (the private token is unaffected), so
    /// the next call with one gets HighLevel's 401.
    pub fn expire_access_tokens(&self) {
        self.shared.oauth().expire_access_tokens();
    }

    /// Stops serving: waits up to [`SHUTDOWN_GRACE`] for in-flight requests to be answered,
    /// then drops the connections still open (a client that never finishes its request must
    /// not keep the sandbox alive); then up to as long again for the webhooks already queued
    /// to be delivered.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
        if let Some(courier) = self.courier.take() {
            courier.finish(SHUTDOWN_GRACE).await;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Dropped without `shutdown`: nothing waits for in-flight requests or deliveries.
        self.task.abort();
        if let Some(courier) = &self.courier {
            courier.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_output_never_shows_the_token() {
        let configured = Sandbox::builder().token("pit-secret-abc123");
        assert!(!format!("{configured:?}").contains("pit-secret-abc123"));
        let running = configured.serve().await.expect("serves");
        assert!(!format!("{running:?}").contains("pit-secret-abc123"));
        running.shutdown().await;
    }

    #[tokio::test]
    async fn debug_output_never_shows_the_client_secret() {
        let configured = Sandbox::builder().oauth_client("app9-client", "cs-secret-xyz789");
        assert!(!format!("{configured:?}").contains("cs-secret-xyz789"));
        let running = configured.serve().await.expect("serves");
        assert!(!format!("{running:?}").contains("cs-secret-xyz789"));
        assert_eq!(running.client_secret(), "cs-secret-xyz789");
        running.shutdown().await;
    }
}
