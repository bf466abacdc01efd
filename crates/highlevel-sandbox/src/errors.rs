//! Error answers in HighLevel's shape: `{"statusCode", "message", "error", "traceId"}`.
//!
//! Handlers return [`ApiError`] without a trace id; the trace layer (`app.rs`) stamps the
//! request's `traceId` into every JSON error body and onto every response's headers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer. `message` is a string or, for validation failures, a list of strings,
/// as HighLevel sends them.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    message: Message,
    // Boxed: handlers return `Result<_, ApiError>`, and a JSON value is large.
    meta: Option<Box<Value>>,
}

#[derive(Debug, Clone)]
enum Message {
    Text(String),
    List(Vec<String>),
}

impl ApiError {
    /// An error with a single message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: Message::Text(message.into()),
            meta: None,
        }
    }

    /// A validation failure (422) listing every problem, as HighLevel's validators do.
    pub fn validation(messages: Vec<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: Message::List(messages),
            meta: None,
        }
    }

    /// Adds HighLevel's `meta` object (for example the contact a duplicate matched).
    pub fn with_meta(mut self, meta: Value) -> Self {
        self.meta = Some(Box::new(meta));
        self
    }

    /// 401 for a missing or wrong token.
    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 404 for a route that does not exist, worded like HighLevel's framework.
    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Cannot {method} {path}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match self.message {
            Message::Text(text) => Value::String(text),
            Message::List(list) => Value::Array(list.into_iter().map(Value::String).collect()),
        };
        let mut body = json!({
            "statusCode": self.status.as_u16(),
            "message": message,
            "error": self.status.canonical_reason().unwrap_or("Error"),
        });
        if let (Some(meta), Some(fields)) = (self.meta, body.as_object_mut()) {
            fields.insert("meta".into(), *meta);
        }
        (self.status, axum::Json(body)).into_response()
    }
}
