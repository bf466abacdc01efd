//! What every module of the sandbox shares: its identity (token, location, base URL) and each
//! module's in-memory data.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::contacts::ContactStore;
use crate::oauth::{Bearer, Grant, OAuthSetup, OAuthState, Subject};
use crate::rate_limit::{RateLimitState, RateLimits};
use crate::webhooks::Webhooks;

/// The sandbox's state, cheap to clone into handlers.
#[derive(Debug, Clone)]
pub struct Shared(Arc<Inner>);

struct Inner {
    token: String,
    location_id: String,
    body_timeout: Duration,
    base_url: OnceLock<String>,
    contacts: Mutex<ContactStore>,
    oauth: Mutex<OAuthState>,
    rate_limits: Mutex<RateLimitState>,
    webhooks: Webhooks,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox state")
            .field("location_id", &self.location_id)
            .field("base_url", &self.base_url.get())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub fn new(
        token: String,
        location_id: String,
        body_timeout: Duration,
        oauth: OAuthSetup,
        rate_limits: Option<RateLimits>,
        webhooks: Webhooks,
    ) -> Self {
        Self(Arc::new(Inner {
            token,
            location_id,
            body_timeout,
            base_url: OnceLock::new(),
            contacts: Mutex::new(ContactStore::default()),
            oauth: Mutex::new(OAuthState::new(oauth)),
            rate_limits: Mutex::new(RateLimitState::new(rate_limits)),
            webhooks,
        }))
    }

    /// What `token` is: the private integration token, an issued OAuth access token (valid
    /// or expired), or nothing the sandbox knows.
    pub fn bearer(&self, token: &str) -> Bearer {
        // Constant-time enough for a test server; the point is only which token is valid.
        if token == self.0.token {
            return Bearer::Valid(Grant {
                subject: Subject::Location(self.0.location_id.clone()),
                scope: String::new(),
            });
        }
        self.oauth().bearer(token)
    }

    /// The OAuth side, locked (same reasoning as [`Shared::contacts`]).
    pub fn oauth(&self) -> MutexGuard<'_, OAuthState> {
        self.0
            .oauth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The rate limiter, locked (same reasoning as [`Shared::contacts`]).
    pub fn rate_limits(&self) -> MutexGuard<'_, RateLimitState> {
        self.0
            .rate_limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where events go (nowhere unless a webhook URL is configured).
    pub fn webhooks(&self) -> &Webhooks {
        &self.0.webhooks
    }

    /// How long a request body may take to arrive.
    pub fn body_timeout(&self) -> Duration {
        self.0.body_timeout
    }

    pub fn location_id(&self) -> &str {
        &self.0.location_id
    }

    /// Set once the listener is bound; paging links are absolute, as HighLevel's are.
    pub fn set_base_url(&self, url: String) {
        let _ = self.0.base_url.set(url);
    }

    pub fn base_url(&self) -> &str {
        self.0.base_url.get().map_or("", String::as_str)
    }

    /// The contacts, locked. A handler that panicked mid-update cannot leave them torn (every
    /// update is one map operation), so a poisoned lock is taken over.
    pub fn contacts(&self) -> MutexGuard<'_, ContactStore> {
        self.0
            .contacts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
