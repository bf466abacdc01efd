//! The per-handle runtime every generated client carries as its `inner`: credentials, the
//! rate-limit budgets and the retry policy, shared by all module clients of one handle.

use std::sync::{Arc, OnceLock};

use reqwest::header::HeaderValue;

use crate::auth::OAuthApp;
use crate::credentials::Credentials;
use crate::rate_limit::{RateLimitConfig, RateLimitStatus, RateLimiter, ResourceLimiter};
use crate::retry::RetryConfig;

/// State shared by every generated client of one `HighLevel` handle.
///
/// It is the `Inner` type of every generated `Client`, and cheap to clone (one `Arc`) so
/// all module clients share one set of credentials and one set of rate-limit budgets. With OAuth
/// credentials it also names the location and/or agency whose tokens calls use.
#[derive(Clone, Debug)]
pub struct Runtime {
    shared: Arc<Shared>,
    location: Option<Arc<str>>,
    company: Option<Arc<str>>,
    /// This handle's retry policy, when it differs from the shared one.
    retry: Option<Arc<RetryConfig>>,
    /// The largest response body this handle reads.
    max_response_bytes: usize,
}

#[derive(Debug)]
struct Shared {
    credentials: Credentials,
    rate_limiter: RateLimiter,
    retry: RetryConfig,
    /// A static token's `Authorization` value, built once rather than per request.
    static_authorization: OnceLock<Result<HeaderValue, &'static str>>,
    /// A static token's budget, looked up once rather than per request.
    static_budget: OnceLock<Arc<ResourceLimiter>>,
}

/// The budget key of static tokens.
const STATIC_TOKEN_RESOURCE: &str = "token";

impl Runtime {
    /// A runtime that authenticates every request with `credentials`, paced by HighLevel's
    /// documented limits and retried with the default [`RetryConfig`].
    pub fn new(credentials: Credentials) -> Self {
        Self::configured(
            credentials,
            RateLimitConfig::default(),
            RetryConfig::default(),
        )
    }

    /// A runtime with its own rate limits and retry policy.
    pub fn configured(
        credentials: Credentials,
        rate_limit: RateLimitConfig,
        retry: RetryConfig,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                credentials,
                rate_limiter: RateLimiter::new(rate_limit),
                retry,
                static_authorization: OnceLock::new(),
                static_budget: OnceLock::new(),
            }),
            location: None,
            company: None,
            retry: None,
            max_response_bytes: crate::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// The same runtime (credentials, rate-limit budgets, scope) with another retry policy,
    /// for one call or a group of calls.
    pub fn with_retry(&self, retry: RetryConfig) -> Self {
        Self {
            retry: Some(Arc::new(retry)),
            ..self.clone()
        }
    }

    /// The same runtime with another cap on response bodies (default
    /// [`crate::DEFAULT_MAX_RESPONSE_BYTES`]): a larger body fails the call with
    /// [`crate::Error::ResponseTooLarge`] as soon as the cap is passed, unread beyond it.
    /// Downloads are not capped.
    pub fn with_max_response_bytes(&self, bytes: usize) -> Self {
        Self {
            max_response_bytes: bytes,
            ..self.clone()
        }
    }

    /// The largest response body calls through this runtime read.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// The retry policy calls through this runtime follow.
    pub fn retry_config(&self) -> RetryConfig {
        self.retry_policy().clone()
    }

    /// [`Runtime::retry_config`], not copied.
    pub(crate) fn retry_policy(&self) -> &RetryConfig {
        self.retry.as_deref().unwrap_or(&self.shared.retry)
    }

    /// The rate-limit configuration every scope of this runtime shares.
    pub fn rate_limit_config(&self) -> &RateLimitConfig {
        self.shared.rate_limiter.config()
    }

    /// The latest known budget of every resource called so far, sorted by resource.
    pub fn rate_limits(&self) -> Vec<RateLimitStatus> {
        self.shared.rate_limiter.statuses()
    }

    /// The latest known budget of one resource: `location:<id>`, `company:<id>`, or
    /// `token` for a private integration or static access token.
    pub fn rate_limit(&self, resource: &str) -> Option<RateLimitStatus> {
        self.shared.rate_limiter.status(resource)
    }

    pub(crate) fn rate_limiter(&self) -> &RateLimiter {
        &self.shared.rate_limiter
    }

    /// The budget every call with a static token spends (a private integration token
    /// belongs to exactly one location or agency).
    pub(crate) fn static_budget(&self) -> &Arc<ResourceLimiter> {
        self.shared
            .static_budget
            .get_or_init(|| self.shared.rate_limiter.resource(STATIC_TOKEN_RESOURCE))
    }

    /// The `Authorization` value of a static token, or why the token cannot be one.
    pub(crate) fn static_authorization(&self) -> Option<Result<&HeaderValue, &'static str>> {
        let token = self.shared.credentials.static_bearer()?;
        Some(
            self.shared
                .static_authorization
                .get_or_init(|| crate::bearer::header_value(token))
                .as_ref()
                .map_err(|why| *why),
        )
    }

    /// The same credentials, scoped to a location (sub-account): calls use its token.
    pub fn for_location(&self, location_id: &str) -> Self {
        Self {
            location: Some(Arc::from(location_id)),
            ..self.clone()
        }
    }

    /// The same credentials, scoped to an agency (company): calls that take an agency token
    /// use its token, and its locations' tokens are minted from it.
    pub fn for_agency(&self, company_id: &str) -> Self {
        Self {
            company: Some(Arc::from(company_id)),
            ..self.clone()
        }
    }

    /// The location this runtime is scoped to.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The agency this runtime is scoped to, or the OAuth app's default agency.
    pub fn company(&self) -> Option<&str> {
        self.company.as_deref().or(match &self.shared.credentials {
            Credentials::OAuth(app) => app.default_company(),
            _ => None,
        })
    }

    /// The OAuth app, when the credentials are one.
    pub fn oauth_app(&self) -> Option<&OAuthApp> {
        match &self.shared.credentials {
            Credentials::OAuth(app) => Some(app),
            _ => None,
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
    use secrecy::SecretString;

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
