//! HighLevel's OAuth endpoints: `POST /oauth/token`, `POST /oauth/locationToken`,
//! `GET /oauth/installedLocations`.
//!
//! Written by hand rather than through the generated `highlevel-oauth` client because the
//! session lifecycle sits below every generated client (and the token endpoint's answers
//! need the tokens handled as secrets from the first byte).

use std::time::SystemTime;

use reqwest::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::AuthError;
use super::session::{Session, SessionStatus, UserType, unix};
use crate::ApiError;
use crate::hooks::oauth_authorization;

pub(crate) const TOKEN: &str = "POST /oauth/token";
pub(crate) const LOCATION_TOKEN: &str = "POST /oauth/locationToken";
pub(crate) const INSTALLED_LOCATIONS: &str = "GET /oauth/installedLocations";
/// The `Version` the two agency endpoints declare.
const VERSION: &str = "2021-07-28";
const INSTALLED_PAGE: usize = 100;

/// Where and as whom the endpoints are called.
pub(crate) struct Endpoints<'a> {
    pub http: &'a reqwest::Client,
    pub base_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    /// Each request's limit: shorter than the refresh lease, so that no refresh is still in
    /// flight when another process may take the lease over and spend the same token.
    pub timeout: std::time::Duration,
}

/// What the token endpoints answer; every field optional so that a missing one is reported
/// by name instead of failing the decode.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<f64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(rename = "userType")]
    user_type: Option<String>,
    #[serde(rename = "companyId")]
    company_id: Option<String>,
    #[serde(rename = "locationId")]
    location_id: Option<String>,
    #[serde(rename = "userId")]
    user_id: Option<String>,
    #[serde(rename = "approvedLocations", default)]
    approved_locations: Option<Vec<String>>,
}

/// A token endpoint's answer: the session and what else it said.
pub(crate) struct Granted {
    pub session: Session,
    pub approved_locations: Vec<String>,
}

/// Why a token request failed: `invalid_grant` is told apart because it ends a session.
pub(crate) enum GrantError {
    InvalidGrant(String),
    Other(AuthError),
}

impl From<AuthError> for GrantError {
    fn from(e: AuthError) -> Self {
        Self::Other(e)
    }
}

/// One installed location, as `installedLocations` lists it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstalledLocation {
    /// The location id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its address.
    #[serde(default)]
    pub address: Option<String>,
}

#[derive(Deserialize)]
struct InstalledPage {
    #[serde(default)]
    locations: Vec<serde_json::Value>,
    count: Option<f64>,
}

