//! Request bodies and queries read without axum's plain-text rejections: every malformed
//! input becomes a HighLevel-shaped [`ApiError`].

use axum::extract::Path;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::state::Shared;

/// A JSON object body. Wrong content type → 415, unreadable or oversized body → 400 / 413,
/// malformed JSON or a non-object → 400, all in HighLevel's error shape.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest<Shared> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state, "application/json", |mime| {
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .await?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(fields)) => Ok(Self(fields)),
            Ok(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "Unexpected token in JSON at line {} column {}",
                    e.line(),
                    e.column()
                ),
            )),
        }
    }
}

/// A body whose media type `accepts` (415 naming `expected` otherwise), read within the body
/// timeout (408) and the body limit (413).
pub async fn read_body(
    req: Request,
    state: &Shared,
    expected: &str,
    accepts: impl Fn(&str) -> bool,
) -> Result<Bytes, ApiError> {
    let accepted = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| accepts(mime.trim()));
    if !accepted {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be {expected}"),
        ));
    }
    // A client that announces more than it sends must not hold a handler forever.
    let read = tokio::time::timeout(state.body_timeout(), Bytes::from_request(req, state))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )
        })?;
    read.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "request entity too large")
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
        }
    })
}

/// A query string decoded into `T`; a value of the wrong kind is a 422 naming it.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::validation(vec![rejection.body_text()]))
    }
}

/// A path parameter; one that is not valid text (`%FF`) is a shaped 400, not plain text.
#[derive(Debug)]
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))
    }
}

/// A string field of a JSON body, if present and a string.
pub fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}
