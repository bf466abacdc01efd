//! HighLevel's OAuth 2.0 side: the authorization page (auto-consenting), the token endpoint
//! with single-use rotating refresh tokens, agency→location tokens and the installed
//! locations list. Access tokens expire; the auth layer (`auth.rs`) accepts them until then.
//!
//! The state and its rules live here (so unit tests can age codes and tokens); the handlers
//! in `authorize.rs`, `token.rs` and `agency.rs` only read requests and shape answers.
//! Codes and tokens are map keys only: no `Debug` output, log or answer other than the
//! issuing one ever shows them.

mod agency;
mod authorize;
mod token;

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Map, Value, json};

use crate::state::Shared;
use crate::version::{self, Accepted};

/// The `Version` of v2's agency OAuth endpoints (`/oauth/locationToken`,
/// `/oauth/installedLocations`): v2's, and v3's for v3 callers of the same routes.
pub const VERSION: Accepted = version::V2_AND_V3;
/// The `Version` of v3's agency OAuth endpoints (`/oauth/location-token`,
/// `/oauth/installed-locations`), as the v3 spec declares it.
pub const VERSION_V3: Accepted = version::V3_ONLY;
/// How long an authorization code can be exchanged.
const CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// How long an unused refresh token stays valid ("a year unless they are used").
const REFRESH_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// The user who installed the app, as HighLevel reports it.
const INSTALLER: &str = "sbxUser0000000000001";
/// The agency's name, as `INSTALL` webhooks report it.
const COMPANY_NAME: &str = "Sandbox Company";

/// Counts of what the OAuth endpoints did, for tests to assert on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthStats {
    /// Authorization codes handed out by the authorization page.
    pub codes_issued: u64,
    /// Codes exchanged for tokens.
    pub code_exchanges: u64,
    /// Successful refreshes (each one rotates the refresh token).
    pub refreshes: u64,
    /// Refresh tokens presented again after they were used: what kills installs on
    /// HighLevel. A correct client keeps this at 0.
    pub refresh_token_reuses: u64,
    /// Location tokens minted from agency tokens.
    pub location_tokens: u64,
    /// Calls refused because their access token had expired.
    pub expired_token_rejections: u64,
}

/// The app and agency the sandbox's OAuth side knows.
#[derive(Clone)]
pub struct OAuthSetup {
    pub client_id: String,
    pub client_secret: String,
    pub company_id: String,
    /// The locations the app is installed in, the default location first.
    pub locations: Vec<String>,
    pub access_token_ttl: Duration,
}

impl fmt::Debug for OAuthSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSetup")
            .field("client_id", &self.client_id)
            .field("company_id", &self.company_id)
            .field("locations", &self.locations.len())
            .field("access_token_ttl", &self.access_token_ttl)
            .finish_non_exhaustive()
    }
}

impl OAuthSetup {
    /// The app id: the part of the client id before the first `-`.
    pub fn app_id(&self) -> &str {
        self.client_id
            .split_once('-')
            .map_or(self.client_id.as_str(), |(app, _)| app)
    }
}

/// Who a token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Location(String),
    Company(String),
}

impl Subject {
    fn user_type(&self) -> &'static str {
        match self {
            Self::Location(_) => "Location",
            Self::Company(_) => "Company",
        }
    }
}

/// What an access token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub subject: Subject,
    pub scope: String,
}

/// What a bearer token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer {
    Valid(Grant),
    Expired,
    Unknown,
}

/// An answer of the token endpoint that is not a token: RFC 6749's `error` and
/// `error_description`, with HighLevel's `statusCode` and `message` beside them (the trace
/// layer adds `traceId`), so that both kinds of parser read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
}

impl OAuthError {
    fn invalid_grant(description: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_grant",
            description,
        }
    }

    fn invalid_client() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "Client authentication failed: unknown client_id or wrong client_secret",
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            no_store(),
            Json(json!({
                "error": self.error,
                "error_description": self.description,
                "statusCode": self.status.as_u16(),
                "message": self.description,
            })),
        )
            .into_response()
    }
}

