//! HighLevel's OAuth endpoints: `POST /oauth/token`, the location token and the installed
//! locations, in either dialect ([`OAuthEndpoints`]).
//!
//! Written by hand rather than through the generated `highlevel-oauth` client because the
//! session lifecycle sits below every generated client (and the token endpoint's answers
//! need the tokens handled as secrets from the first byte).

use std::collections::HashSet;
use std::time::SystemTime;

use reqwest::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::bearer;
use super::dialect::{Call, Field, OAuthEndpoints, PageInfo, installed_query, next_page};
use super::error::AuthError;
use super::session::{Session, SessionStatus, UserType, unix};
use crate::ApiError;
use crate::object::Object;

/// The longest `expires_in` taken at its word (ten years); a longer one (`1e300`) is no
/// lifetime HighLevel gives, and is read as unknown.
const MAX_EXPIRES_IN_SECS: f64 = 10.0 * 365.0 * 86_400.0;
/// The largest OAuth answer read: a token answer is a few kilobytes, an installed-locations
/// page of 100 some tens; anything larger is not one.
const TOKEN_ANSWER_MAX_BYTES: usize = 4 << 20;

/// The token endpoint, as errors name it (the same path in both dialects).
pub(crate) const TOKEN: &str = "POST /oauth/token";

/// Where and as whom the endpoints are called.
pub(crate) struct Endpoints<'a> {
    pub http: &'a reqwest::Client,
    pub base_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    /// Each request's limit: shorter than the refresh lease, so that no refresh is still in
    /// flight when another process may take the lease over and spend the same token.
    pub timeout: std::time::Duration,
    /// Which paths, field names and `Version` headers.
    pub dialect: OAuthEndpoints,
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

/// One installed location, as the installed-locations endpoint lists it (v2's `locations`
/// and v3's `items` hold the same entries).
///
/// In JSON: `{"_id": "…", "name": "…", "address": "…"}`, `name` and `address` optional.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstalledLocation {
    /// The location id (`_id`).
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its address.
    pub address: Option<String>,
}

impl<'de> Deserialize<'de> for InstalledLocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut location = Object::read(deserializer, "an installed location")?;
        Ok(Self {
            id: location.required("_id")?,
            name: location.optional("name")?,
            address: location.optional("address")?,
        })
    }
}

/// An installed-locations page in either envelope: v2's `{ locations, count }`, v3's
/// `{ items, pagination: { hasNextPage, nextPageToken } }`.
struct InstalledPage {
    locations: Vec<Value>,
    count: Option<f64>,
    has_next_page: Option<bool>,
    next_page_token: Option<String>,
}

impl InstalledPage {
    fn read(body: &[u8]) -> serde_json::Result<Self> {
        let mut page: Object<serde_json::Error> =
            Object::from_value(serde_json::from_slice(body)?, "an installed-locations page")?;
        let locations = match page.optional("locations")? {
            Some(locations) => locations,
            None => page.optional("items")?.unwrap_or_default(),
        };
        let count = page.optional("count")?;
        let (has_next_page, next_page_token) = match page.take("pagination") {
            None | Some(Value::Null) => (None, None),
            Some(pagination) => {
                let mut pagination: Object<serde_json::Error> =
                    Object::from_value(pagination, "a pagination object")?;
                (
                    pagination.optional("hasNextPage")?,
                    pagination.optional("nextPageToken")?,
                )
            }
        };
        Ok(Self {
            locations,
            count,
            has_next_page,
            next_page_token,
        })
    }
}

