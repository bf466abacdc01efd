//! The `Version` header, checked per route group as HighLevel does: a missing or unknown
//! version is a 422 listing the accepted ones.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;

/// The versions a group of routes accepts (from the spec of its operations).
#[derive(Debug, Clone, Copy)]
pub struct Accepted(pub &'static [&'static str]);

/// API v2's `Version`, declared by every v2 operation the sandbox serves.
pub const V2: &str = "2021-07-28";
/// API v3's `Version`, declared by every v3 operation.
pub const V3: &str = "v3";
/// Routes that v2 and v3 share (same path, same shapes): a v2 caller and a v3 caller both
/// reach them.
pub const V2_AND_V3: Accepted = Accepted(&[V2, V3]);
/// Routes only v3 has.
pub const V3_ONLY: Accepted = Accepted(&[V3]);

/// Refuses requests whose `Version` header is missing or not accepted by the route group.
pub async fn require_version(accepted: Accepted, request: Request, next: Next) -> Response {
    let sent = request
        .headers()
        .get("version")
        .and_then(|v| v.to_str().ok());
    match sent {
        Some(version) if accepted.0.contains(&version) => next.run(request).await,
        _ => ApiError::validation(vec![format!(
            "version must be one of the following values: {}",
            accepted.0.join(", ")
        )])
        .into_response(),
    }
}
