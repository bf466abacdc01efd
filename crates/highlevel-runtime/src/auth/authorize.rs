//! The first leg of the OAuth flow: the authorization page URL, and the callback it
//! redirects to.

use std::fmt;

use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Deserializer, Serialize};

use super::error::AuthError;
use super::session::UserType;
use crate::Scope;
use crate::object::Object;

/// Where the admin installing the app is sent.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthorizationHost {
    /// `https://marketplace.gohighlevel.com`.
    #[default]
    Standard,
    /// `https://marketplace.leadconnectorhq.com`, for white-labelled agencies.
    WhiteLabel,
    /// Another origin (a sandbox), without a trailing slash.
    Custom(String),
}

impl AuthorizationHost {
    /// The origin the `/v2/oauth/chooselocation` path is appended to.
    pub fn origin(&self) -> &str {
        match self {
            Self::Standard => "https://marketplace.gohighlevel.com",
            Self::WhiteLabel => "https://marketplace.leadconnectorhq.com",
            Self::Custom(origin) => origin.trim_end_matches('/'),
        }
    }
}

/// An authorization page URL and what the callback must be checked against.
///
/// Keep the [`PendingAuthorization`] (in the user's session or a signed cookie; it is
/// `Serialize`) and give it back to `complete_authorization` with the callback URL.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// Where to redirect the admin.
    pub url: reqwest::Url,
    /// What the callback is verified against.
    pub pending: PendingAuthorization,
}

/// The state a callback must carry, and how its code is to be exchanged.
///
/// In JSON (to keep it between the redirect and the callback):
/// `{"state": "…", "redirect_uri": "…", "user_type": "Location"}`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingAuthorization {
    /// The random `state` sent to the authorization page.
    pub state: String,
    /// The `redirect_uri` sent (the token endpoint wants it again).
    pub redirect_uri: String,
    /// The token kind to ask for.
    pub user_type: UserType,
}

impl Serialize for PendingAuthorization {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut pending = serializer.serialize_struct("PendingAuthorization", 3)?;
        pending.serialize_field("state", &self.state)?;
        pending.serialize_field("redirect_uri", &self.redirect_uri)?;
        pending.serialize_field("user_type", &self.user_type)?;
        pending.end()
    }
}

impl<'de> Deserialize<'de> for PendingAuthorization {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut pending = Object::read(deserializer, "a pending authorization")?;
        Ok(Self {
            state: pending.required("state")?,
            redirect_uri: pending.required("redirect_uri")?,
            user_type: pending.required("user_type")?,
        })
    }
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state is a one-time anti-forgery value: keep it out of logs.
        f.debug_struct("PendingAuthorization")
            .field("state", &"[REDACTED]")
            .field("redirect_uri", &self.redirect_uri)
            .field("user_type", &self.user_type)
            .finish()
    }
}

/// Builds an authorization page URL; from `OAuthApp::authorize`.
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthorizeBuilder {
    origin: String,
    client_id: String,
    redirect_uri: String,
    scopes: Vec<Scope>,
    same_window: bool,
    user_type: UserType,
}

impl AuthorizeBuilder {
    pub(crate) fn new(origin: &str, client_id: &str, redirect_uri: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scopes: Vec::new(),
            same_window: false,
            user_type: UserType::Location,
        }
    }

    /// Asks for one more scope.
    pub fn scope(mut self, scope: impl Into<Scope>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Asks for these scopes too.
    pub fn scopes<S: Into<Scope>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Logs the admin in in the same tab (`loginWindowOpenMode=self`) instead of a new one.
    pub fn same_window(mut self) -> Self {
        self.same_window = true;
        self
    }

    /// Exchanges the code for an agency (`Company`) token instead of a location token.
    pub fn agency(mut self) -> Self {
        self.user_type = UserType::Company;
        self
    }

    /// The URL, with a fresh random `state`.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidConfig`] when the redirect URI is not an absolute http(s) URL, the
    /// host is not a URL, or there is no rustls crypto provider to draw the `state` from
    /// (neither the `ring` nor the `aws-lc-rs` feature, and none installed).
    pub fn build(self) -> Result<AuthorizationRequest, AuthError> {
        let redirect = reqwest::Url::parse(&self.redirect_uri)
            .map_err(|e| AuthError::InvalidConfig(format!("redirect_uri: {e}")))?;
        if !matches!(redirect.scheme(), "http" | "https") {
            return Err(AuthError::InvalidConfig(
                "redirect_uri must be an http(s) URL".into(),
            ));
        }
        let mut url = reqwest::Url::parse(&format!("{}/v2/oauth/chooselocation", self.origin))
            .map_err(|e| AuthError::InvalidConfig(format!("authorization host: {e}")))?;
        let state = random_state()?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("client_id", &self.client_id)
                .append_pair("scope", &Scope::join(&self.scopes))
                .append_pair("state", &state);
            if self.same_window {
                query.append_pair("loginWindowOpenMode", "self");
            }
        }
        Ok(AuthorizationRequest {
            url,
            pending: PendingAuthorization {
                state,
                redirect_uri: self.redirect_uri,
                user_type: self.user_type,
            },
        })
    }
}