/// How a token request names its fields, and so how its answer names the token fields: v2's
/// snake_case (`client_id`, `refresh_token`; answer `access_token`, `expires_in`) or v3's
/// camelCase (`clientId`, `refreshToken`; answer `accessToken`, `expiresIn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    Snake,
    Camel,
}

/// The token fields whose names differ between the casings (the others, `userType`,
/// `companyId`, `locationId`, …, are camelCase in both).
const TOKEN_FIELDS: [(&str, &str); 4] = [
    ("access_token", "accessToken"),
    ("token_type", "tokenType"),
    ("expires_in", "expiresIn"),
    ("refresh_token", "refreshToken"),
];

impl Casing {
    /// A request field's name in this casing, given its snake_case name.
    pub fn field(self, snake: &'static str) -> &'static str {
        const REQUEST_FIELDS: [(&str, &str); 6] = [
            ("client_id", "clientId"),
            ("client_secret", "clientSecret"),
            ("grant_type", "grantType"),
            ("refresh_token", "refreshToken"),
            ("user_type", "userType"),
            ("redirect_uri", "redirectUri"),
        ];
        match self {
            Self::Snake => snake,
            Self::Camel => REQUEST_FIELDS
                .iter()
                .find(|(s, _)| *s == snake)
                .map_or(snake, |(_, camel)| camel),
        }
    }

    /// A token answer (built snake_case) in this casing.
    pub fn answer(self, body: Value) -> Value {
        match (self, body) {
            (Self::Camel, Value::Object(fields)) => Value::Object(
                fields
                    .into_iter()
                    .map(|(name, value)| {
                        let renamed = TOKEN_FIELDS
                            .iter()
                            .find(|(snake, _)| *snake == name)
                            .map_or(name, |(_, camel)| (*camel).to_owned());
                        (renamed, value)
                    })
                    .collect(),
            ),
            (_, body) => body,
        }
    }
}

/// Token answers must not be cached (RFC 6749 §5.1).
fn no_store() -> [(axum::http::HeaderName, &'static str); 2] {
    [
        (axum::http::header::CACHE_CONTROL, "no-store"),
        (axum::http::header::PRAGMA, "no-cache"),
    ]
}

struct Code {
    client_id: String,
    redirect_uri: String,
    subject: Subject,
    scope: String,
    expires: Instant,
}

struct Access {
    grant: Grant,
    expires: Instant,
}

struct Refresh {
    grant: Grant,
    expires: Instant,
    used: bool,
}

/// The OAuth side's state: the setup, live codes, every token issued, and the counts.
pub struct OAuthState {
    setup: OAuthSetup,
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    stats: OAuthStats,
}

impl fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: the maps are keyed by codes and tokens.
        f.debug_struct("OAuthState")
            .field("setup", &self.setup)
            .field("codes", &self.codes.len())
            .field("access_tokens", &self.access.len())
            .field("refresh_tokens", &self.refresh.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl OAuthState {
    pub fn new(setup: OAuthSetup) -> Self {
        Self {
            setup,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            stats: OAuthStats::default(),
        }
    }

    pub fn setup(&self) -> &OAuthSetup {
        &self.setup
    }

    pub fn stats(&self) -> OAuthStats {
        self.stats
    }

    /// Every access token issued so far expires now; later ones live their full time.
    pub fn expire_access_tokens(&mut self) {
        let now = Instant::now();
        for access in self.access.values_mut() {
            access.expires = access.expires.min(now);
        }
    }

    /// Looks a bearer token up; an expired one is counted.
    pub fn bearer(&mut self, token: &str) -> Bearer {
        match self.access.get(token) {
            Some(access) if Instant::now() < access.expires => Bearer::Valid(access.grant.clone()),
            Some(_) => {
                self.stats.expired_token_rejections += 1;
                Bearer::Expired
            }
            None => Bearer::Unknown,
        }
    }

    /// Whether `client_id` and `client_secret` are the app's.
    fn client_matches(&self, client_id: &str, client_secret: &str) -> bool {
        client_id == self.setup.client_id && client_secret == self.setup.client_secret
    }

    /// A fresh single-use code for an authorization the admin consented to.
    fn issue_code(&mut self, redirect_uri: &str, subject: Subject, scope: &str) -> String {
        let now = Instant::now();
        self.codes.retain(|_, code| now < code.expires);
        let code = format!("sbx-code-{}", uuid::Uuid::new_v4().simple());
        self.codes.insert(
            code.clone(),
            Code {
                client_id: self.setup.client_id.clone(),
                redirect_uri: redirect_uri.to_owned(),
                subject,
                scope: scope.to_owned(),
                expires: now + CODE_TTL,
            },
        );
        self.stats.codes_issued += 1;
        code
    }

    /// `grant_type=authorization_code`: the code is spent whatever the outcome.
    fn exchange_code(
        &mut self,
        client_id: &str,
        code: &str,
        redirect_uri: Option<&str>,
        user_type: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let Some(code) = self.codes.remove(code) else {
            return Err(OAuthError::invalid_grant(
                "The authorization code is invalid or was already used",
            ));
        };
        if Instant::now() >= code.expires {
            return Err(OAuthError::invalid_grant(
                "The authorization code has expired",
            ));
        }
        if code.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "The authorization code was issued to another client",
            ));
        }
        if redirect_uri.is_some_and(|uri| uri != code.redirect_uri) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        if user_type.is_some_and(|t| t != code.subject.user_type()) {
            return Err(OAuthError::invalid_grant(
                "user_type does not match the installation",
            ));
        }
        self.stats.code_exchanges += 1;
        Ok(self.issue(Grant {
            subject: code.subject,
            scope: code.scope,
        }))
    }

