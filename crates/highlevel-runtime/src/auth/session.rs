//! What a token store holds: one OAuth session per (app, resource).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeStruct, SerializeStructVariant, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::object::{Object, one_of};

/// What a token is for: a sub-account (location) or an agency (company).
///
/// In JSON: `{"kind": "Location", "id": "<location id>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
///
/// In JSON: `"Active"`, or `{"NeedsReauthorization": {"reason": "…", "at_unix": 1700000000}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
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
        let mut record: Object<serde_json::Error> =
            Object::from_value(serde_json::from_str(text)?, "a session")?;
        Ok(Self {
            access_token: SecretString::from(record.required::<String>("access_token")?),
            refresh_token: record
                .optional::<String>("refresh_token")?
                .map(SecretString::from),
            expires_at_unix: record.optional("expires_at_unix")?,
            // Absent from records written before they were kept.
            obtained_at_unix: record.optional("obtained_at_unix")?.unwrap_or_default(),
            scope: record.optional("scope")?.unwrap_or_default(),
            user_type: record.required("user_type")?,
            company_id: record.optional("company_id")?,
            location_id: record.optional("location_id")?,
            user_id: record.optional("user_id")?,
            minted_from_agency: record.optional("minted_from_agency")?.unwrap_or_default(),
            status: record.required("status")?,
        })
    }
}

/// What [`Session::to_store_json`] writes: the session with its tokens in clear.
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

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut record = serializer.serialize_struct("Record", 11)?;
        record.serialize_field("access_token", self.access_token)?;
        record.serialize_field("refresh_token", &self.refresh_token)?;
        record.serialize_field("expires_at_unix", &self.expires_at_unix)?;
        record.serialize_field("obtained_at_unix", &self.obtained_at_unix)?;
        record.serialize_field("scope", self.scope)?;
        record.serialize_field("user_type", &self.user_type)?;
        record.serialize_field("company_id", &self.company_id)?;
        record.serialize_field("location_id", &self.location_id)?;
        record.serialize_field("user_id", &self.user_id)?;
        record.serialize_field("minted_from_agency", &self.minted_from_agency)?;
        record.serialize_field("status", self.status)?;
        record.end()
    }
}

const USER_TYPES: &[&str] = &["Location", "Company"];

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut resource = serializer.serialize_struct("Resource", 2)?;
        resource.serialize_field("kind", &self.user_type())?;
        resource.serialize_field("id", self.id())?;
        resource.end()
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut resource = Object::read(deserializer, "a resource ({\"kind\", \"id\"})")?;
        let kind = resource.required("kind")?;
        let id = resource.required("id")?;
        Ok(match kind {
            UserType::Location => Self::Location(id),
            UserType::Company => Self::Company(id),
        })
    }
}

impl Serialize for UserType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = match self {
            Self::Location => 0,
            Self::Company => 1,
        };
        serializer.serialize_unit_variant("UserType", index, self.as_str())
    }
}

impl<'de> Deserialize<'de> for UserType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match one_of(deserializer, USER_TYPES)? {
            0 => Self::Location,
            _ => Self::Company,
        })
    }
}

const NEEDS_REAUTHORIZATION: &str = "NeedsReauthorization";

impl Serialize for SessionStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Active => serializer.serialize_unit_variant("SessionStatus", 0, "Active"),
            Self::NeedsReauthorization { reason, at_unix } => {
                let mut status = serializer.serialize_struct_variant(
                    "SessionStatus",
                    1,
                    NEEDS_REAUTHORIZATION,
                    2,
                )?;
                status.serialize_field("reason", reason)?;
                status.serialize_field("at_unix", at_unix)?;
                status.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for SessionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(status) if status == "Active" => Ok(Self::Active),
            Value::Object(mut outer) if outer.len() == 1 => {
                let inner = outer.remove(NEEDS_REAUTHORIZATION).ok_or_else(|| {
                    D::Error::unknown_variant(
                        outer.keys().next().map_or("", String::as_str),
                        &["Active", NEEDS_REAUTHORIZATION],
                    )
                })?;
                let mut status: Object<D::Error> =
                    Object::from_value(inner, "the reason and time of the refusal")?;
                Ok(Self::NeedsReauthorization {
                    reason: status.required("reason")?,
                    at_unix: status.required("at_unix")?,
                })
            }
            _ => Err(D::Error::custom(
                "expected \"Active\" or {\"NeedsReauthorization\": {\"reason\", \"at_unix\"}}",
            )),
        }
    }
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

    /// Stores hold sessions written before these impls were written by hand (serde's derive):
    /// the JSON keeps its shape field for field.
    #[test]
    fn the_store_json_keeps_its_shape_and_reads_back() {
        let mut session = Session::new(
            "access-1",
            Some("refresh-1".into()),
            UNIX_EPOCH + Duration::from_secs(100),
            UserType::Company,
        );
        session.obtained_at_unix = 40;
        session.company_id = Some("co-1".into());
        session.status = SessionStatus::NeedsReauthorization {
            reason: "invalid_grant".into(),
            at_unix: 90,
        };
        let text = session.to_store_json();
        let written: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            written,
            serde_json::json!({
                "access_token": "access-1", "refresh_token": "refresh-1",
                "expires_at_unix": 100, "obtained_at_unix": 40, "scope": "",
                "user_type": "Company", "company_id": "co-1", "location_id": null,
                "user_id": null, "minted_from_agency": false,
                "status": { "NeedsReauthorization": { "reason": "invalid_grant", "at_unix": 90 } }
            })
        );
        let back = Session::from_store_json(&text).expect("reads back");
        assert_eq!(back.status, session.status);
        assert_eq!(back.user_type, UserType::Company);
        assert_eq!(back.company_id.as_deref(), Some("co-1"));

        let active = text.replace(
            r#"{"NeedsReauthorization":{"reason":"invalid_grant","at_unix":90}}"#,
            r#""Active""#,
        );
        let back = Session::from_store_json(&active).expect("an active session");
        assert_eq!(back.status, SessionStatus::Active);
        for bad in [r#""Paused""#, r#"{"Other":{}}"#, "7"] {
            let odd = text.replace(
                r#"{"NeedsReauthorization":{"reason":"invalid_grant","at_unix":90}}"#,
                bad,
            );
            assert!(Session::from_store_json(&odd).is_err(), "{bad}");
        }
        let unknown_kind = text.replace(r#""Company""#, r#""Agency""#);
        assert!(Session::from_store_json(&unknown_kind).is_err());
    }

    #[test]
    fn a_resource_is_its_kind_and_id() {
        let resource = Resource::Location("loc-1".into());
        let written = serde_json::to_value(&resource).expect("serializes");
        assert_eq!(
            written,
            serde_json::json!({ "kind": "Location", "id": "loc-1" })
        );
        let back: Resource = serde_json::from_value(written).expect("reads back");
        assert_eq!(back, resource);
        let company: Resource =
            serde_json::from_str(r#"{"id":"co-1","kind":"Company"}"#).expect("any key order");
        assert_eq!(company, Resource::Company("co-1".into()));
        for bad in [
            r#"{"kind":"Agency","id":"x"}"#,
            r#"{"kind":"Location"}"#,
            r#""loc-1""#,
        ] {
            assert!(serde_json::from_str::<Resource>(bad).is_err(), "{bad}");
        }
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
