//! Bearer auth for the location-level API: the private integration token or an unexpired
//! OAuth access token of the sandbox's location, or an answer in HighLevel's shape (401 for
//! a missing, unknown or expired token, 403 for another location's token, 401 for an agency
//! token on a location route).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;
use crate::oauth::{Bearer, Grant, Subject};
use crate::state::Shared;

/// The token of an `Authorization: Bearer …` header (the scheme in any case); `None` for
/// another scheme, a 401 when there is no header at all.
pub fn presented_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("Unauthorized: no Authorization header"))?;
    Ok(value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim()))
}

/// Refuses requests without the sandbox's token or a live access token of its location.
pub async fn require_token(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let bearer = match presented_token(request.headers()) {
        Err(missing) => return missing.into_response(),
        Ok(Some(token)) => shared.bearer(token),
        Ok(None) => Bearer::Unknown,
    };
    // Never echo what was presented: it may be a real token sent to the wrong place.
    match bearer {
        Bearer::Valid(Grant {
            subject: Subject::Location(location),
            ..
        }) if location == shared.location_id() => next.run(request).await,
        Bearer::Valid(Grant {
            subject: Subject::Location(_),
            ..
        }) => ApiError::new(
            StatusCode::FORBIDDEN,
            "The token does not have access to this location.",
        )
        .into_response(),
        Bearer::Valid(Grant {
            subject: Subject::Company(_),
            ..
        }) => ApiError::unauthorized("This route is not yet supported by the IAM Service")
            .into_response(),
        Bearer::Expired | Bearer::Unknown => ApiError::unauthorized("Invalid JWT").into_response(),
    }
}
