//! The router: each API module's routes behind the token and its own `Version` check, a
//! HighLevel-shaped 404 for everything else, a body limit, and a `traceId` on every answer.
//!
//! The API routes count against their location's rate limit (after the token check, which
//! names the location). OAuth's routes authenticate by themselves (client secret, or an
//! agency token). A new module (webhooks) is one more `.merge(...)` here.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::errors::ApiError;
use crate::state::Shared;
use crate::{auth, contacts, locations, oauth, rate_limit, version};

/// Largest request body accepted; larger ones get a shaped 413.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Error bodies are small; a larger one is passed on without its trace id stamped in.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Header carrying the trace id, as the SDK's `ApiError::trace_id` reads it.
pub const TRACE_HEADER: &str = "traceid";

/// The whole sandbox application.
pub fn router(shared: Shared) -> Router {
    let contacts = contacts::routes()
        .route_layer(middleware::from_fn(|request, next| {
            version::require_version(contacts::VERSION, request, next)
        }))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            auth::own_location_only,
        ));
    let locations = locations::routes().route_layer(middleware::from_fn(|request, next| {
        version::require_version(locations::VERSION, request, next)
    }));
    // Layers run outside in: the token check first, then the rate limit of its location.
    let api = Router::new()
        .merge(contacts)
        .merge(locations)
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            rate_limit::enforce,
        ))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            auth::require_token,
        ));
    api.merge(oauth::routes())
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(stamp_trace_id))
        .with_state(shared)
}

async fn no_route(request: Request) -> ApiError {
    ApiError::no_route(request.method().as_str(), request.uri().path())
}

/// Gives every answer a fresh `traceId` header, and every JSON error body the same `traceId`
/// field, as HighLevel's answers carry.
async fn stamp_trace_id(request: Request, next: Next) -> Response {
    let trace_id = uuid::Uuid::new_v4().to_string();
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        parts.headers.insert(TRACE_HEADER, value);
    }
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(parts.status.is_client_error() || parts.status.is_server_error()) || !is_json {
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, ERROR_BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::new(parts.status, "error body too large").into_response(),
    };
    let stamped = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut fields)) => {
            fields.insert("traceId".into(), Value::String(trace_id));
            serde_json::to_vec(&fields).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(stamped))
}
