//! Bearer auth: the private integration token or an unexpired OAuth access token, or a 401 in
//! HighLevel's shape.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;
use crate::oauth::Bearer;
use crate::state::Shared;

/// Refuses requests without the sandbox's token or a live access token.
pub async fn require_token(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match presented {
        None => ApiError::unauthorized("Unauthorized: no Authorization header").into_response(),
        Some(value) => match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer")
                    && matches!(shared.bearer(token.trim()), Bearer::Valid(_)) =>
            {
                next.run(request).await
            }
            // Never echo what was presented: it may be a real token sent to the wrong place.
            _ => ApiError::unauthorized("Invalid JWT").into_response(),
        },
    }
}
