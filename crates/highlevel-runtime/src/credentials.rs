//! Credentials and the per-client runtime every generated client carries as its `inner`.

use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;

/// How requests authenticate.
///
/// Both kinds are sent as `Authorization: Bearer <token>`; they are kept apart so that later
/// work (OAuth refresh) can treat them differently. Tokens live in [`SecretString`] so they
/// are zeroed on drop and never appear in `Debug` output. Non-exhaustive because more
/// credential kinds (refreshable OAuth) are planned.
#[non_exhaustive]
pub enum Credentials {
    /// A private integration token (agency or sub-account settings → Private Integrations).
    PrivateIntegrationToken(SecretString),
    /// An OAuth access token obtained elsewhere, sent as is.
    AccessToken(SecretString),
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

    pub(crate) fn bearer(&self) -> &SecretString {
        match self {
            Self::PrivateIntegrationToken(token) | Self::AccessToken(token) => token,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::PrivateIntegrationToken(_) => "PrivateIntegrationToken",
            Self::AccessToken(_) => "AccessToken",
        };
        write!(f, "{kind}([REDACTED])")
    }
}

/// State shared by every generated client of one `HighLevel` handle.
///
/// It is the `Inner` type of every generated `Client`, and cheap to clone (one `Arc`) so
/// all module clients share one set of credentials (and, later, one rate limiter).
#[derive(Clone, Debug)]
pub struct Runtime {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    credentials: Credentials,
}

impl Runtime {
    /// A runtime that authenticates every request with `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            shared: Arc::new(Shared { credentials }),
        }
    }

    /// The credentials requests are sent with, for code that needs to know the token kind.
    pub fn credentials(&self) -> &Credentials {
        &self.shared.credentials
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_tokens() {
        let runtime = Runtime::new(Credentials::PrivateIntegrationToken(SecretString::from(
            "pit-very-secret",
        )));
        let shown = format!("{runtime:?} {:?}", runtime.credentials());
        assert!(!shown.contains("pit-very-secret"), "{shown}");
        assert!(shown.contains("PrivateIntegrationToken"), "{shown}");
    }
}