/// 256 bits from the TLS provider's CSPRNG, as 64 hex characters.
fn random_state() -> Result<String, AuthError> {
    crate::random::secure_hex(32)
        .map_err(|e| AuthError::InvalidConfig(format!("no random source for the state: {e}")))
}

/// Reads the authorization code out of a callback (a full URL, a path with a query, or the
/// query alone) after checking its `state`.
pub(crate) fn code_from_callback(
    callback: &str,
    pending: &PendingAuthorization,
) -> Result<String, AuthError> {
    let query = match callback.split_once('?') {
        Some((_, query)) => query,
        None if callback.contains('=') => callback,
        None => return Err(AuthError::InvalidCallback("no query string".into())),
    };
    let query = query.split('#').next().unwrap_or_default();
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "code" => code = Some(value.into_owned()),
            "state" => state = Some(value.into_owned()),
            "error" => error = Some(value.into_owned()),
            "error_description" => description = Some(value.into_owned()),
            _ => {}
        }
    }
    if !state.is_some_and(|s| same(s.as_bytes(), pending.state.as_bytes())) {
        return Err(AuthError::StateMismatch);
    }
    if let Some(error) = error {
        return Err(AuthError::AuthorizationDenied { error, description });
    }
    code.filter(|c| !c.is_empty())
        .ok_or_else(|| AuthError::InvalidCallback("no code parameter".into()))
}

/// Compares without stopping at the first difference, so the time taken says nothing about
/// how much of a guessed state was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingAuthorization {
        PendingAuthorization {
            state: "s1".into(),
            redirect_uri: "https://app.example/cb".into(),
            user_type: UserType::Location,
        }
    }

    #[test]
    fn a_pending_authorization_keeps_its_json_shape() {
        let written = serde_json::to_value(pending()).expect("serializes");
        assert_eq!(
            written,
            serde_json::json!({
                "state": "s1", "redirect_uri": "https://app.example/cb", "user_type": "Location"
            })
        );
        let back: PendingAuthorization = serde_json::from_value(written).expect("reads back");
        assert!(back == pending());
        let missing = serde_json::from_str::<PendingAuthorization>(r#"{"state":"s1"}"#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(missing.as_deref(), Some("missing field `redirect_uri`"));
    }

    #[test]
    fn url_carries_every_parameter() {
        let request = AuthorizeBuilder::new(
            AuthorizationHost::WhiteLabel.origin(),
            "app-1",
            "https://app.example/cb?x=1",
        )
        .scope(Scope::from("contacts.readonly"))
        .scope("brand-new.scope")
        .same_window()
        .build()
        .expect("valid");
        let url = request.url.as_str();
        assert!(
            url.starts_with("https://marketplace.leadconnectorhq.com/v2/oauth/chooselocation?"),
            "{url}"
        );
        assert!(
            url.contains("scope=contacts.readonly+brand-new.scope"),
            "{url}"
        );
        assert!(
            url.contains("redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1"),
            "{url}"
        );
        assert!(url.contains("loginWindowOpenMode=self"), "{url}");
        assert!(url.contains(&format!("state={}", request.pending.state)));
        assert_eq!(request.pending.state.len(), 64);
        assert!(!format!("{:?}", request.pending).contains(&request.pending.state));
    }

    #[test]
    fn bad_redirect_uris_are_refused() {
        for bad in ["", "/cb", "ftp://x/cb"] {
            let built = AuthorizeBuilder::new("https://h", "c", bad).build();
            assert!(matches!(built, Err(AuthError::InvalidConfig(_))), "{bad}");
        }
    }

    #[test]
    fn callback_state_is_checked_before_anything_else() {
        let p = pending();
        assert_eq!(
            code_from_callback("https://app.example/cb?code=abc&state=s1", &p).ok(),
            Some("abc".to_owned())
        );
        assert!(matches!(
            code_from_callback("code=abc&state=s2", &p),
            Err(AuthError::StateMismatch)
        ));
        assert!(matches!(
            code_from_callback("/cb?code=abc", &p),
            Err(AuthError::StateMismatch)
        ));
        assert!(matches!(
            code_from_callback("/cb?error=access_denied&state=s1", &p),
            Err(AuthError::AuthorizationDenied { .. })
        ));
        assert!(matches!(
            code_from_callback("/cb?state=s1", &p),
            Err(AuthError::InvalidCallback(_))
        ));
        assert!(matches!(
            code_from_callback("nothing", &p),
            Err(AuthError::InvalidCallback(_))
        ));
    }
}
