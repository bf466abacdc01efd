//! How requests authenticate: a static token, or an OAuth app's sessions.

use std::fmt;

use secrecy::SecretString;

use crate::auth::OAuthApp;

/// How requests authenticate.
///
/// Static tokens are sent as `Authorization: Bearer <token>` as given. An OAuth app picks,
/// per call, the session of the location or agency the handle is scoped to and keeps it
/// fresh. Tokens live in [`SecretString`] so they are zeroed on drop and never appear in
/// `Debug` output.
#[non_exhaustive]
pub enum Credentials {
    /// A private integration token (agency or sub-account settings → Private Integrations).
    PrivateIntegrationToken(SecretString),
    /// An OAuth access token obtained elsewhere, sent as is.
    AccessToken(SecretString),
    /// A marketplace app's sessions, refreshed and minted as needed.
    OAuth(OAuthApp),
}

impl Credentials {
    /// A private integration token, without the caller having to build a [`SecretString`].
    pub fn private_integration_token(token: impl Into<String>) -> Self {
        Self::PrivateIntegrationToken(SecretString::from(token.into()))
    }

    /// An OAuth access token, without the caller having to build a [`SecretString`].
    pub fn access_token(token: impl Into<String>) -> Self {
        Self::AccessToken(SecretString::from(token.into()))
    }

    /// The token sent with every call, for static credentials.
    pub(crate) fn static_bearer(&self) -> Option<&SecretString> {
        match self {
            Self::PrivateIntegrationToken(token) | Self::AccessToken(token) => Some(token),
            Self::OAuth(_) => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PrivateIntegrationToken(_) => f.write_str("PrivateIntegrationToken([REDACTED])"),
            Self::AccessToken(_) => f.write_str("AccessToken([REDACTED])"),
            Self::OAuth(app) => f.debug_tuple("OAuth").field(app).finish(),
        }
    }
}
