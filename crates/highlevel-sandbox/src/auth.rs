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

/// The location a request's token belongs to, for the routes behind [`require_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// Refuses requests without the sandbox's token or a live access token of one of its
/// locations; passes the token's location on as a [`Caller`].
pub async fn require_token(
    State(shared): State<Shared>,
    mut request: Request,
    next: Next,
) -> Response {
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
        }) => {
            request.extensions_mut().insert(Caller(location));
            next.run(request).await
        }
        Bearer::Valid(Grant {
            subject: Subject::Company(_),
            ..
        }) => ApiError::unauthorized("This route is not yet supported by the IAM Service")
            .into_response(),
        Bearer::Expired | Bearer::Unknown => ApiError::unauthorized("Invalid JWT").into_response(),
    }
}

/// For routes whose data belongs to the sandbox's own location (contacts): another
/// location's token gets 403.
pub async fn own_location_only(
    State(shared): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    match request.extensions().get::<Caller>() {
        Some(Caller(location)) if location == shared.location_id() => next.run(request).await,
        _ => forbidden().into_response(),
    }
}

/// HighLevel's answer to a token of another location.
pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "The token does not have access to this location.",
    )
}
