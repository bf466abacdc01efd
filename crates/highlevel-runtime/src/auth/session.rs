//! What a token store holds: one OAuth session per (app, resource).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// What a token is for: a sub-account (location) or an agency (company).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id")]
pub enum Resource {
    /// A sub-account; HighLevel's `userType: Location`.
    Location(String),
    /// An agency; HighLevel's `userType: Company`.
    Company(String),
}

impl Resource {
    /// The resource's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Location(id) | Self::Company(id) => id,
        }
    }

    /// HighLevel's name for the token kind, as sent in `user_type`.
    pub fn user_type(&self) -> UserType {
        match self {
            Self::Location(_) => UserType::Location,
            Self::Company(_) => UserType::Company,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Location(id) => write!(f, "location {id}"),
            Self::Company(id) => write!(f, "company {id}"),
        }
    }
}

/// The token kind HighLevel issues: `user_type` in requests, `userType` in answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UserType {
    /// A sub-account token.
    Location,
    /// An agency token.
    Company,
}

impl UserType {
    /// The value HighLevel's form fields use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Location => "Location",
            Self::Company => "Company",
        }
    }
}

/// Where a session is stored: the app (its id, so one store can serve several apps) and the
/// resource the tokens act for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    /// The marketplace app's id.
    pub app: String,
    /// The location or company.
    pub resource: Resource,
}

impl SessionKey {
    /// The key of `resource`'s session for `app`.
    pub fn new(app: impl Into<String>, resource: Resource) -> Self {
        Self {
            app: app.into(),
            resource,
        }
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "app {} {}", self.app, self.resource)
    }
}

/// Whether a session's tokens can still be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SessionStatus {
    /// Usable (refreshing it when it expires).
    Active,
    /// HighLevel refused its refresh token (`invalid_grant`): the app must be installed
    /// again for this resource. The session is kept so that an operator can see when and
    /// why, rather than deleted.
    NeedsReauthorization {
        /// HighLevel's description of the refusal.
        reason: String,
        /// When the refusal happened (seconds since the Unix epoch).
        at_unix: u64,
    },
}

/// One resource's OAuth tokens and what HighLevel said about them.
///
/// Tokens are [`SecretString`]s: `Debug` shows `[REDACTED]` and memory is zeroed on drop.
/// Only token stores see them in clear, to persist them.
#[derive(Clone)]
#[non_exhaustive]
pub struct Session {
    /// The bearer token.
    pub access_token: SecretString,
    /// The single-use refresh token; `None` when HighLevel sent none (a location token
    /// minted from an agency token may come without one and is then minted again).
    pub refresh_token: Option<SecretString>,
    /// When the access token expires (seconds since the Unix epoch); `None` when HighLevel
    /// gave no usable lifetime, and the token is then renewed after a 401 only, never ahead
    /// (each renewal spends a single-use refresh token).
    pub expires_at_unix: Option<u64>,
    /// When HighLevel issued it (seconds since the Unix epoch).
    pub obtained_at_unix: u64,
    /// The space-separated scopes granted.
    pub scope: String,
    /// `userType` of the token.
    pub user_type: UserType,
    /// The agency the resource belongs to, when HighLevel said.
    pub company_id: Option<String>,
    /// The location, for location tokens.
    pub location_id: Option<String>,
    /// The user who installed the app.
    pub user_id: Option<String>,
    /// Whether this location token was minted from its agency's token (and can be minted
    /// again when its own refresh token is refused).
    pub minted_from_agency: bool,
    /// Usable, or waiting for the app to be installed again.
    pub status: SessionStatus,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("access_token", &"[REDACTED]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("expires_at_unix", &self.expires_at_unix)
            .field("obtained_at_unix", &self.obtained_at_unix)
            .field("scope", &self.scope)
            .field("user_type", &self.user_type)
            .field("company_id", &self.company_id)
            .field("location_id", &self.location_id)
            .field("user_id", &self.user_id)
            .field("minted_from_agency", &self.minted_from_agency)
            .field("status", &self.status)
            .finish()
    }
}

impl Session {
    /// A session holding only an access token (and optionally a refresh token), for seeding a
    /// store with tokens obtained elsewhere.
    pub fn new(
        access_token: impl Into<String>,
        refresh_token: Option<String>,
        expires_at: SystemTime,
        user_type: UserType,
    ) -> Self {
        Self {
            access_token: SecretString::from(access_token.into()),
            refresh_token: refresh_token.map(SecretString::from),
            expires_at_unix: Some(unix(expires_at)),
            obtained_at_unix: unix(SystemTime::now()),
            scope: String::new(),
            user_type,
            company_id: None,
            location_id: None,
            user_id: None,
            minted_from_agency: false,
            status: SessionStatus::Active,
        }
    }

    /// When the access token expires; `None` when that is unknown, or too far ahead for the
    /// platform's clock to represent.
    pub fn expires_at(&self) -> Option<SystemTime> {
        UNIX_EPOCH.checked_add(Duration::from_secs(self.expires_at_unix?))
    }

