//! An OAuth app: its credentials, its token store, and the operations of its install flow.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::authorize::{
    AuthorizationHost, AuthorizeBuilder, PendingAuthorization, code_from_callback,
};
use super::dialect::OAuthEndpoints;
use super::endpoints::{Endpoints, GrantError, InstalledLocation};
use super::error::AuthError;
use super::lifecycle::Lifecycle;
use super::session::{Resource, Session, SessionKey, UserType};
use super::store::{Expected, MemoryStore, StoreError, TimeBounded, TokenStore, Versioned};

/// Refresh this long before HighLevel's expiry unless told otherwise.
pub const DEFAULT_REFRESH_SKEW: Duration = Duration::from_secs(300);
/// How long one process may hold a refresh lease before others may take it over.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);
/// After a refresh did not cure a resource's 401 (a missing scope, say, not an expired
/// token), further 401s for it fail as they are for this long instead of rotating tokens on
/// every request.
pub const DEFAULT_UNAUTHORIZED_COOLDOWN: Duration = Duration::from_secs(60);
/// The longest refresh lease: a longer one would leave a resource without tokens that long
/// after a process holding it died.
pub const MAX_LEASE_TTL: Duration = Duration::from_secs(600);
/// How long one token store call may take unless told otherwise.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many locations `mint_installed_locations` mints at once unless told otherwise.
pub const DEFAULT_MINT_CONCURRENCY: usize = 16;

/// How an OAuth app is configured: give it to `HighLevel::builder().oauth_app(..)`.
#[must_use]
pub struct OAuthConfig {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) app_id: Option<String>,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) store_timeout: Duration,
    pub(crate) refresh_skew: Duration,
    pub(crate) lease_ttl: Duration,
    pub(crate) lease_wait: Duration,
    pub(crate) unauthorized_cooldown: Duration,
    pub(crate) host: AuthorizationHost,
    pub(crate) default_company: Option<String>,
    pub(crate) endpoints: OAuthEndpoints,
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("app_id", &self.app_id)
            .field("store", &self.store)
            .field("store_timeout", &self.store_timeout)
            .field("refresh_skew", &self.refresh_skew)
            .field("lease_ttl", &self.lease_ttl)
            .field("host", &self.host)
            .field("default_company", &self.default_company)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl OAuthConfig {
    /// An app with its client id and secret (marketplace → your app → Auth), sessions in a
    /// [`MemoryStore`] until [`OAuthConfig::store`] says otherwise.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            app_id: None,
            store: Arc::new(MemoryStore::new()),
            store_timeout: DEFAULT_STORE_TIMEOUT,
            refresh_skew: DEFAULT_REFRESH_SKEW,
            lease_ttl: DEFAULT_LEASE_TTL,
            lease_wait: DEFAULT_LEASE_TTL + Duration::from_secs(5),
            unauthorized_cooldown: DEFAULT_UNAUTHORIZED_COOLDOWN,
            host: AuthorizationHost::Standard,
            default_company: None,
            endpoints: OAuthEndpoints::V2,
        }
    }

    /// Where sessions are kept (shared with other processes when the store is).
    pub fn store(mut self, store: impl TokenStore + 'static) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// A store already shared elsewhere.
    pub fn shared_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }

    /// How long one call to the store may take (default [`DEFAULT_STORE_TIMEOUT`], between
    /// 1 ms and [`MAX_LEASE_TTL`]); a slower one fails with [`StoreError::Timeout`]. This
    /// bounds what a hung store can hold up: the resource's refresh, and every call queued
    /// behind it. The Redis and PostgreSQL stores have shorter bounds of their own.
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout.clamp(Duration::from_millis(1), MAX_LEASE_TTL);
        self
    }

    /// The app id sessions are keyed by; by default the part of the client id before its
    /// first `-` (HighLevel's client ids are `<appId>-<suffix>`).
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// Refresh a token this long before it expires (default [`DEFAULT_REFRESH_SKEW`]).
    pub fn refresh_skew(mut self, skew: Duration) -> Self {
        self.refresh_skew = skew;
        self
    }

    /// How long a refresh lease lasts (default [`DEFAULT_LEASE_TTL`], at most
    /// [`MAX_LEASE_TTL`]); other processes wait up to this plus 5 s for a refresh in progress
    /// elsewhere.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.min(MAX_LEASE_TTL);
        self.lease_wait = self.lease_ttl + Duration::from_secs(5);
        self
    }

    /// How long 401s of a resource go unrefreshed after a refresh failed to cure one
    /// (default [`DEFAULT_UNAUTHORIZED_COOLDOWN`]).
    pub fn unauthorized_cooldown(mut self, cooldown: Duration) -> Self {
        self.unauthorized_cooldown = cooldown;
        self
    }

    /// Which marketplace host the authorization URL uses (white-label agencies).
    pub fn authorization_host(mut self, host: AuthorizationHost) -> Self {
        self.host = host;
        self
    }

    /// The agency used for handles that name none, and to mint tokens for locations that
    /// have no session of their own.
    pub fn default_company(mut self, company_id: impl Into<String>) -> Self {
        self.default_company = Some(company_id.into());
        self
    }

    /// Which OAuth endpoints the app calls (default [`OAuthEndpoints::V2`], the ones
    /// HighLevel's OAuth guide documents); [`OAuthEndpoints::V3`] calls them as the official
    /// Python SDK 3.0.0 does (kebab-case paths, camelCase token form fields, `Version: v3`,
    /// installed locations paged by `pageToken`). Answers are read in either casing whatever
    /// the choice; refresh, stores and minting work the same in both.
    pub fn endpoints(mut self, endpoints: OAuthEndpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), AuthError> {
        use secrecy::ExposeSecret;
        if self.client_id.trim().is_empty() {
            return Err(AuthError::InvalidConfig("the client id is empty".into()));
        }
        if self.client_secret.expose_secret().trim().is_empty() {
            return Err(AuthError::InvalidConfig(
                "the client secret is empty".into(),
            ));
        }
        Ok(())
    }
}