    /// The `INSTALL` webhook of `session`, just issued by a code exchange: it names the
    /// location for a location install and only the agency for an agency install, as
    /// HighLevel's does.
    fn install_event(&self, session: &Value) -> Map<String, Value> {
        let mut event = Map::new();
        event.insert("appId".into(), json!(self.setup.app_id()));
        for field in ["locationId", "companyId", "userId"] {
            if let Some(value) = session.get(field) {
                event.insert(field.into(), value.clone());
            }
        }
        event.insert("companyName".into(), json!(COMPANY_NAME));
        event
    }

    /// `grant_type=refresh_token`: a new access token and a new refresh token; the presented
    /// refresh token is dead from now on, and presenting it again is counted.
    fn refresh(&mut self, token: &str, user_type: Option<&str>) -> Result<Value, OAuthError> {
        let now = Instant::now();
        let grant = match self.refresh.get_mut(token) {
            None => {
                return Err(OAuthError::invalid_grant("The refresh token is invalid"));
            }
            Some(entry) if entry.used => {
                self.stats.refresh_token_reuses += 1;
                return Err(OAuthError::invalid_grant(
                    "The refresh token was already used",
                ));
            }
            Some(entry) if now >= entry.expires => {
                return Err(OAuthError::invalid_grant("The refresh token has expired"));
            }
            Some(entry) if user_type.is_some_and(|t| t != entry.grant.subject.user_type()) => {
                return Err(OAuthError::invalid_grant(
                    "user_type does not match the refresh token",
                ));
            }
            Some(entry) => {
                entry.used = true;
                entry.grant.clone()
            }
        };
        self.stats.refreshes += 1;
        Ok(self.issue(grant))
    }

    /// A location token from an agency token of `company`, with that token's scope.
    fn location_token(
        &mut self,
        company: &str,
        scope: &str,
        location: &str,
    ) -> Result<Value, crate::errors::ApiError> {
        if company != self.setup.company_id || !self.setup.locations.iter().any(|l| l == location) {
            return Err(crate::errors::ApiError::new(
                StatusCode::BAD_REQUEST,
                "The app is not installed in this location",
            ));
        }
        self.stats.location_tokens += 1;
        let mut body = self.issue(Grant {
            subject: Subject::Location(location.to_owned()),
            scope: scope.to_owned(),
        });
        if let Some(fields) = body.as_object_mut() {
            fields.insert("appId".into(), self.setup.app_id().into());
            fields.remove("isBulkInstallation");
        }
        Ok(body)
    }

