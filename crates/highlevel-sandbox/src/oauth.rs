//! HighLevel's OAuth 2.0 side: the authorization page (auto-consenting), the token endpoint
//! with single-use rotating refresh tokens, agency→location tokens and the installed
//! locations list. Access tokens expire; the auth layer (`auth.rs`) accepts them until then.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::request::{Params, read_body};
use crate::state::Shared;
use crate::version::{self, Accepted};

/// The `Version` HighLevel's agency OAuth endpoints declare.
pub const VERSION: Accepted = Accepted(&["2021-07-28"]);
/// How long an authorization code can be exchanged.
const CODE_TTL: Duration = Duration::from_secs(600);
const INSTALLED_DEFAULT_LIMIT: usize = 20;
const INSTALLED_MAX_LIMIT: usize = 500;

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

impl std::fmt::Debug for OAuthSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSetup")
            .field("client_id", &self.client_id)
            .field("company_id", &self.company_id)
            .field("locations", &self.locations.len())
            .field("access_token_ttl", &self.access_token_ttl)
            .finish_non_exhaustive()
    }
}

/// Who a token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Location(String),
    Company(String),
}

#[derive(Debug)]
struct Code {
    subject: Subject,
    redirect_uri: String,
    scope: String,
    expires: Instant,
}

#[derive(Debug)]
struct Refresh {
    subject: Subject,
    scope: String,
    used: bool,
}

/// What a bearer token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer {
    Valid(Subject),
    Expired,
    Unknown,
}

/// The OAuth side's state.
#[derive(Debug)]
pub struct OAuthState {
    setup: OAuthSetup,
    codes: HashMap<String, Code>,
    access: HashMap<String, (Subject, Instant)>,
    refresh: HashMap<String, Refresh>,
    stats: OAuthStats,
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

    /// Every access token issued so far expires now.
    pub fn expire_access_tokens(&mut self) {
        let now = Instant::now();
        for (_, expires) in self.access.values_mut() {
            *expires = now;
        }
    }

    /// Looks a bearer token up; an expired one is counted.
    pub fn bearer(&mut self, token: &str) -> Bearer {
        match self.access.get(token) {
            Some((subject, expires)) if Instant::now() < *expires => Bearer::Valid(subject.clone()),
            Some(_) => {
                self.stats.expired_token_rejections += 1;
                Bearer::Expired
            }
            None => Bearer::Unknown,
        }
    }

    fn issue(&mut self, subject: &Subject, scope: &str) -> Value {
        let access = format!("sbx-at-{}", uuid::Uuid::new_v4().simple());
        let refresh = format!("sbx-rt-{}", uuid::Uuid::new_v4().simple());
        let ttl = self.setup.access_token_ttl;
        self.access
            .insert(access.clone(), (subject.clone(), Instant::now() + ttl));
        self.refresh.insert(
            refresh.clone(),
            Refresh {
                subject: subject.clone(),
                scope: scope.to_owned(),
                used: false,
            },
        );
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl.as_secs(),
            "refresh_token": refresh,
            "scope": scope,
            "companyId": self.setup.company_id,
            "userId": "sbxUser0000000000001",
            "isBulkInstallation": false,
        });
        if let Some(fields) = body.as_object_mut() {
            match subject {
                Subject::Location(id) => {
                    fields.insert("userType".into(), "Location".into());
                    fields.insert("locationId".into(), id.clone().into());
                }
                Subject::Company(_) => {
                    fields.insert("userType".into(), "Company".into());
                    fields.insert("approvedLocations".into(), json!(self.setup.locations));
                }
            }
        }
        body
    }
}

/// The OAuth routes; the agency endpoints check their own bearer (a company token).
pub fn routes() -> Router<Shared> {
    let agency = Router::new()
        .route("/oauth/locationToken", post(location_token))
        .route("/oauth/installedLocations", get(installed_locations))
        .route_layer(middleware::from_fn(|request, next| {
            version::require_version(VERSION, request, next)
        }));
    Router::new()
        .route("/v2/oauth/chooselocation", get(choose_location))
        .route("/oauth/token", post(token))
        .merge(agency)
}

