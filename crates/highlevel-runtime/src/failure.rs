//! A failure of the runtime itself (no usable OAuth token, a spent rate-limit budget),
//! carried from the request loop to the error mapping ([`crate::decode`]) as a synthetic
//! response: between them it travels as the request loop's answer, a `reqwest::Response`.

use std::sync::{Arc, Mutex, PoisonError};

use crate::auth::AuthError;
use crate::rate_limit::RateLimitError;

/// A failure of the runtime itself, not of HighLevel's answer.
#[derive(Debug)]
pub(crate) enum Failure {
    Auth(AuthError),
    RateLimit(RateLimitError),
}

impl Failure {
    /// A synthetic response carrying the failure (extensions must be `Clone`; the failure
    /// is taken out once).
    pub(crate) fn into_response(self) -> reqwest::Response {
        let status = match &self {
            Self::Auth(_) => http::StatusCode::UNAUTHORIZED,
            Self::RateLimit(_) => http::StatusCode::TOO_MANY_REQUESTS,
        };
        let mut response = http::Response::new(Vec::<u8>::new());
        *response.status_mut() = status;
        response
            .extensions_mut()
            .insert(CarriedFailure(Arc::new(Mutex::new(Some(self)))));
        reqwest::Response::from(response)
    }

    /// The failure, if `response` is a synthetic one.
    pub(crate) fn take(response: &mut reqwest::Response) -> Option<Self> {
        let carried = response.extensions_mut().remove::<CarriedFailure>()?;
        let mut slot = carried.0.lock().unwrap_or_else(PoisonError::into_inner);
        slot.take()
    }
}

#[derive(Clone)]
struct CarriedFailure(Arc<Mutex<Option<Failure>>>);
