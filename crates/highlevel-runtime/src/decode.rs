//! Success bodies into generated types, and every other outcome of a call into [`Error`]
//! (for [`crate::send`]).

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::body::{self, ReadError};
use crate::error::{ApiError, DecodeError, body_prefix};
use crate::failure::Failure;
use crate::send::RequestError;
use crate::{ByteStream, Error, OperationMeta, ResponseValue};

/// Why a call brought no 2xx response, before [`failure`] makes it an [`Error`].
pub(crate) enum Unsuccessful {
    /// The generated `send()` could not build its request.
    Unsent(RequestError),
    /// Preparing the request failed (`prepare.rs`); the message never holds the token.
    Hook(String),
    /// The request loop's last attempt failed in transport.
    Transport(reqwest::Error),
    /// A non-2xx answer, or one the request loop made to carry a [`Failure`].
    Answer(reqwest::Response),
}

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

/// Decodes a JSON success body as `T`.
///
/// An empty (or whitespace-only) body, as HighLevel sends with many 200/201/204 answers,
/// decodes as `null`, or as `{}` for types that do not take `null`, so operations whose
/// spec promises an object still succeed when nothing comes back.
///
/// # Errors
///
/// [`Error::Decode`] when the body does not fit `T`: it is then decoded a second time with
/// `serde_path_to_error` (only then, so successes pay nothing) to report where it failed.
#[expect(
    clippy::result_large_err,
    reason = "the SDK's `Error`, which every call returns as it is"
)]
pub(crate) fn decode_json<T: DeserializeOwned>(
    operation: &'static OperationMeta,
    body: SuccessBody,
) -> Result<ResponseValue<T>, Error> {
    let SuccessBody {
        bytes,
        status,
        headers,
    } = body;
    match parse(&bytes) {
        Ok(inner) => Ok(ResponseValue::new(inner, status, headers)),
        Err(source) => {
            let path = json_path::<T>(&bytes);
            Err(decode_error(operation, &bytes, path, source))
        }
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

/// Maps why a call brought no 2xx response into the SDK's [`Error`], naming `operation`; an
/// API error's body is read here (within the handle's cap).
pub(crate) async fn failure(
    operation: &'static OperationMeta,
    unsuccessful: Unsuccessful,
) -> Error {
    let operation_id = operation.operation_id;
    let mut response = match unsuccessful {
        Unsuccessful::Answer(response) => response,
        Unsuccessful::Unsent(RequestError::InvalidRequest(message)) => {
            return Error::InvalidRequest {
                operation_id,
                message,
            };
        }
        Unsuccessful::Unsent(RequestError::Build(source)) => {
            return Error::InvalidRequest {
                operation_id,
                message: with_causes(&source),
            };
        }
        Unsuccessful::Hook(message) => {
            return Error::Hook {
                operation_id,
                message,
            };
        }
        Unsuccessful::Transport(source) => {
            return Error::Transport {
                operation_id,
                status: None,
                source,
            };
        }
    };
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

/// An error's message followed by each of its causes': reqwest's own says only "builder
/// error", and what does not serialize is in its source.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}

/// Reads a download (an operation returning a `ByteStream`, such as a call recording) into
/// memory, so callers need no stream library for the common case.
///
/// # Errors
///
/// The transport error of the first chunk that fails to arrive.
pub async fn collect_bytes(stream: ByteStream) -> reqwest::Result<bytes::Bytes> {
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
    use crate::operation::GET_CONTACT;

    /// A request reqwest cannot build is an invalid request (nothing was sent), and its
    /// message says what did not serialize, not only reqwest's "builder error".
    #[tokio::test]
    async fn a_request_that_cannot_be_built_is_an_invalid_request_naming_why() {
        crate::tls::install_crypto_provider().expect("the default ring provider");
        let odd = std::collections::BTreeMap::from([((1, 2), 3)]);
        let build = reqwest::Client::new()
            .get("http://h/contacts/")
            .query(&crate::query::Param::new("filter", &odd))
            .build()
            .expect_err("a map with tuple keys has no query form");
        let error = failure(&GET_CONTACT, Unsuccessful::Unsent(build.into())).await;
        let Error::InvalidRequest {
            operation_id,
            message,
        } = &error
        else {
            panic!("not InvalidRequest: {error:?}");
        };
        assert_eq!(*operation_id, "get_contact");
        assert!(message.starts_with("builder error: "), "{message}");
        assert!(message.contains("query parameter `filter`"), "{message}");
        assert_eq!(error.status(), None);
    }

    #[tokio::test]
    async fn a_missing_argument_and_a_hook_failure_keep_their_message() {
        let missing = RequestError::InvalidRequest("`contactId` was not initialized".into());
        let error = failure(&GET_CONTACT, Unsuccessful::Unsent(missing)).await;
        assert!(
            matches!(&error, Error::InvalidRequest { message, .. }
                if message == "`contactId` was not initialized"),
            "{error:?}"
        );
        let error = failure(&GET_CONTACT, Unsuccessful::Hook("empty token".into())).await;
        assert!(
            matches!(&error, Error::Hook { message, .. } if message == "empty token"),
            "{error:?}"
        );
    }
}
