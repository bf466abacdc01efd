//! The SDK's error: what went wrong with a call, always naming the operation.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::object::Object;

/// Why a call failed.
///
/// Every variant names the operation, so a log line is actionable without a backtrace.
/// `Display` includes the immediate cause's message (as progenitor's error does);
/// [`std::error::Error::source`] still exposes the cause for programmatic inspection.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// HighLevel (or a proxy in front of it) answered with a status the operation does not
    /// document as success, normally a 4xx/5xx.
    Api(Box<ApiError>),
    /// The success body did not decode into the operation's type.
    Decode(Box<DecodeError>),
    /// The request could not be sent or the response not read (connection, TLS, timeout).
    Transport {
        /// The operation that was called.
        operation_id: &'static str,
        /// The status, when the failure happened while reading a response body.
        status: Option<StatusCode>,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// The call was not sent: a required argument is missing or did not convert.
    InvalidRequest {
        /// The operation that was called.
        operation_id: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The call was not sent because preparing it failed: the token is not usable as a
    /// header, or a multipart body was not built with [`crate::MultipartForm`].
    Hook {
        /// The operation that was called.
        operation_id: &'static str,
        /// What is wrong; never contains the token.
        message: String,
    },
    /// No usable OAuth token: the resource needs to install the app again, the token store
    /// failed, the handle is not scoped to a location or agency, … The call was not sent
    /// (or was sent and answered 401 and could not be renewed).
    Auth {
        /// The operation that was called.
        operation_id: &'static str,
        /// Why.
        source: crate::auth::AuthError,
    },
    /// The call was not sent (or not sent again) for want of rate-limit budget: the
    /// resource's daily quota is spent, or HighLevel asked for a longer wait than the retry
    /// configuration allows. Ordinary throttling is waited out, never reported.
    RateLimited {
        /// The operation that was called.
        operation_id: &'static str,
        /// Which limit, for which resource, and until when.
        source: crate::rate_limit::RateLimitError,
    },
    /// The response body was larger than the handle's limit (`max_response_bytes`, default
    /// [`crate::DEFAULT_MAX_RESPONSE_BYTES`]): reading stopped there and nothing was decoded.
    ResponseTooLarge {
        /// The operation that was called.
        operation_id: &'static str,
        /// The answer's status.
        status: StatusCode,
        /// The answer's headers.
        headers: HeaderMap,
        /// The limit it passed, in bytes.
        limit: usize,
    },
    /// A paginated stream stopped instead of looping: the server repeated a cursor or a
    /// page, or named a next page the request cannot carry. The pages before were yielded.
    Pagination {
        /// The list operation.
        operation_id: &'static str,
        /// What went wrong.
        source: crate::pagination::PaginationError,
    },
}

impl Error {
    /// The operation that failed (progenitor's snake_case id), for logs and metrics.
    pub fn operation_id(&self) -> &'static str {
        match self {
            Self::Api(e) => e.operation_id,
            Self::Decode(e) => e.operation_id,
            Self::Transport { operation_id, .. }
            | Self::InvalidRequest { operation_id, .. }
            | Self::Hook { operation_id, .. }
            | Self::Auth { operation_id, .. }
            | Self::RateLimited { operation_id, .. }
            | Self::ResponseTooLarge { operation_id, .. }
            | Self::Pagination { operation_id, .. } => operation_id,
        }
    }

    /// The HTTP status, when a response arrived, so callers can branch on 404/429 without
    /// matching variants.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::ResponseTooLarge { status, .. } => Some(*status),
            Self::Transport { status, source, .. } => status.or_else(|| source.status()),
            Self::Decode(_)
            | Self::InvalidRequest { .. }
            | Self::Hook { .. }
            | Self::Auth { .. }
            | Self::RateLimited { .. }
            | Self::Pagination { .. } => None,
        }
    }

    /// The API error, if HighLevel answered with one.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The authentication failure, if the call failed for want of a usable OAuth token.
    pub fn as_auth(&self) -> Option<&crate::auth::AuthError> {
        match self {
            Self::Auth { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The rate-limit failure, if the call failed for want of budget.
    pub fn as_rate_limit(&self) -> Option<&crate::rate_limit::RateLimitError> {
        match self {
            Self::RateLimited { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The pagination failure, if a stream stopped instead of looping.
    pub fn as_pagination(&self) -> Option<&crate::pagination::PaginationError> {
        match self {
            Self::Pagination { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether HighLevel answered with an error status (as opposed to the call never
    /// reaching it or the answer being unreadable).
    pub fn is_api(&self) -> bool {
        matches!(self, Self::Api(_))
    }

    /// Whether the failure is likely transient (connection trouble, timeouts, 408, 429,
    /// 5xx, a long `Retry-After`), so callers can decide to try again later. The runtime
    /// has already retried within its [`crate::retry::RetryConfig`]; a spent daily quota is
    /// not transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { source, .. } => {
                source.is_connect() || source.is_timeout() || source.is_request()
            }
            Self::Api(e) => {
                matches!(
                    e.status,
                    StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
                ) || e.status.is_server_error()
            }
            Self::RateLimited { source, .. } => matches!(
                source,
                crate::rate_limit::RateLimitError::RetryAfterTooLong { .. }
            ),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api(e) => e.fmt(f),
            Self::Decode(e) => e.fmt(f),
            Self::Transport {
                operation_id,
                source,
                ..
            } => {
                write!(f, "{operation_id}: transport error: {source}")
            }
            Self::InvalidRequest {
                operation_id,
                message,
            } => {
                write!(f, "{operation_id}: invalid request: {message}")
            }
            Self::Auth {
                operation_id,
                source,
            } => write!(f, "{operation_id}: authentication: {source}"),
            Self::RateLimited {
                operation_id,
                source,
            } => write!(f, "{operation_id}: rate limited: {source}"),
            Self::Pagination {
                operation_id,
                source,
            } => write!(f, "{operation_id}: pagination: {source}"),
            Self::ResponseTooLarge {
                operation_id,
                status,
                limit,
                ..
            } => write!(
                f,
                "{operation_id}: the {status} answer's body is larger than {limit} bytes; \
                 not read on (raise max_response_bytes if it is expected)"
            ),
            Self::Hook {
                operation_id,
                message,
            } => {
                // Hook messages already start with the operation id.
                if message.starts_with(operation_id) {
                    write!(f, "{message}")
                } else {
                    write!(f, "{operation_id}: {message}")
                }
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(&e.source),
            Self::Transport { source, .. } => Some(source),
            Self::Auth { source, .. } => Some(source),
            Self::RateLimited { source, .. } => Some(source),
            Self::Pagination { source, .. } => Some(source),
            Self::Api(_)
            | Self::InvalidRequest { .. }
            | Self::Hook { .. }
            | Self::ResponseTooLarge { .. } => None,
        }
    }
}

/// Response headers that may carry a trace id when the body does not.
const TRACE_HEADERS: [&str; 3] = ["traceid", "x-trace-id", "trace-id"];
/// Longest non-JSON body shown in `Display` (short plain-text errors from proxies).
const MAX_DISPLAYED_TEXT: usize = 200;

/// An error answer from HighLevel, with everything it carried.
///
/// The body is parsed leniently: HighLevel's usual JSON shape fills [`ApiErrorBody`], and
/// anything else (HTML from a proxy, an empty 502) still yields an `ApiError` with the raw
/// bytes kept.
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
    pub(crate) fn new(
        operation_id: &'static str,
        status: StatusCode,
        headers: HeaderMap,
        raw: Bytes,
    ) -> Self {
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

    /// The response headers (rate-limit counters, `Retry-After`, trace ids).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The decoded error body; fields are `None` where the body lacked them or was not JSON.
    pub fn body(&self) -> &ApiErrorBody {
        &self.body
    }

    /// The response body exactly as received, for shapes the lenient parse does not cover.
    pub fn raw_body(&self) -> &Bytes {
        &self.raw
    }

    /// The individual messages (validation errors come as a list); empty when none.
    pub fn messages(&self) -> &[String] {
        match &self.body.message {
            Some(ErrorMessage::Text(text)) => std::slice::from_ref(text),
            Some(ErrorMessage::List(items)) => items,
            None => &[],
        }
    }

    /// The message(s) joined with `"; "`, for showing to a person; `None` when the body
    /// had no `message`.
    pub fn message(&self) -> Option<String> {
        self.body.message.as_ref().map(ErrorMessage::joined)
    }

    /// The `error` field (`"Unprocessable Entity"`), if any.
    pub fn error(&self) -> Option<&str> {
        self.body.error.as_deref()
    }

    /// HighLevel's `traceId`, from the body or else a trace header, to quote in support
    /// requests.
    pub fn trace_id(&self) -> Option<&str> {
        self.body.trace_id.as_deref().or_else(|| {
            TRACE_HEADERS
                .iter()
                .find_map(|name| self.headers.get(*name).and_then(|v| v.to_str().ok()))
        })
    }

    /// A short plain-text body (not JSON, not HTML), shown when there is no message.
    fn plain_text(&self) -> Option<&str> {
        let text = std::str::from_utf8(&self.raw).ok()?.trim();
        let usable = !text.is_empty()
            && text.len() <= MAX_DISPLAYED_TEXT
            && !text.starts_with(['<', '{', '['])
            && !text.contains(['\r', '\n']);
        usable.then_some(text)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: HTTP {}", self.operation_id, self.status)?;
        if let Some(message) = self.message().filter(|m| !m.is_empty()) {
            write!(f, ": {message}")?;
        } else if let Some(error) = self.error() {
            write!(f, ": {error}")?;
        } else if let Some(text) = self.plain_text() {
            write!(f, ": {text}")?;
        }
        if let Some(trace) = self.trace_id() {
            write!(f, " (traceId {trace})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// HighLevel's error body: `{"statusCode":422,"message":[…],"error":"…","traceId":"…"}`.
///
/// Deserializing is lenient: a field of an unexpected type reads as `None` rather than
/// failing, because error bodies are the least consistent part of the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiErrorBody {
    /// `statusCode`, as the body states it (may disagree with the HTTP status).
    pub status_code: Option<u16>,
    /// `message`: one text, or a list for validation errors.
    pub message: Option<ErrorMessage>,
    /// `error`: usually the status text.
    pub error: Option<String>,
    /// `traceId`, HighLevel's request trace for support.
    pub trace_id: Option<String>,
}

impl<'de> Deserialize<'de> for ApiErrorBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut body = Object::read(deserializer, "an error body")?;
        Ok(Self {
            status_code: body.take("statusCode").and_then(lenient_status),
            message: body.take("message").and_then(lenient_message),
            error: body.take("error").and_then(value_text),
            trace_id: body.take("traceId").and_then(value_text),
        })
    }
}

impl ApiErrorBody {
    /// Best effort over any body: JSON of the known shape, JSON of another shape, or not JSON.
    pub(crate) fn parse(raw: &[u8]) -> Self {
        serde_json::from_slice(raw).unwrap_or_default()
    }
}

fn lenient_status(value: Value) -> Option<u16> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn lenient_message(value: Value) -> Option<ErrorMessage> {
    match value {
        Value::Array(items) => Some(ErrorMessage::List(
            items.into_iter().filter_map(value_text).collect(),
        )),
        other => value_text(other).map(ErrorMessage::Text),
    }
}

/// Strings as themselves, numbers/booleans/objects as their JSON text, null as absent.
fn value_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// The `message` of an error body: a string, or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorMessage {
    /// `"message": "Invalid JWT"`.
    Text(String),
    /// `"message": ["locationId must be a string", …]`.
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for ErrorMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Self::Text(text)),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text),
                    _ => Err(serde::de::Error::custom(
                        "a message list holds only strings",
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Self::List),
            _ => Err(serde::de::Error::custom(
                "expected a message: a string or an array of strings",
            )),
        }
    }
}

impl ErrorMessage {
    /// One line for people: the text, or the list joined with `"; "`.
    pub fn joined(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::List(items) => items.join("; "),
        }
    }
}

impl fmt::Display for ErrorMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined())
    }
}