impl Endpoints<'_> {
    /// Exchanges an authorization code.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: Option<&str>,
        user_type: UserType,
    ) -> Result<Granted, GrantError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("user_type", user_type.as_str()),
        ];
        if let Some(uri) = redirect_uri {
            form.push(("redirect_uri", uri));
        }
        self.token_request(&form, user_type).await
    }

    /// Trades a refresh token for a new pair (the old refresh token dies).
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
        user_type: UserType,
    ) -> Result<Granted, GrantError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("user_type", user_type.as_str()),
        ];
        self.token_request(&form, user_type).await
    }

    async fn token_request(
        &self,
        fields: &[(&str, &str)],
        user_type: UserType,
    ) -> Result<Granted, GrantError> {
        let mut form = vec![
            ("client_id", self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        form.extend_from_slice(fields);
        let request = self
            .http
            .post(format!("{}/oauth/token", self.base_url))
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        let body = send(request, TOKEN, "get_access_token").await?;
        granted(&body, TOKEN, user_type).map_err(GrantError::Other)
    }

    /// Mints a location token from an agency token.
    pub async fn location_token(
        &self,
        agency_token: &SecretString,
        company_id: &str,
        location_id: &str,
    ) -> Result<Granted, GrantError> {
        let request = self
            .http
            .post(format!("{}/oauth/locationToken", self.base_url))
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("Version", VERSION)
            .header(AUTHORIZATION, oauth_authorization(agency_token)?)
            .form(&[("companyId", company_id), ("locationId", location_id)]);
        let body = send(request, LOCATION_TOKEN, "get_location_access_token").await?;
        let mut granted = granted(&body, LOCATION_TOKEN, UserType::Location)?;
        let session = &mut granted.session;
        session
            .company_id
            .get_or_insert_with(|| company_id.to_owned());
        session
            .location_id
            .get_or_insert_with(|| location_id.to_owned());
        session.minted_from_agency = true;
        Ok(granted)
    }

    /// Every location of `company_id` where the app is installed.
    pub async fn installed_locations(
        &self,
        agency_token: &SecretString,
        company_id: &str,
        app_id: &str,
    ) -> Result<Vec<InstalledLocation>, GrantError> {
        let mut all = Vec::new();
        // Entries read so far, decodable or not: the next page's `skip`.
        let mut seen = 0usize;
        loop {
            let skip = seen.to_string();
            let limit = INSTALLED_PAGE.to_string();
            let request = self
                .http
                .get(format!("{}/oauth/installedLocations", self.base_url))
                .timeout(self.timeout)
                .header(reqwest::header::ACCEPT, "application/json")
                .header("Version", VERSION)
                .header(AUTHORIZATION, oauth_authorization(agency_token)?)
                .query(&[
                    ("companyId", company_id),
                    ("appId", app_id),
                    ("isInstalled", "true"),
                    ("skip", &skip),
                    ("limit", &limit),
                ]);
            let body = send(request, INSTALLED_LOCATIONS, "get_installed_location").await?;
            let page: InstalledPage =
                serde_json::from_slice(&body).map_err(|e| AuthError::InvalidTokenResponse {
                    endpoint: INSTALLED_LOCATIONS,
                    reason: e.to_string(),
                })?;
            let fetched = page.locations.len();
            seen += fetched;
            // One odd entry must not hide the others.
            all.extend(
                page.locations
                    .into_iter()
                    .filter_map(|v| serde_json::from_value::<InstalledLocation>(v).ok()),
            );
            // HighLevel may serve fewer than asked per page: the count, when given, decides.
            let done = match page.count {
                Some(total) => seen >= total as usize,
                None => fetched < INSTALLED_PAGE,
            };
            if fetched == 0 || done {
                return Ok(all);
            }
        }
    }
}

/// Sends one request; a non-2xx answer is `invalid_grant` or an [`AuthError::Endpoint`].
async fn send(
    request: reqwest::RequestBuilder,
    endpoint: &'static str,
    operation_id: &'static str,
) -> Result<bytes::Bytes, GrantError> {
    let transport = |source| AuthError::Transport { endpoint, source };
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(transport)?;
    if status.is_success() {
        return Ok(body);
    }
    if let Some(reason) = invalid_grant(&body) {
        return Err(GrantError::InvalidGrant(reason));
    }
    Err(GrantError::Other(AuthError::Endpoint(Box::new(
        ApiError::new(operation_id, status, headers, body),
    ))))
}

/// `invalid_grant` in the OAuth (`error`) or the HighLevel (`message`) shape.
fn invalid_grant(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let error = text("error").unwrap_or_default();
    let message = text("error_description").or_else(|| text("message"));
    let says = |s: &str| {
        let s = s.to_ascii_lowercase();
        s == "invalid_grant" || s.contains("invalid grant") || s.contains("invalid_grant")
    };
    if says(&error) || message.as_deref().is_some_and(says) {
        Some(message.unwrap_or(error))
    } else {
        None
    }
}

fn granted(body: &[u8], endpoint: &'static str, requested: UserType) -> Result<Granted, AuthError> {
    let invalid = |reason: String| AuthError::InvalidTokenResponse { endpoint, reason };
    let answer: TokenResponse =
        serde_json::from_slice(body).map_err(|e| invalid(format!("not the token JSON: {e}")))?;
    let access_token = answer
        .access_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| invalid("no access_token".into()))?;
    let user_type = match answer.user_type.as_deref() {
        Some("Company") => UserType::Company,
        Some("Location") => UserType::Location,
        _ => requested,
    };
    let now = unix(SystemTime::now());
    // HighLevel documents 86399 s; a missing or odd value is treated as "expires now" so the
    // next call refreshes rather than trusting a token for an unknown time.
    let expires_in = answer
        .expires_in
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(0, |s| s as u64);
    Ok(Granted {
        session: Session {
            access_token: SecretString::from(access_token),
            refresh_token: answer
                .refresh_token
                .filter(|t| !t.trim().is_empty())
                .map(SecretString::from),
            expires_at_unix: now.saturating_add(expires_in),
            obtained_at_unix: now,
            scope: answer.scope.unwrap_or_default(),
            user_type,
            company_id: answer.company_id,
            location_id: answer.location_id,
            user_id: answer.user_id,
            minted_from_agency: false,
            status: SessionStatus::Active,
        },
        approved_locations: answer.approved_locations.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_grant_is_recognised_in_both_shapes() {
        assert_eq!(
            invalid_grant(br#"{"error":"invalid_grant","error_description":"used"}"#).as_deref(),
            Some("used")
        );
        assert!(
            invalid_grant(
                br#"{"statusCode":401,"message":"Invalid grant: refresh token is invalid"}"#
            )
            .is_some()
        );
        assert!(invalid_grant(br#"{"error":"invalid_client"}"#).is_none());
        assert!(invalid_grant(b"not json").is_none());
    }

    #[test]
    fn token_answers_without_access_token_are_refused_without_quoting_the_body() {
        let err = granted(
            br#"{"refresh_token":"rt-secret"}"#,
            TOKEN,
            UserType::Location,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("no access_token"), "{err}");
        assert!(!err.contains("rt-secret"), "{err}");
    }
}
