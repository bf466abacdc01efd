//! Success bodies into generated types, and progenitor's errors into [`Error`] (for
//! [`crate::send`]).

use bytes::Bytes;
use progenitor_client::{Error as GeneratedError, ResponseValue};
use serde::de::DeserializeOwned;

use crate::body::{self, ReadError};
use crate::error::{ApiError, DecodeError, body_prefix};
use crate::failure::Failure;
use crate::{Error, OperationMeta};

/// What an empty body is decoded as when `null` does not fit the type.
const EMPTY_OBJECT: &[u8] = b"{}";

/// A 2xx response's body, read whole, beside its status and headers: what [`decode_json`]
/// decodes.
pub(crate) struct SuccessBody {
    bytes: Bytes,
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
}

/// Reads a JSON success body, up to the handle's `max_response_bytes`.
///
/// Not generic: the one future that reads bodies serves every response type, and what is
/// generic ([`decode_json`]) runs after it, so the decoded value is not carried out through
/// a further future.
///
/// # Errors
///
/// [`Error::Transport`] with the answer's status when the body cannot be read (a dropped
/// connection, an encoding that does not decode), and [`Error::ResponseTooLarge`] past the
/// limit, read no further than it.
pub(crate) async fn read_success(
    operation: &'static OperationMeta,
    mut response: reqwest::Response,
) -> Result<SuccessBody, Error> {
    let status = response.status();
    // Taken, not cloned: reading the body consumes the response anyway.
    let headers = std::mem::take(response.headers_mut());
    let limit = body::limit_of(&response);
    match body::read_capped(response, limit).await {
        Ok(bytes) => Ok(SuccessBody {
            bytes,
            status,
            headers,
        }),
        Err(ReadError::Transport(source)) => Err(Error::Transport {
            operation_id: operation.operation_id,
            status: Some(status),
            source,
        }),
        Err(ReadError::TooLarge { limit }) => Err(Error::ResponseTooLarge {
            operation_id: operation.operation_id,
            status,
            headers,
            limit,
        }),
    }
}

