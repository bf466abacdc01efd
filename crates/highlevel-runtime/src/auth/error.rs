//! Why a token could not be had.

use std::fmt;
use std::time::Duration;

use super::session::Resource;
use super::store::StoreError;
use crate::ApiError;

/// Why authentication failed. Never contains a token, secret or authorization code.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthError {
    /// The handle names no location or agency, so there is no session to use: call
    /// `hl.location(id)` or `hl.agency(company_id)`, or give the app a default company.
    NotScoped,
    /// The operation only takes an agency token and the handle is scoped to a location whose
    /// agency is unknown: scope it with `hl.agency(company_id).location(id)`.
    NoAgencyForOperation {
        /// The location the handle is scoped to.
        location_id: String,
    },
    /// The operation only takes a location token and the handle is scoped to an agency:
    /// scope it with `.location(id)`.
    NoLocationForOperation {
        /// The agency the handle is scoped to.
        company_id: String,
    },
    /// No session is stored for the resource and none can be minted (a location without a
    /// known agency, or an agency that never installed the app).
    NotInstalled {
        /// The resource.
        resource: Resource,
    },
    /// HighLevel refused the resource's refresh token (`invalid_grant`): the app must be
    /// installed again there. The session is kept in the store, marked, for inspection.
    ReauthorizationNeeded {
        /// The resource.
        resource: Resource,
        /// HighLevel's description of the refusal.
        reason: String,
    },
    /// A refresh succeeded but the rotated tokens could not be written to the store. They are
    /// kept in this process and written before the next use of the resource; until then every
    /// call for it fails with this error rather than risk losing them.
    RotatedTokensNotSaved {
        /// The resource.
        resource: Resource,
        /// The store's failure.
        source: StoreError,
    },
    /// The token store failed.
    Store(StoreError),
    /// Another process held the refresh lease for longer than the wait allows.
    LeaseTimeout {
        /// The resource.
        resource: Resource,
        /// How long this process waited.
        waited: Duration,
    },
    /// HighLevel's OAuth endpoint answered with an error other than `invalid_grant`
    /// (`invalid_client` for a wrong client secret, a 5xx, …).
    Endpoint(Box<ApiError>),
    /// The OAuth endpoint could not be reached.
    Transport {
        /// Which endpoint.
        endpoint: &'static str,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The OAuth endpoint's success answer lacks what a session needs.
    InvalidTokenResponse {
        /// Which endpoint.
        endpoint: &'static str,
        /// What is missing or malformed (never the body, which holds tokens).
        reason: String,
    },
    /// The OAuth endpoint answered with a redirect. It is not followed: the request carried
    /// the client secret and a code or refresh token, and nothing is sent anywhere else.
    Redirected {
        /// Which endpoint.
        endpoint: &'static str,
        /// The redirect's status (301, 302, 303, 307, 308), or 200 when the HTTP client
        /// given to the app followed the redirect itself (it must not; see
        /// `HighLevelBuilder::oauth_http_client`).
        status: u16,
        /// Where it pointed (`Location`), when it said.
        location: Option<String>,
    },
    /// The installed-locations endpoint (v3) answered a `nextPageToken` that was already
    /// followed: listing stopped rather than loop over the same pages.
    RepeatedPageToken {
        /// Which endpoint.
        endpoint: &'static str,
        /// How many pages were read before the repeat.
        pages: usize,
    },
    /// The callback's `state` is not the one this authorization was started with: the
    /// callback may be forged (CSRF) and was not exchanged.
    StateMismatch,
    /// The callback carries an `error` (the admin declined, or the request was invalid).
    AuthorizationDenied {
        /// The `error` parameter.
        error: String,
        /// The `error_description` parameter, if any.
        description: Option<String>,
    },
    /// The callback is not a URL or query with a `code`.
    InvalidCallback(String),
    /// A configuration value is unusable (an empty client id, a redirect URI that is not a
    /// URL, a token that cannot go into a header).
    InvalidConfig(String),
}

impl AuthError {
    /// The resource the failure concerns, if it concerns one.
    pub fn resource(&self) -> Option<&Resource> {
        match self {
            Self::NotInstalled { resource }
            | Self::ReauthorizationNeeded { resource, .. }
            | Self::RotatedTokensNotSaved { resource, .. }
            | Self::LeaseTimeout { resource, .. } => Some(resource),
            _ => None,
        }
    }

    /// Whether the resource's admin must install the app again.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self, Self::ReauthorizationNeeded { .. })
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotScoped => f.write_str(
                "the handle names no location or agency: use hl.location(id) or hl.agency(company_id)",
            ),
            Self::NoAgencyForOperation { location_id } => write!(
                f,
                "the operation needs an agency token and the agency of location {location_id} \
                 is unknown: use hl.agency(company_id).location({location_id})"
            ),
            Self::NoLocationForOperation { company_id } => write!(
                f,
                "the operation needs a location token: use hl.agency({company_id}).location(id)"
            ),
            Self::NotInstalled { resource } => {
                write!(f, "no OAuth session for {resource} and none can be minted")
            }
            Self::ReauthorizationNeeded { resource, reason } => write!(
                f,
                "{resource} must install the app again: HighLevel refused its refresh token ({reason})"
            ),
            Self::RotatedTokensNotSaved { resource, source } => write!(
                f,
                "refreshed {resource} but could not save the rotated tokens (kept in memory, \
                 retried on next use): {source}"
            ),
            Self::Store(e) => e.fmt(f),
            Self::LeaseTimeout { resource, waited } => write!(
                f,
                "another process has been refreshing {resource} for {waited:?}; gave up waiting"
            ),
            Self::Endpoint(e) => write!(f, "OAuth endpoint refused: {e}"),
            Self::Transport { endpoint, source } => write!(f, "{endpoint}: {source}"),
            Self::InvalidTokenResponse { endpoint, reason } => {
                write!(f, "{endpoint}: unusable answer: {reason}")
            }
            Self::Redirected {
                endpoint,
                status,
                location,
            } => write!(
                f,
                "{endpoint}: answered a redirect ({status}) to {}; not followed, so the \
                 client secret went nowhere else",
                location.as_deref().unwrap_or("an unnamed location")
            ),
            Self::RepeatedPageToken { endpoint, pages } => write!(
                f,
                "{endpoint}: page {pages} names a nextPageToken already followed; stopped \
                 instead of looping"
            ),
            Self::StateMismatch => f.write_str(
                "the callback's state does not match the authorization request (possible CSRF)",
            ),
            Self::AuthorizationDenied { error, description } => match description {
                Some(d) => write!(f, "authorization denied: {error}: {d}"),
                None => write!(f, "authorization denied: {error}"),
            },
            Self::InvalidCallback(why) => write!(f, "invalid OAuth callback: {why}"),
            Self::InvalidConfig(why) => write!(f, "invalid OAuth configuration: {why}"),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::RotatedTokensNotSaved { source, .. } | Self::Store(source) => Some(source),
            Self::Endpoint(e) => Some(e.as_ref()),
            Self::Transport { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
