//! OAuth 2.0 for HighLevel marketplace apps: the install flow, agency→location tokens,
//! token stores, and the lifecycle that keeps every session usable.
//!
//! HighLevel's refresh tokens are single-use: each refresh returns a new one and kills the
//! old. Everything here is built so that a refresh is never lost (the new tokens are stored
//! before they are used) and never doubled (one refresh per token across tasks and
//! processes). See [`lifecycle`](self) for how.

mod app;
mod authorize;
mod dialect;
mod endpoints;
mod error;
mod lifecycle;
mod session;
pub mod store;

pub use app::{
    DEFAULT_LEASE_TTL, DEFAULT_MINT_CONCURRENCY, DEFAULT_REFRESH_SKEW, DEFAULT_STORE_TIMEOUT,
    DEFAULT_UNAUTHORIZED_COOLDOWN, Installed, MAX_LEASE_TTL, MintReport, OAuthApp, OAuthConfig,
};
pub use authorize::{
    AuthorizationHost, AuthorizationRequest, AuthorizeBuilder, PendingAuthorization,
};
pub use dialect::OAuthEndpoints;
pub use endpoints::InstalledLocation;
pub use error::AuthError;
pub(crate) use lifecycle::resource_for;
pub use session::{Resource, Session, SessionKey, SessionStatus, UserType};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "redis")]
pub use store::RedisStore;
pub use store::{Expected, FileStore, MemoryStore, StoreError, StoreFuture, TokenStore, Versioned};

/// The `Authorization` value for an OAuth access token (API calls and the agency OAuth
/// endpoints alike); a token that cannot be one is the app's configuration at fault.
pub(crate) fn bearer(
    token: &secrecy::SecretString,
) -> Result<reqwest::header::HeaderValue, AuthError> {
    crate::bearer::header_value(token).map_err(|why| AuthError::InvalidConfig(why.into()))
}