impl Endpoints<'_> {
    fn url(&self, call: Call) -> String {
        format!("{}{}", self.base_url, self.dialect.path(call))
    }

    /// A request to `call` with its `Accept`, timeout and `Version` (when it has one).
    fn request(&self, method: reqwest::Method, call: Call) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, self.url(call))
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        match self.dialect.version(call) {
            Some(version) => request.header("Version", version),
            None => request,
        }
    }

    /// Exchanges an authorization code.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: Option<&str>,
        user_type: UserType,
    ) -> Result<Granted, GrantError> {
        let mut form = vec![
            (Field::GrantType, "authorization_code"),
            (Field::Code, code),
            (Field::UserType, user_type.as_str()),
        ];
        if let Some(uri) = redirect_uri {
            form.push((Field::RedirectUri, uri));
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
            (Field::GrantType, "refresh_token"),
            (Field::RefreshToken, refresh_token.expose_secret()),
            (Field::UserType, user_type.as_str()),
        ];
        self.token_request(&form, user_type).await
    }

    async fn token_request(
        &self,
        fields: &[(Field, &str)],
        user_type: UserType,
    ) -> Result<Granted, GrantError> {
        let credentials = [
            (Field::ClientId, self.client_id),
            (Field::ClientSecret, self.client_secret.expose_secret()),
        ];
        let form: Vec<(&str, &str)> = credentials
            .iter()
            .chain(fields)
            .map(|(field, value)| (self.dialect.field(*field), *value))
            .collect();
        let request = self.request(reqwest::Method::POST, Call::Token).form(&form);
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
        let endpoint = self.dialect.label(Call::LocationToken);
        let request = self
            .request(reqwest::Method::POST, Call::LocationToken)
            .header(AUTHORIZATION, bearer(agency_token)?)
            .form(&[("companyId", company_id), ("locationId", location_id)]);
        let body = send(request, endpoint, "get_location_access_token").await?;
        let mut granted = granted(&body, endpoint, UserType::Location)?;
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

    /// Every location of `company_id` where the app is installed, across all pages.
    pub async fn installed_locations(
        &self,
        agency_token: &SecretString,
        company_id: &str,
        app_id: &str,
    ) -> Result<Vec<InstalledLocation>, GrantError> {
        let endpoint = self.dialect.label(Call::InstalledLocations);
        let mut all = Vec::new();
        let mut cursor = self.dialect.first_page();
        let mut followed = HashSet::new();
        let mut pages = 0usize;
        loop {
            let request = self
                .request(reqwest::Method::GET, Call::InstalledLocations)
                .header(AUTHORIZATION, bearer(agency_token)?)
                .query(&installed_query(company_id, app_id, &cursor));
            let body = send(request, endpoint, "get_installed_location").await?;
            let page = InstalledPage::read(&body).map_err(|e| AuthError::InvalidTokenResponse {
                endpoint,
                reason: e.to_string(),
            })?;
            pages += 1;
            let info = PageInfo {
                fetched: page.locations.len(),
                count: page.count,
                has_next_page: page.has_next_page,
                next_page_token: page.next_page_token,
            };
            // One odd entry must not hide the others.
            all.extend(
                page.locations
                    .into_iter()
                    .filter_map(|v| serde_json::from_value::<InstalledLocation>(v).ok()),
            );
            match next_page(&cursor, &info, &mut followed) {
                Ok(Some(next)) => cursor = next,
                Ok(None) => return Ok(all),
                Err(_) => {
                    return Err(GrantError::Other(AuthError::RepeatedPageToken {
                        endpoint,
                        pages,
                    }));
                }
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
    let (client, request) = request.build_split();
    let request = request.map_err(transport)?;
    let sent_to = request.url().clone();
    let response = client.execute(request).await.map_err(transport)?;
    let status = response.status();
    let redirected = |location: Option<String>| {
        GrantError::Other(AuthError::Redirected {
            endpoint,
            status: status.as_u16(),
            location,
        })
    };
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        return Err(redirected(location));
    }
    if *response.url() != sent_to {
        // The given client followed a redirect on its own: say so rather than take an
        // answer from a server that was never asked.
        return Err(redirected(Some(response.url().to_string())));
    }
    let headers = response.headers().clone();
    let body = crate::body::read_capped(response, TOKEN_ANSWER_MAX_BYTES)
        .await
        .map_err(|e| match e {
            crate::body::ReadError::Transport(source) => transport(source),
            crate::body::ReadError::TooLarge { limit } => AuthError::InvalidTokenResponse {
                endpoint,
                reason: format!("the answer is larger than {limit} bytes"),
            },
        })?;
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

/// `invalid_grant` in the OAuth (`error`), HighLevel (`message`) or v3 AIP
/// (`error: { code, message }`) shape.
fn invalid_grant(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text =
        |value: &Value, name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let (error, message) = match value.get("error") {
        Some(aip @ Value::Object(_)) => (text(aip, "code"), text(aip, "message")),
        _ => (
            text(&value, "error"),
            text(&value, "error_description").or_else(|| text(&value, "message")),
        ),
    };
    let error = error.unwrap_or_default();
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

/// A token answer's fields, each read under its snake_case or its camelCase name (whichever
/// is present and not null, snake_case first): HighLevel's v2 answers mix both, v3's are
/// camelCase, and either dialect may meet either.
struct TokenFields(Map<String, Value>);

impl TokenFields {
    fn parse(body: &[u8]) -> Result<Self, String> {
        // serde_json's messages name a position, never the text: no token can leak here.
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Self(fields)),
            Ok(_) => Err("not the token JSON: not an object".into()),
            Err(e) => Err(format!("not the token JSON: {e}")),
        }
    }

    fn value(&self, names: [&str; 2]) -> Option<&Value> {
        names
            .into_iter()
            .filter_map(|name| self.0.get(name))
            .find(|v| !v.is_null())
    }

    /// A non-blank string.
    fn text(&self, names: [&str; 2]) -> Option<String> {
        self.value(names)
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .map(str::to_owned)
    }

    /// A number, or a string holding one (`"86399"`).
    fn number(&self, names: [&str; 2]) -> Option<f64> {
        match self.value(names)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn texts(&self, names: [&str; 2]) -> Vec<String> {
        self.value(names)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The session a token answer (in either casing) makes; a missing access token is reported
/// by name, never by quoting the body.
fn granted(body: &[u8], endpoint: &'static str, requested: UserType) -> Result<Granted, AuthError> {
    let invalid = |reason: String| AuthError::InvalidTokenResponse { endpoint, reason };
    let answer = TokenFields::parse(body).map_err(invalid)?;
    let access_token = answer
        .text(["access_token", "accessToken"])
        .map(SecretString::from)
        .ok_or_else(|| invalid("no access_token (or accessToken)".into()))?;
    let user_type = match answer.text(["userType", "user_type"]).as_deref() {
        Some("Company") => UserType::Company,
        Some("Location") => UserType::Location,
        _ => requested,
    };
    let now = unix(SystemTime::now());
    // HighLevel documents 86399 s. Without a usable value the expiry is unknown and the
    // token is renewed after a 401 only: treating it as "expires now" would renew on every
    // call, spending a single-use refresh token each time.
    let expires_in = answer
        .number(["expires_in", "expiresIn"])
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= MAX_EXPIRES_IN_SECS)
        .map(|s| s as u64);
    Ok(Granted {
        session: Session {
            access_token,
            refresh_token: answer
                .text(["refresh_token", "refreshToken"])
                .map(SecretString::from),
            expires_at_unix: expires_in.map(|secs| now.saturating_add(secs)),
            obtained_at_unix: now,
            scope: answer.text(["scope", "scope"]).unwrap_or_default(),
            user_type,
            company_id: answer.text(["companyId", "company_id"]),
            location_id: answer.text(["locationId", "location_id"]),
            user_id: answer.text(["userId", "user_id"]),
            minted_from_agency: false,
            status: SessionStatus::Active,
        },
        approved_locations: answer.texts(["approvedLocations", "approved_locations"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_locations_page_reads_in_either_envelope() {
        let v2 = InstalledPage::read(
            br#"{"locations":[{"_id":"l1","name":"One"},{"_id":"l2"}],"count":2}"#,
        )
        .expect("v2 page");
        assert_eq!((v2.locations.len(), v2.count), (2, Some(2.0)));
        assert_eq!((v2.has_next_page, v2.next_page_token), (None, None));
        let first: InstalledLocation =
            serde_json::from_value(v2.locations[0].clone()).expect("a location");
        assert_eq!(first.id, "l1");
        assert_eq!(first.name.as_deref(), Some("One"));
        assert_eq!(first.address, None);

        let v3 = InstalledPage::read(
            br#"{"items":[{"_id":"l3"}],"pagination":{"hasNextPage":true,"nextPageToken":"p2"}}"#,
        )
        .expect("v3 page");
        assert_eq!(v3.locations.len(), 1);
        assert_eq!(v3.has_next_page, Some(true));
        assert_eq!(v3.next_page_token.as_deref(), Some("p2"));

        assert!(InstalledPage::read(b"[]").is_err());
        assert!(InstalledPage::read(br#"{"count":"two"}"#).is_err());
        assert!(serde_json::from_str::<InstalledLocation>(r#"{"name":"no id"}"#).is_err());
    }

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
        assert_eq!(
            invalid_grant(
                br#"{"error":{"code":"INVALID_GRANT","message":"Refresh token already used"}}"#
            )
            .as_deref(),
            Some("Refresh token already used")
        );
        assert!(
            invalid_grant(br#"{"error":{"code":"UNAUTHENTICATED","message":"bad client"}}"#)
                .is_none()
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

    #[test]
    fn token_answers_decode_in_either_casing() {
        let snake = br#"{"access_token":"at-s","refresh_token":"rt-s","expires_in":86399,
            "token_type":"Bearer","scope":"a b","userType":"Company","companyId":"co1",
            "userId":"u1","approvedLocations":["l1","l2"]}"#;
        let camel = br#"{"accessToken":"at-c","refreshToken":"rt-c","expiresIn":"86399",
            "tokenType":"Bearer","scope":"a b","userType":"Company","companyId":"co1",
            "userId":"u1","approvedLocations":["l1","l2"]}"#;
        for (body, access, refresh) in [(&snake[..], "at-s", "rt-s"), (&camel[..], "at-c", "rt-c")]
        {
            let granted = granted(body, TOKEN, UserType::Location)
                .map_err(|e| e.to_string())
                .expect("decoded");
            let session = &granted.session;
            assert_eq!(session.access_token.expose_secret(), access);
            assert_eq!(
                session.refresh_token.as_ref().map(|t| t.expose_secret()),
                Some(refresh)
            );
            assert_eq!(
                session.expires_at_unix,
                Some(session.obtained_at_unix + 86399)
            );
            assert_eq!(session.user_type, UserType::Company);
            assert_eq!(session.company_id.as_deref(), Some("co1"));
            assert_eq!(session.user_id.as_deref(), Some("u1"));
            assert_eq!(session.scope, "a b");
            assert_eq!(granted.approved_locations, ["l1", "l2"]);
        }
        // A null in one casing does not hide the other; odd types are ignored, not fatal.
        let mixed = br#"{"access_token":null,"accessToken":"at-m","expires_in":"soon",
            "location_id":"l9","scope":7}"#;
        let granted = granted(mixed, TOKEN, UserType::Location)
            .map_err(|e| e.to_string())
            .expect("decoded");
        assert_eq!(granted.session.access_token.expose_secret(), "at-m");
        assert_eq!(
            granted.session.expires_at_unix, None,
            "\"soon\" is no lifetime"
        );
        assert_eq!(granted.session.location_id.as_deref(), Some("l9"));
        assert_eq!(granted.session.user_type, UserType::Location);
        assert!(granted.session.refresh_token.is_none());
    }

    #[test]
    fn unusable_token_answers_never_quote_the_body() {
        for body in [
            &br#"["at-secret"]"#[..],
            br#"{"accessToken":"  ","refreshToken":"rt-secret"}"#,
            br#"{"accessToken":"at-secret""#,
        ] {
            let err = granted(body, TOKEN, UserType::Location)
                .err()
                .map(|e| format!("{e} {e:?}"))
                .unwrap_or_default();
            assert!(err.contains("unusable answer"), "{err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn a_lifetime_is_taken_only_when_it_is_one() {
        let lifetime = |expires_in: &str| {
            let body = format!(r#"{{"access_token":"at","expires_in":{expires_in}}}"#);
            granted(body.as_bytes(), TOKEN, UserType::Location)
                .map(|g| {
                    g.session
                        .expires_at_unix
                        .map(|at| at - g.session.obtained_at_unix)
                })
                .map_err(|e| e.to_string())
        };
        assert_eq!(lifetime("86399"), Ok(Some(86_399)));
        assert_eq!(lifetime("\"3600\""), Ok(Some(3_600)));
        for unusable in ["1e300", "-5", "0", "null", "\"NaN\"", "315360001"] {
            assert_eq!(lifetime(unusable), Ok(None), "expires_in {unusable}");
        }
        let missing = granted(br#"{"access_token":"at"}"#, TOKEN, UserType::Location)
            .map(|g| g.session.expires_at_unix)
            .map_err(|e| e.to_string());
        assert_eq!(missing, Ok(None));
    }
}