/// What an install (a code exchange or a minted location token) produced.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Installed {
    /// The resource the session is stored under.
    pub resource: Resource,
    /// The agency, when HighLevel said.
    pub company_id: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// For an agency install: the locations the admin approved.
    pub approved_locations: Vec<String>,
}

/// What `mint_installed_locations` did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MintReport {
    /// Locations that now have a stored session.
    pub minted: Vec<String>,
    /// Locations that could not get one, and why.
    pub failed: Vec<(String, AuthError)>,
}

/// A configured OAuth app bound to an HTTP client and base URL: the install flow, the
/// agency→location minting, and the session lifecycle every scoped call goes through.
///
/// Cheap to clone. Reached through `HighLevel::oauth_app()`.
#[derive(Clone)]
pub struct OAuthApp {
    pub(crate) inner: Arc<AppInner>,
}

pub(crate) struct AppInner {
    pub(crate) config: OAuthConfig,
    pub(crate) app_id: String,
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) lifecycle: Lifecycle,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("config", &self.inner.config)
            .field("app_id", &self.inner.app_id)
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

impl OAuthApp {
    /// Binds `config` to the HTTP client and base URL its token requests go to.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidConfig`] for an empty client id or secret.
    pub fn new(
        mut config: OAuthConfig,
        http: reqwest::Client,
        base_url: impl Into<String>,
    ) -> Result<Self, AuthError> {
        config.validate()?;
        config.store = Arc::new(TimeBounded::new(config.store, config.store_timeout));
        let app_id = config.app_id.clone().unwrap_or_else(|| {
            config
                .client_id
                .split_once('-')
                .map_or(config.client_id.as_str(), |(app, _)| app)
                .to_owned()
        });
        Ok(Self {
            inner: Arc::new(AppInner {
                config,
                app_id,
                http,
                base_url: base_url.into().trim_end_matches('/').to_owned(),
                lifecycle: Lifecycle::default(),
            }),
        })
    }

