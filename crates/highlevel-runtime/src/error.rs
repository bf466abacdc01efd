//! The SDK's error: what went wrong with a call, always naming the operation.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// Why a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// HighLevel answered with an error status (4xx/5xx, or an unexpected 1xx/3xx).
    Api(Box<ApiError>),
    /// The success body did not decode, even leniently.
    Decode(Box<DecodeError>),
    /// The request could not be sent or the response not read (connection, TLS, timeout).
    Transport {
        /// The operation that was called.
        operation_id: &'static str,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// The call was not sent: a required argument is missing or did not convert, or the
    /// request could not be prepared.
    InvalidRequest {
        /// The operation that was called.
        operation_id: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The operation that failed (progenitor's snake_case id).
    pub fn operation_id(&self) -> &'static str {
        match self {
            Self::Api(e) => e.operation_id,
            Self::Decode(e) => e.operation_id,
            Self::Transport { operation_id, .. } | Self::InvalidRequest { operation_id, .. } => {
                operation_id
            }
        }
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::Decode(e) => Some(e.status),
            Self::Transport { source, .. } => source.status(),
            Self::InvalidRequest { .. } => None,
        }
    }

    /// The API error, if HighLevel answered with one.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api(e) => e.fmt(f),
            Self::Decode(e) => e.fmt(f),
            Self::Transport { operation_id, source } => {
                write!(f, "{operation_id}: transport error: {source}")
            }
            Self::InvalidRequest { operation_id, message } => {
                write!(f, "{operation_id}: invalid request: {message}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(&e.source),
            Self::Transport { source, .. } => Some(source),
            Self::Api(_) | Self::InvalidRequest { .. } => None,
        }
    }
}

/// An error answer from HighLevel, with everything it carried.
#[derive(Debug)]
#[non_exhaustive]
pub struct ApiError {
    pub(crate) operation_id: &'static str,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: ApiErrorBody,
    pub(crate) raw: Bytes,
}

impl ApiError {
    pub(crate) fn new(operation_id: &'static str, status: StatusCode, headers: HeaderMap, raw: Bytes) -> Self {
        Self {
            operation_id,
            status,
            body: ApiErrorBody::parse(&raw),
            headers,
            raw,
        }
    }

    /// The operation that failed.
    pub fn operation_id(&self) -> &'static str {
        self.operation_id
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers (rate-limit counters, trace ids).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The decoded error body; fields are `None` where the body lacked them or was not JSON.
    pub fn body(&self) -> &ApiErrorBody {
        &self.body
    }

    /// The response body exactly as received.
    pub fn raw_body(&self) -> &Bytes {
        &self.raw
    }

    /// The message(s), one per line for validation errors; empty when the body had none.
    pub fn message(&self) -> String {
        match &self.body.message {
            Some(ErrorMessage::Text(text)) => text.clone(),
            Some(ErrorMessage::List(items)) => items.join("\n"),
            None => String::new(),
        }
    }

    /// The `error` field (`"Unprocessable Entity"`), if any.
    pub fn error(&self) -> Option<&str> {
        self.body.error.as_deref()
    }

    /// HighLevel's `traceId`, from the body or else a trace header, for support requests.
    pub fn trace_id(&self) -> Option<&str> {
        self.body.trace_id.as_deref().or_else(|| {
            ["traceid", "x-trace-id", "x-request-id"]
                .iter()
                .find_map(|name| self.headers.get(*name).and_then(|v| v.to_str().ok()))
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: HTTP {}", self.operation_id, self.status)?;
        let message = self.message();
        if !message.is_empty() {
            write!(f, ": {}", message.replace('\n', "; "))?;
        } else if let Some(error) = self.error() {
            write!(f, ": {error}")?;
        }
        if let Some(trace) = self.trace_id() {
            write!(f, " (traceId {trace})")?;
        }
        Ok(())
    }
}

/// HighLevel's error body: `{"statusCode":422,"message":[…],"error":"…","traceId":"…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApiErrorBody {
    /// `statusCode`, as the body states it.
    #[serde(rename = "statusCode", default, deserialize_with = "lenient")]
    pub status_code: Option<u16>,
    /// `message`: one text, or a list for validation errors.
    #[serde(default, deserialize_with = "lenient")]
    pub message: Option<ErrorMessage>,
    /// `error`: the status text.
    #[serde(default, deserialize_with = "lenient")]
    pub error: Option<String>,
    /// `traceId`.
    #[serde(rename = "traceId", default, deserialize_with = "lenient")]
    pub trace_id: Option<String>,
}

impl ApiErrorBody {
    /// Best effort over any body: JSON of the known shape, JSON of another shape, or not JSON.
    fn parse(raw: &[u8]) -> Self {
        serde_json::from_slice(raw).unwrap_or_default()
    }
}

/// A field that does not have the expected type reads as absent instead of failing the body.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// The `message` of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ErrorMessage {
    /// `"message": "Invalid JWT"`.
    Text(String),
    /// `"message": ["locationId must be a string", …]`.
    List(Vec<String>),
}

/// A success body that did not decode into its type.
#[derive(Debug)]
#[non_exhaustive]
pub struct DecodeError {
    pub(crate) operation_id: &'static str,
    pub(crate) status: StatusCode,
    pub(crate) path: String,
    pub(crate) body_prefix: String,
    pub(crate) source: serde_json::Error,
}

/// How much of a body a decode error keeps, to show without flooding logs.
pub(crate) const BODY_PREFIX_BYTES: usize = 512;

impl DecodeError {
    /// The operation whose response failed.
    pub fn operation_id(&self) -> &'static str {
        self.operation_id
    }

    /// The status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Where in the JSON decoding failed (`contact.tags[2]`); `.` for the whole body.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first bytes of the body (lossy UTF-8).
    pub fn body_prefix(&self) -> &str {
        &self.body_prefix
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot decode the HTTP {} body at `{}`: {}; body starts with: {}",
            self.operation_id, self.status, self.path, self.source, self.body_prefix
        )
    }
}

pub(crate) fn body_prefix(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut end = text.len().min(BODY_PREFIX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_parse_leniently() {
        let list = ApiErrorBody::parse(br#"{"statusCode":422,"message":["a","b"],"error":"Unprocessable Entity","traceId":"t1"}"#);
        assert_eq!(list.message, Some(ErrorMessage::List(vec!["a".into(), "b".into()])));
        assert_eq!(list.trace_id.as_deref(), Some("t1"));
        let odd = ApiErrorBody::parse(br#"{"statusCode":"x","message":{"nested":1},"error":"Bad"}"#);
        assert_eq!(odd.status_code, None);
        assert_eq!(odd.message, None);
        assert_eq!(odd.error.as_deref(), Some("Bad"));
        assert_eq!(ApiErrorBody::parse(b"<html>502</html>"), ApiErrorBody::default());
        assert_eq!(ApiErrorBody::parse(b""), ApiErrorBody::default());
    }

    #[test]
    fn body_prefix_cuts_at_a_char_boundary() {
        let body = "é".repeat(400);
        let prefix = body_prefix(body.as_bytes());
        assert!(prefix.len() <= BODY_PREFIX_BYTES && prefix.chars().all(|c| c == 'é'));
    }
}