    /// A new access token and refresh token for `grant`, as the token endpoint answers.
    fn issue(&mut self, grant: Grant) -> Value {
        let access = format!("sbx-at-{}", uuid::Uuid::new_v4().simple());
        let refresh = format!("sbx-rt-{}", uuid::Uuid::new_v4().simple());
        let now = Instant::now();
        let ttl = self.setup.access_token_ttl;
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl.as_secs(),
            "refresh_token": refresh,
            "scope": grant.scope,
            "userType": grant.subject.user_type(),
            "companyId": self.setup.company_id,
            "userId": INSTALLER,
            "isBulkInstallation": false,
        });
        if let Some(fields) = body.as_object_mut() {
            match &grant.subject {
                Subject::Location(id) => {
                    fields.insert("locationId".into(), id.clone().into());
                }
                Subject::Company(_) => {
                    fields.insert("approvedLocations".into(), json!(self.setup.locations));
                }
            }
        }
        self.access.insert(
            access,
            Access {
                grant: grant.clone(),
                expires: now + ttl,
            },
        );
        self.refresh.insert(
            refresh,
            Refresh {
                grant,
                expires: now + REFRESH_TTL,
                used: false,
            },
        );
        body
    }
}

/// The OAuth routes. None sits behind the token layer: the token endpoint authenticates the
/// client by its secret, the agency endpoints check their own bearer (an agency token).
/// v2's agency paths and v3's (kebab-case) are served side by side, each with its own
/// `Version`; the token endpoint is one path for both and checks no `Version` (v2 declares
/// none, v3 callers send `v3`), answering each request in its own casing.
pub fn routes() -> Router<Shared> {
    let agency = Router::new()
        .route("/oauth/locationToken", post(agency::location_token))
        .route(
            "/oauth/installedLocations",
            get(agency::installed_locations),
        )
        .route_layer(middleware::from_fn(|request, next| {
            version::require_version(VERSION, request, next)
        }));
    let agency_v3 = Router::new()
        .route("/oauth/location-token", post(agency::location_token_v3))
        .route(
            "/oauth/installed-locations",
            get(agency::installed_locations_v3),
        )
        .route_layer(middleware::from_fn(|request, next| {
            version::require_version(VERSION_V3, request, next)
        }));
    Router::new()
        .route("/v2/oauth/chooselocation", get(authorize::choose_location))
        .route("/oauth/token", post(token::token))
        .merge(agency)
        .merge(agency_v3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> OAuthState {
        OAuthState::new(OAuthSetup {
            client_id: "app1-client".into(),
            client_secret: "secret".into(),
            company_id: "co1".into(),
            locations: vec!["loc1".into(), "loc2".into()],
            access_token_ttl: Duration::from_secs(60),
        })
    }

    fn text<'a>(body: &'a Value, field: &str) -> &'a str {
        body[field].as_str().unwrap_or_default()
    }

    #[test]
    fn the_app_id_is_the_client_id_before_the_first_dash() {
        let state = state();
        assert_eq!(state.setup().app_id(), "app1");
    }

    #[test]
    fn an_expired_code_is_refused_and_spent() {
        let mut state = state();
        let code = state.issue_code("http://cb", Subject::Location("loc1".into()), "");
        if let Some(entry) = state.codes.get_mut(&code) {
            entry.expires = Instant::now();
        }
        let refused = state.exchange_code("app1-client", &code, None, None);
        assert_eq!(
            refused.map_err(|e| e.description),
            Err("The authorization code has expired")
        );
        assert!(state.codes.is_empty());
        assert_eq!(state.stats().code_exchanges, 0);
    }

    #[test]
    fn a_code_is_bound_to_its_redirect_uri_and_resource() {
        let mut state = state();
        let code = state.issue_code("http://cb", Subject::Location("loc1".into()), "");
        assert!(
            state
                .exchange_code("app1-client", &code, Some("http://other"), None)
                .is_err()
        );
        let code = state.issue_code("http://cb", Subject::Location("loc1".into()), "");
        assert!(
            state
                .exchange_code("app1-client", &code, None, Some("Company"))
                .is_err()
        );
        let code = state.issue_code("http://cb", Subject::Company("co1".into()), "s");
        let body = state
            .exchange_code("app1-client", &code, Some("http://cb"), Some("Company"))
            .expect("exchanged");
        assert_eq!(text(&body, "userType"), "Company");
        assert_eq!(body["approvedLocations"], json!(["loc1", "loc2"]));
        assert!(body.get("locationId").is_none());
    }

    #[test]
    fn install_events_name_the_location_only_for_a_location_install() {
        let mut state = state();
        let code = state.issue_code("http://cb", Subject::Location("loc2".into()), "");
        let session = state
            .exchange_code("app1-client", &code, None, None)
            .expect("exchanged");
        assert_eq!(
            Value::Object(state.install_event(&session)),
            json!({
                "appId": "app1",
                "locationId": "loc2",
                "companyId": "co1",
                "userId": INSTALLER,
                "companyName": COMPANY_NAME,
            })
        );
        let code = state.issue_code("http://cb", Subject::Company("co1".into()), "");
        let session = state
            .exchange_code("app1-client", &code, None, None)
            .expect("exchanged");
        let event = state.install_event(&session);
        assert!(!event.contains_key("locationId"), "{event:?}");
        assert_eq!(event.get("companyId"), Some(&json!("co1")));
    }

    #[test]
    fn an_expired_refresh_token_is_refused_without_counting_a_reuse() {
        let mut state = state();
        let body = state.issue(Grant {
            subject: Subject::Location("loc1".into()),
            scope: String::new(),
        });
        let token = text(&body, "refresh_token").to_owned();
        if let Some(entry) = state.refresh.get_mut(&token) {
            entry.expires = Instant::now();
        }
        assert!(state.refresh(&token, None).is_err());
        assert_eq!(state.stats(), OAuthStats::default());
    }

    #[test]
    fn expiring_access_tokens_spares_later_ones_and_is_counted_on_use() {
        let mut state = state();
        let grant = Grant {
            subject: Subject::Location("loc1".into()),
            scope: "contacts.readonly".into(),
        };
        let old = state.issue(grant.clone());
        state.expire_access_tokens();
        let new = state.issue(grant.clone());
        assert_eq!(state.bearer(text(&old, "access_token")), Bearer::Expired);
        assert_eq!(
            state.bearer(text(&new, "access_token")),
            Bearer::Valid(grant)
        );
        assert_eq!(state.bearer("sbx-at-unknown"), Bearer::Unknown);
        assert_eq!(state.stats().expired_token_rejections, 1);
    }

    #[test]
    fn debug_output_shows_no_code_token_or_secret() {
        let mut state = state();
        let code = state.issue_code("http://cb", Subject::Location("loc1".into()), "");
        let body = state.issue(Grant {
            subject: Subject::Location("loc1".into()),
            scope: String::new(),
        });
        let shown = format!("{state:?}");
        for secret in [
            code.as_str(),
            text(&body, "access_token"),
            text(&body, "refresh_token"),
            "secret",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn camel_case_answers_rename_only_the_token_fields() {
        let mut state = state();
        let body = state.issue(Grant {
            subject: Subject::Location("loc1".into()),
            scope: "s".into(),
        });
        assert_eq!(Casing::Snake.answer(body.clone()), body);
        let camel = Casing::Camel.answer(body.clone());
        for (snake, camel_name) in TOKEN_FIELDS {
            assert_eq!(camel[camel_name], body[snake], "{camel_name}");
            assert!(camel.get(snake).is_none(), "{snake}");
        }
        for kept in ["scope", "userType", "companyId", "locationId", "userId"] {
            assert_eq!(camel[kept], body[kept], "{kept}");
        }
        assert_eq!(Casing::Camel.field("grant_type"), "grantType");
        assert_eq!(Casing::Camel.field("code"), "code");
        assert_eq!(Casing::Snake.field("grant_type"), "grant_type");
    }
}