/// Decodes a JSON success body; stands in for progenitor's `ResponseValue::from_response`.
///
/// An empty (or whitespace-only) body, as HighLevel sends with many 200/201/204 answers,
/// decodes as `null`, or as `{}` for types that do not take `null`, so operations whose
/// spec promises an object still succeed when nothing comes back.
///
/// # Errors
///
/// progenitor's `InvalidResponsePayload`, with the body, when it does not decode as `T`
/// ([`json_failure`] finds where).
#[expect(
    clippy::result_large_err,
    reason = "progenitor's error, carried as it is to the error mapping"
)]
pub(crate) fn decode_json<T: DeserializeOwned>(
    body: SuccessBody,
) -> Result<ResponseValue<T>, GeneratedError<()>> {
    let SuccessBody {
        bytes,
        status,
        headers,
    } = body;
    match parse(&bytes) {
        Ok(inner) => Ok(ResponseValue::new(inner, status, headers)),
        Err(source) => Err(GeneratedError::InvalidResponsePayload(bytes, source)),
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    if is_blank(bytes) {
        serde_json::from_slice(b"null").or_else(|_| serde_json::from_slice(EMPTY_OBJECT))
    } else {
        serde_json::from_slice(bytes)
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Maps why a generated JSON operation failed into the SDK's [`Error`], naming `operation`.
///
/// A decode failure is decoded a second time with `serde_path_to_error` (only here, so
/// successes pay nothing) to report where in the JSON it failed.
pub(crate) async fn json_failure<T: DeserializeOwned>(
    operation: &'static OperationMeta,
    error: GeneratedError<()>,
) -> Error {
    match error {
        GeneratedError::InvalidResponsePayload(bytes, source) => {
            let path = json_path::<T>(&bytes);
            decode_error(operation, &bytes, path, source)
        }
        other => failure(operation, other).await,
    }
}

/// Where decoding `bytes` as `T` fails, decoding them the way [`decode_json`] does.
fn json_path<T: DeserializeOwned>(bytes: &Bytes) -> Option<String> {
    let input: &[u8] = if is_blank(bytes) { EMPTY_OBJECT } else { bytes };
    let mut decoder = serde_json::Deserializer::from_slice(input);
    match serde_path_to_error::deserialize::<_, T>(&mut decoder) {
        Err(located) => Some(located.path().to_string()),
        // Decodes now: the failure came from elsewhere (e.g. trailing data); no path.
        Ok(_) => None,
    }
}

fn decode_error(
    operation: &'static OperationMeta,
    bytes: &Bytes,
    path: Option<String>,
    source: serde_json::Error,
) -> Error {
    Error::Decode(Box::new(DecodeError {
        operation_id: operation.operation_id,
        path,
        body_prefix: body_prefix(bytes),
        body_len: bytes.len(),
        source,
    }))
}

/// Maps why a generated operation failed into the SDK's [`Error`], naming `operation`; an
/// API error's body is read here (within the handle's cap).
pub(crate) async fn failure(operation: &'static OperationMeta, error: GeneratedError<()>) -> Error {
    let operation_id = operation.operation_id;
    match error {
        GeneratedError::UnexpectedResponse(mut response) => {
            match Failure::take(&mut response) {
                Some(Failure::Auth(source)) => {
                    return Error::Auth {
                        operation_id,
                        source,
                    };
                }
                Some(Failure::RateLimit(source)) => {
                    return Error::RateLimited {
                        operation_id,
                        source,
                    };
                }
                None => {}
            }
            let status = response.status();
            let headers = response.headers().clone();
            let limit = body::limit_of(&response);
            match body::read_capped(response, limit).await {
                Ok(raw) => Error::Api(Box::new(ApiError::new(operation_id, status, headers, raw))),
                Err(ReadError::Transport(source)) => Error::Transport {
                    operation_id,
                    status: Some(status),
                    source,
                },
                Err(ReadError::TooLarge { limit }) => Error::ResponseTooLarge {
                    operation_id,
                    status,
                    headers,
                    limit,
                },
            }
        }
        GeneratedError::ErrorResponse(value) => Error::Api(Box::new(ApiError::new(
            operation_id,
            value.status(),
            value.headers().clone(),
            Bytes::new(),
        ))),
        GeneratedError::CommunicationError(source)
        | GeneratedError::ResponseBodyError(source)
        | GeneratedError::InvalidUpgrade(source) => Error::Transport {
            operation_id,
            status: None,
            source,
        },
        GeneratedError::InvalidRequest(message) => Error::InvalidRequest {
            operation_id,
            message,
        },
        GeneratedError::Custom(message) => Error::Hook {
            operation_id,
            message,
        },
        GeneratedError::InvalidResponsePayload(bytes, source) => {
            decode_error(operation, &bytes, None, source)
        }
    }
}

/// Reads a download (an operation returning a `ByteStream`, such as a call recording) into
/// memory, so callers need no stream library for the common case.
///
/// # Errors
///
/// The transport error of the first chunk that fails to arrive.
pub async fn collect_bytes(stream: progenitor_client::ByteStream) -> reqwest::Result<bytes::Bytes> {
    let mut inner = stream.into_inner();
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(inner.as_mut(), cx)).await
    {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_CONTACT: OperationMeta = OperationMeta {
        operation_id: "get_contact",
        method: "GET",
        path: "/contacts/{contactId}",
        version: Some("2021-07-28"),
        security: &[],
        request_body: crate::RequestBodyKind::None,
        response_body: crate::ResponseBodyKind::Json,
        authenticated: true,
    };

    /// progenitor's typed error responses (the generator sends every non-2xx answer through
    /// `UnexpectedResponse` instead) still map, keeping the status and headers.
    #[tokio::test]
    async fn a_documented_error_response_is_an_api_error() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "x-trace-id",
            reqwest::header::HeaderValue::from_static("t-9"),
        );
        let documented: GeneratedError<()> = GeneratedError::ErrorResponse(ResponseValue::new(
            (),
            reqwest::StatusCode::NOT_FOUND,
            headers,
        ));
        let error = failure(&GET_CONTACT, documented).await;
        assert_eq!(
            error.to_string(),
            "get_contact: HTTP 404 Not Found (traceId t-9)"
        );
    }
}