    /// The app id sessions are keyed by.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.config.client_id
    }

    /// The agency used when a handle names none.
    pub fn default_company(&self) -> Option<&str> {
        self.inner.config.default_company.as_deref()
    }

    /// Which OAuth endpoints the app calls ([`OAuthConfig::endpoints`]).
    pub fn oauth_endpoints(&self) -> OAuthEndpoints {
        self.inner.config.endpoints
    }

    /// The token store.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.config.store
    }

    /// The key `resource`'s session is stored under.
    pub fn key(&self, resource: Resource) -> SessionKey {
        SessionKey::new(self.inner.app_id.clone(), resource)
    }

    pub(crate) fn endpoints(&self) -> Endpoints<'_> {
        Endpoints {
            http: &self.inner.http,
            base_url: &self.inner.base_url,
            client_id: &self.inner.config.client_id,
            client_secret: &self.inner.config.client_secret,
            timeout: self.inner.config.lease_ttl / 2,
            dialect: self.inner.config.endpoints,
        }
    }

    /// Starts an authorization page URL for `redirect_uri` (add scopes, then `build()`).
    pub fn authorize(&self, redirect_uri: &str) -> AuthorizeBuilder {
        AuthorizeBuilder::new(
            self.inner.config.host.origin(),
            &self.inner.config.client_id,
            redirect_uri,
        )
    }

    /// Finishes an install: checks the callback's `state` against `pending`, exchanges its
    /// code and stores the session (replacing any earlier one of the same resource).
    ///
    /// # Errors
    ///
    /// [`AuthError::StateMismatch`] (nothing is exchanged), [`AuthError::AuthorizationDenied`],
    /// [`AuthError::InvalidCallback`], the token endpoint's refusal, or the store's failure.
    pub async fn complete_authorization(
        &self,
        callback: &str,
        pending: &PendingAuthorization,
    ) -> Result<Installed, AuthError> {
        let code = code_from_callback(callback, pending)?;
        self.exchange_code(&code, Some(&pending.redirect_uri), pending.user_type)
            .await
    }

    /// Exchanges an authorization code and stores the session.
    ///
    /// # Errors
    ///
    /// As [`OAuthApp::complete_authorization`], without the callback checks.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: Option<&str>,
        user_type: UserType,
    ) -> Result<Installed, AuthError> {
        let granted = self
            .endpoints()
            .exchange_code(code, redirect_uri, user_type)
            .await
            .map_err(|e| match e {
                GrantError::InvalidGrant(reason) => AuthError::InvalidCallback(format!(
                    "HighLevel refused the code (used, expired or for another redirect_uri): {reason}"
                )),
                GrantError::Other(e) => e,
            })?;
        let session = granted.session;
        let resource = match (session.user_type, &session.location_id, &session.company_id) {
            (UserType::Location, Some(location), _) => Resource::Location(location.clone()),
            (UserType::Company, _, Some(company)) => Resource::Company(company.clone()),
            _ => {
                return Err(AuthError::InvalidTokenResponse {
                    endpoint: super::endpoints::TOKEN,
                    reason: "no locationId/companyId to store the session under".into(),
                });
            }
        };
        let installed = Installed {
            resource: resource.clone(),
            company_id: session.company_id.clone(),
            scope: session.scope.clone(),
            approved_locations: granted.approved_locations,
        };
        self.save_replacing(&self.key(resource), &session).await?;
        tracing::info!(resource = %installed.resource, "oauth: installed");
        Ok(installed)
    }

    /// Writes `session`, whatever version the key holds (an install replaces the past).
    pub(crate) async fn save_replacing(
        &self,
        key: &SessionKey,
        session: &Session,
    ) -> Result<u64, AuthError> {
        let store = self.store();
        loop {
            let expected = match store.get(key).await? {
                Some(current) => Expected::Version(current.version),
                None => Expected::Absent,
            };
            match store.put(key, session, expected).await {
                Ok(version) => {
                    self.inner.lifecycle.remember(
                        key,
                        Versioned {
                            session: session.clone(),
                            version,
                        },
                    );
                    return Ok(version);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The stored session of `resource`, if any (tokens redacted in `Debug`).
    ///
    /// # Errors
    ///
    /// The store's failure.
    pub async fn session(&self, resource: Resource) -> Result<Option<Versioned>, AuthError> {
        Ok(self.store().get(&self.key(resource)).await?)
    }

    /// Deletes `resource`'s session (the app was uninstalled there).
    ///
    /// # Errors
    ///
    /// The store's failure.
    pub async fn forget(&self, resource: Resource) -> Result<(), AuthError> {
        let key = self.key(resource);
        self.inner.lifecycle.forget(&key);
        Ok(self.store().delete(&key).await?)
    }

    /// A usable access token for `resource`: the stored one, refreshed first when it expires
    /// within the skew, or for a location without a session, minted from `company_id`'s
    /// agency token and stored.
    ///
    /// # Errors
    ///
    /// See [`AuthError`]; [`AuthError::ReauthorizationNeeded`] once HighLevel refused the
    /// resource's refresh token.
    pub async fn access_token(
        &self,
        resource: Resource,
        company_id: Option<&str>,
    ) -> Result<SecretString, AuthError> {
        let company = company_id.or(self.default_company());
        Ok(self.current(&resource, company).await?.session.access_token)
    }

    /// Mints (or refreshes) and stores a location token for `location_id` from
    /// `company_id`'s agency token.
    ///
    /// # Errors
    ///
    /// See [`AuthError`].
    pub async fn location_token(
        &self,
        company_id: &str,
        location_id: &str,
    ) -> Result<Installed, AuthError> {
        let resource = Resource::Location(location_id.to_owned());
        let current = self.current(&resource, Some(company_id)).await?;
        Ok(Installed {
            resource,
            company_id: Some(company_id.to_owned()),
            scope: current.session.scope,
            approved_locations: Vec::new(),
        })
    }

    /// Every location of `company_id` where this app is installed (all pages).
    ///
    /// # Errors
    ///
    /// See [`AuthError`].
    pub async fn installed_locations(
        &self,
        company_id: &str,
    ) -> Result<Vec<InstalledLocation>, AuthError> {
        self.with_agency_token(company_id, |token| async move {
            self.endpoints()
                .installed_locations(&token, company_id, self.app_id())
                .await
        })
        .await
    }

    /// Makes sure every location of `company_id` where the app is installed has a stored
    /// session, minting the missing ones from the agency token with at most `concurrency`
    /// requests in flight (0 means [`DEFAULT_MINT_CONCURRENCY`]).
    ///
    /// # Errors
    ///
    /// When the installed locations cannot be listed; a location that fails is reported in
    /// [`MintReport::failed`] without stopping the others.
    pub async fn mint_installed_locations(
        &self,
        company_id: &str,
        concurrency: usize,
    ) -> Result<MintReport, AuthError> {
        let locations = self.installed_locations(company_id).await?;
        let limit = if concurrency == 0 {
            DEFAULT_MINT_CONCURRENCY
        } else {
            concurrency
        };
        let permits = Arc::new(tokio::sync::Semaphore::new(limit));
        let mut tasks = tokio::task::JoinSet::new();
        for location in locations {
            let app = self.clone();
            let company = company_id.to_owned();
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let result = app.location_token(&company, &location.id).await;
                (location.id, result)
            });
        }
        let mut report = MintReport::default();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((id, Ok(_))) => report.minted.push(id),
                Ok((id, Err(e))) => report.failed.push((id, e)),
                // A panicking task is a bug in this crate; keep the others' results.
                Err(e) => report.failed.push((
                    String::new(),
                    AuthError::InvalidConfig(format!("a mint task failed: {e}")),
                )),
            }
        }
        report.minted.sort();
        Ok(report)
    }
}