/// An OAuth error in RFC 6749's shape, with HighLevel's fields beside it.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({
            "error": error,
            "error_description": description,
            "statusCode": status.as_u16(),
            "message": description,
        })),
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
struct ChooseQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    #[serde(default)]
    scope: String,
    state: Option<String>,
    #[serde(rename = "loginWindowOpenMode")]
    login_window_open_mode: Option<String>,
    /// Sandbox extension: the location the simulated admin picks.
    location_id: Option<String>,
    /// Sandbox extension: `Company` for an agency install.
    user_type: Option<String>,
}

async fn choose_location(
    State(shared): State<Shared>,
    Params(query): Params<ChooseQuery>,
) -> Result<Response, ApiError> {
    let bad = |message: &str| ApiError::new(StatusCode::BAD_REQUEST, message);
    if query.response_type.as_deref() != Some("code") {
        return Err(bad("response_type must be code"));
    }
    if query
        .login_window_open_mode
        .as_deref()
        .is_some_and(|mode| mode != "self")
    {
        return Err(bad("loginWindowOpenMode must be self"));
    }
    let redirect = query
        .redirect_uri
        .as_deref()
        .and_then(|uri| url::Url::parse(uri).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| bad("redirect_uri must be an absolute http(s) URL"))?;
    let mut oauth = shared.oauth();
    if query.client_id.as_deref() != Some(oauth.setup.client_id.as_str()) {
        return Err(bad("unknown client_id"));
    }
    let subject = match query.user_type.as_deref() {
        Some("Company") => Subject::Company(oauth.setup.company_id.clone()),
        None | Some("Location") => {
            let location = query
                .location_id
                .or_else(|| oauth.setup.locations.first().cloned())
                .unwrap_or_default();
            if !oauth.setup.locations.contains(&location) {
                return Err(bad("the app is not installed in that location"));
            }
            Subject::Location(location)
        }
        Some(_) => return Err(bad("user_type must be Company or Location")),
    };
    let code = format!("sbx-code-{}", uuid::Uuid::new_v4().simple());
    oauth.codes.insert(
        code.clone(),
        Code {
            subject,
            redirect_uri: query.redirect_uri.clone().unwrap_or_default(),
            scope: query.scope.clone(),
            expires: Instant::now() + CODE_TTL,
        },
    );
    oauth.stats.codes_issued += 1;
    drop(oauth);
    let mut target = redirect;
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(state) = &query.state {
            pairs.append_pair("state", state);
        }
    }
    Ok(Redirect::to(target.as_str()).into_response())
}

/// A form body as name → value; anything but `application/x-www-form-urlencoded` is a 415.
#[derive(Debug)]
struct Form(HashMap<String, String>);

impl FromRequest<Shared> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Self::Rejection> {
        let form = "application/x-www-form-urlencoded";
        let bytes = read_body(req, state, form, |mime| mime.eq_ignore_ascii_case(form)).await?;
        Ok(Self(
            url::form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn required(&self, names: &[&str]) -> Result<(), ApiError> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| self.get(n).is_none())
            .map(|n| format!("{n} should not be empty"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(missing))
        }
    }
}