    /// Whether the access token is expired or expires within `skew` from now; never when
    /// its expiry is unknown.
    pub fn expires_within(&self, skew: Duration) -> bool {
        self.expires_at_unix
            .is_some_and(|at| unix(SystemTime::now()).saturating_add(skew.as_secs()) >= at)
    }

    /// Whether HighLevel refused this session's refresh token.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self.status, SessionStatus::NeedsReauthorization { .. })
    }

    /// The session as a JSON document, tokens in clear: for token stores only.
    pub fn to_store_json(&self) -> String {
        let record = Record {
            access_token: self.access_token.expose_secret(),
            refresh_token: self.refresh_token.as_ref().map(|t| t.expose_secret()),
            expires_at_unix: self.expires_at_unix,
            obtained_at_unix: self.obtained_at_unix,
            scope: &self.scope,
            user_type: self.user_type,
            company_id: self.company_id.as_deref(),
            location_id: self.location_id.as_deref(),
            user_id: self.user_id.as_deref(),
            minted_from_agency: self.minted_from_agency,
            status: &self.status,
        };
        // A struct of strings, numbers and a plain enum always serializes.
        serde_json::to_string(&record).unwrap_or_default()
    }

    /// Reads what [`Session::to_store_json`] wrote.
    ///
    /// # Errors
    ///
    /// The JSON error (which never quotes the document, so no token leaks through it).
    pub fn from_store_json(text: &str) -> Result<Self, serde_json::Error> {
        let record: OwnedRecord = serde_json::from_str(text)?;
        Ok(Self {
            access_token: SecretString::from(record.access_token),
            refresh_token: record.refresh_token.map(SecretString::from),
            expires_at_unix: record.expires_at_unix,
            obtained_at_unix: record.obtained_at_unix,
            scope: record.scope,
            user_type: record.user_type,
            company_id: record.company_id,
            location_id: record.location_id,
            user_id: record.user_id,
            minted_from_agency: record.minted_from_agency,
            status: record.status,
        })
    }
}

#[derive(Serialize)]
struct Record<'a> {
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    expires_at_unix: Option<u64>,
    obtained_at_unix: u64,
    scope: &'a str,
    user_type: UserType,
    company_id: Option<&'a str>,
    location_id: Option<&'a str>,
    user_id: Option<&'a str>,
    minted_from_agency: bool,
    status: &'a SessionStatus,
}

#[derive(Deserialize)]
struct OwnedRecord {
    access_token: String,
    refresh_token: Option<String>,
    expires_at_unix: Option<u64>,
    #[serde(default)]
    obtained_at_unix: u64,
    #[serde(default)]
    scope: String,
    user_type: UserType,
    company_id: Option<String>,
    location_id: Option<String>,
    user_id: Option<String>,
    #[serde(default)]
    minted_from_agency: bool,
    status: SessionStatus,
}

pub(crate) fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_json_round_trips_and_debug_redacts() {
        let mut session = Session::new(
            "access-secret-1",
            Some("refresh-secret-1".into()),
            UNIX_EPOCH + Duration::from_secs(1_900_000_000),
            UserType::Location,
        );
        session.location_id = Some("loc1".into());
        let back = Session::from_store_json(&session.to_store_json()).expect("round trip");
        assert_eq!(back.access_token.expose_secret(), "access-secret-1");
        assert_eq!(
            back.refresh_token.as_ref().map(|t| t.expose_secret()),
            Some("refresh-secret-1")
        );
        assert_eq!(back.location_id.as_deref(), Some("loc1"));
        assert_eq!(back.expires_at_unix, Some(1_900_000_000));
        let shown = format!("{back:?}");
        assert!(!shown.contains("secret"), "{shown}");
        let err = Session::from_store_json("{\"access_token\":\"tok-leak\"").err();
        assert!(!format!("{err:?}").contains("tok-leak"));
    }

    #[test]
    fn expiry_honours_the_skew() {
        let soon = Session::new(
            "a",
            None,
            SystemTime::now() + Duration::from_secs(60),
            UserType::Company,
        );
        assert!(!soon.expires_within(Duration::ZERO));
        assert!(soon.expires_within(Duration::from_secs(120)));
    }

    #[test]
    fn an_unknown_or_unrepresentable_expiry_neither_panics_nor_renews_ahead() {
        let mut session = Session::new("a", None, SystemTime::now(), UserType::Location);
        session.expires_at_unix = None;
        assert_eq!(session.expires_at(), None);
        assert!(!session.expires_within(Duration::MAX));
        session.expires_at_unix = Some(u64::MAX);
        assert_eq!(session.expires_at(), None);
        assert!(!session.expires_within(Duration::from_secs(3_600)));
        // A record written before the expiry could be unknown still reads.
        let old = r#"{"access_token":"a","refresh_token":null,"expires_at_unix":5,
            "user_type":"Location","company_id":null,"location_id":null,"user_id":null,
            "status":"Active"}"#;
        let read = Session::from_store_json(old).map_err(|e| e.to_string());
        assert_eq!(read.map(|s| s.expires_at_unix), Ok(Some(5)));
    }
}