/// A success body that did not decode into its type.
///
/// `Display` and `Debug` leave the body out: success bodies can hold secrets (the OAuth
/// token endpoint returns tokens), and errors end up in logs. Use
/// [`DecodeError::body_prefix`] deliberately when debugging.
#[non_exhaustive]
pub struct DecodeError {
    pub(crate) operation_id: &'static str,
    pub(crate) path: Option<String>,
    pub(crate) body_prefix: String,
    pub(crate) body_len: usize,
    pub(crate) source: serde_json::Error,
}

/// How much of a body a decode error keeps, to show without holding huge bodies.
pub(crate) const BODY_PREFIX_BYTES: usize = 512;

impl DecodeError {
    /// The operation whose response failed.
    pub fn operation_id(&self) -> &'static str {
        self.operation_id
    }

    /// Where in the JSON decoding failed (`contact.tags[2]`; `.` for the top level), to
    /// find which field of the spec is wrong. `None` when it could not be determined.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The first ~512 bytes of the body (lossy UTF-8, cut at a character boundary).
    /// May contain personal data or tokens: do not log it blindly.
    pub fn body_prefix(&self) -> &str {
        &self.body_prefix
    }

    /// The full length of the body in bytes, to tell whether the prefix is all of it.
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    /// The serde error (message with line and column).
    pub fn json_error(&self) -> &serde_json::Error {
        &self.source
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("operation_id", &self.operation_id)
            .field("path", &self.path)
            .field("body_len", &self.body_len)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: cannot decode the response body", self.operation_id)?;
        if let Some(path) = &self.path {
            write!(f, " at `{path}`")?;
        }
        write!(f, " ({} bytes): {}", self.body_len, self.source)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The first [`BODY_PREFIX_BYTES`] of `bytes` as lossy UTF-8, never splitting a character.
pub(crate) fn body_prefix(bytes: &[u8]) -> String {
    let mut end = bytes.len().min(BODY_PREFIX_BYTES);
    // Back off (at most 3 bytes) while the first excluded byte continues a character.
    let mut steps = 0;
    while steps < 3 && end > 0 && bytes.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
        end -= 1;
        steps += 1;
    }
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_parse_leniently() {
        let list = ApiErrorBody::parse(
            br#"{"statusCode":422,"message":["a","b"],"error":"Unprocessable Entity","traceId":"t1"}"#,
        );
        assert_eq!(list.status_code, Some(422));
        assert_eq!(
            list.message,
            Some(ErrorMessage::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(list.trace_id.as_deref(), Some("t1"));
        let odd = ApiErrorBody::parse(
            br#"{"statusCode":"400","message":["x",3,null],"error":{"code":1},"traceId":null}"#,
        );
        assert_eq!(odd.status_code, Some(400));
        assert_eq!(
            odd.message,
            Some(ErrorMessage::List(vec!["x".into(), "3".into()]))
        );
        assert_eq!(odd.error.as_deref(), Some(r#"{"code":1}"#));
        assert_eq!(odd.trace_id, None);
        assert_eq!(
            ApiErrorBody::parse(b"<html>502</html>"),
            ApiErrorBody::default()
        );
        assert_eq!(ApiErrorBody::parse(b""), ApiErrorBody::default());
        assert_eq!(ApiErrorBody::parse(b"[1,2]"), ApiErrorBody::default());
    }

    #[test]
    fn an_error_message_is_a_text_or_a_list_of_texts() {
        let read = |json: &str| serde_json::from_str::<ErrorMessage>(json).ok();
        assert_eq!(
            read(r#""Invalid JWT""#),
            Some(ErrorMessage::Text("Invalid JWT".into()))
        );
        assert_eq!(
            read(r#"["a","b"]"#),
            Some(ErrorMessage::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(read(r#"["a",3]"#), None);
        assert_eq!(read("3"), None);
        let body: ApiErrorBody =
            serde_json::from_str(r#"{"statusCode":404,"message":"gone"}"#).expect("an object");
        assert_eq!(body.message, Some(ErrorMessage::Text("gone".into())));
    }

    #[test]
    fn body_prefix_cuts_at_a_char_boundary() {
        // 'é' is two bytes: 511 ASCII bytes then 'é' straddles the 512-byte limit.
        let body = format!("{}{}", "a".repeat(511), "é".repeat(10));
        let prefix = body_prefix(body.as_bytes());
        assert_eq!(prefix, "a".repeat(511));
        let short = body_prefix("héllo".as_bytes());
        assert_eq!(short, "héllo");
        // Invalid UTF-8 inside the prefix is replaced, not dropped.
        assert_eq!(body_prefix(b"a\xffb"), "a\u{FFFD}b");
    }
}