async fn token(State(shared): State<Shared>, form: Form) -> Result<Response, ApiError> {
    form.required(&["client_id", "client_secret", "grant_type"])?;
    let mut oauth = shared.oauth();
    if form.get("client_id") != Some(oauth.setup.client_id.as_str())
        || form.get("client_secret") != Some(oauth.setup.client_secret.as_str())
    {
        return Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        ));
    }
    let invalid_grant = |description: &str| {
        Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            description,
        ))
    };
    let user_type = form.get("user_type");
    let matches_user_type = |subject: &Subject| {
        matches!(
            (user_type, subject),
            (None, _)
                | (Some("Location"), Subject::Location(_))
                | (Some("Company"), Subject::Company(_))
        )
    };
    match form.get("grant_type") {
        Some("authorization_code") => {
            form.required(&["code"])?;
            let Some(code) = form.get("code").and_then(|c| oauth.codes.remove(c)) else {
                return invalid_grant("the authorization code is invalid or was used");
            };
            if Instant::now() >= code.expires {
                return invalid_grant("the authorization code expired");
            }
            if form
                .get("redirect_uri")
                .is_some_and(|uri| uri != code.redirect_uri)
            {
                return invalid_grant("redirect_uri does not match the authorization request");
            }
            if !matches_user_type(&code.subject) {
                return invalid_grant("user_type does not match the installation");
            }
            oauth.stats.code_exchanges += 1;
            let body = oauth.issue(&code.subject, &code.scope);
            Ok(Json(body).into_response())
        }
        Some("refresh_token") => {
            form.required(&["refresh_token"])?;
            let presented = form.get("refresh_token").unwrap_or_default();
            let (subject, scope) = match oauth.refresh.get_mut(presented) {
                None => return invalid_grant("the refresh token is invalid"),
                Some(entry) if entry.used => {
                    oauth.stats.refresh_token_reuses += 1;
                    return invalid_grant("the refresh token was already used");
                }
                Some(entry) => {
                    if !matches_user_type(&entry.subject) {
                        return invalid_grant("user_type does not match the token");
                    }
                    entry.used = true;
                    (entry.subject.clone(), entry.scope.clone())
                }
            };
            oauth.stats.refreshes += 1;
            let body = oauth.issue(&subject, &scope);
            Ok(Json(body).into_response())
        }
        _ => Err(ApiError::validation(vec![
            "grant_type must be one of the following values: authorization_code, refresh_token"
                .into(),
        ])),
    }
}

/// The company a request's bearer token is an agency token of.
fn agency_of(shared: &Shared, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| ApiError::unauthorized("Unauthorized: no Authorization header"))?;
    match shared.oauth().bearer(token) {
        Bearer::Valid(Subject::Company(company)) => Ok(company),
        Bearer::Valid(Subject::Location(_)) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "This route is not yet supported by the IAM Service: an agency token is required",
        )),
        Bearer::Expired | Bearer::Unknown => Err(ApiError::unauthorized("Invalid JWT")),
    }
}

async fn location_token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let company = agency_of(&shared, &headers)?;
    form.required(&["companyId", "locationId"])?;
    if form.get("companyId") != Some(company.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the token does not have access to this company",
        ));
    }
    let location = form.get("locationId").unwrap_or_default().to_owned();
    let mut oauth = shared.oauth();
    if !oauth.setup.locations.contains(&location) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the app is not installed in this location",
        ));
    }
    oauth.stats.location_tokens += 1;
    let mut body = oauth.issue(&Subject::Location(location), "");
    if let Some(fields) = body.as_object_mut() {
        let app_id = app_id(&oauth.setup.client_id).to_owned();
        fields.insert("appId".into(), app_id.into());
        fields.remove("isBulkInstallation");
    }
    Ok(Json(body).into_response())
}

fn app_id(client_id: &str) -> &str {
    client_id.split_once('-').map_or(client_id, |(app, _)| app)
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstalledQuery {
    company_id: Option<String>,
    app_id: Option<String>,
    skip: Option<String>,
    limit: Option<String>,
}

async fn installed_locations(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Params(query): Params<InstalledQuery>,
) -> Result<Response, ApiError> {
    let company = agency_of(&shared, &headers)?;
    let mut problems = Vec::new();
    if query.company_id.as_deref() != Some(company.as_str()) {
        problems.push("companyId must be the token's company".to_owned());
    }
    let oauth = shared.oauth();
    if query.app_id.as_deref() != Some(app_id(&oauth.setup.client_id)) {
        problems.push("appId must be the app's id".to_owned());
    }
    let skip = match query.skip.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            problems.push("skip must be a non-negative integer".into());
            0
        }
    };
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => INSTALLED_DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=INSTALLED_MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            problems.push(format!(
                "limit must be an integer from 1 to {INSTALLED_MAX_LIMIT}"
            ));
            0
        }
    };
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let locations: Vec<Value> = oauth
        .setup
        .locations
        .iter()
        .enumerate()
        .skip(skip)
        .take(limit)
        .map(|(i, id)| {
            json!({
                "_id": id,
                "name": format!("Sandbox Location {}", i + 1),
                "address": format!("{} Sandbox Street", i + 1),
                "isInstalled": true,
            })
        })
        .collect();
    Ok(Json(json!({
        "locations": locations,
        "count": oauth.setup.locations.len(),
        "installToFutureLocations": false,
    }))
    .into_response())
}
