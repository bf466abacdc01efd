//! Success bodies into generated types, and progenitor's errors into [`Error`].

use progenitor_client::{Error as GeneratedError, ResponseValue};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, DecodeError, body_prefix};
use crate::{Error, OperationMeta};

/// Decodes a JSON success body; stands in for progenitor's `ResponseValue::from_response`.
///
/// An empty body (204, or a 200 with nothing in it) decodes as `null`, or as `{}` for types
/// that do not take `null`, so operations whose spec promises nothing still succeed.
///
/// # Errors
///
/// progenitor's `ResponseBodyError` when the body cannot be read, `InvalidResponsePayload`
/// when it does not decode.
pub async fn decode_json<T: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<ResponseValue<T>, GeneratedError<()>> {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .map_err(GeneratedError::ResponseBodyError)?;
    let inner = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_slice(b"null")
            .or_else(|_| serde_json::from_slice(b"{}"))
            .map_err(|e| GeneratedError::InvalidResponsePayload(bytes.clone(), e))?
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| GeneratedError::InvalidResponsePayload(bytes.clone(), e))?
    };
    Ok(ResponseValue::new(inner, status, headers))
}

/// Maps the outcome of a generated JSON operation into the SDK's result.
///
/// # Errors
///
/// [`Error`], naming `operation`; a decode failure carries the JSON path where it failed.
pub async fn finish_json<T: DeserializeOwned>(
    operation: &'static OperationMeta,
    result: Result<ResponseValue<T>, GeneratedError<()>>,
) -> Result<ResponseValue<T>, Error> {
    match result {
        Ok(value) => Ok(value),
        Err(GeneratedError::InvalidResponsePayload(bytes, source)) => {
            let mut decoder = serde_json::Deserializer::from_slice(&bytes);
            let path = match serde_path_to_error::deserialize::<_, T>(&mut decoder) {
                Err(located) => located.path().to_string(),
                Ok(_) => ".".to_owned(),
            };
            Err(decode_error(operation, &bytes, path, source))
        }
        Err(other) => Err(map_error(operation, other).await),
    }
}

/// Maps the outcome of a generated operation whose body is not decoded (downloads).
///
/// # Errors
///
/// [`Error`], naming `operation`.
pub async fn finish<T>(
    operation: &'static OperationMeta,
    result: Result<ResponseValue<T>, GeneratedError<()>>,
) -> Result<ResponseValue<T>, Error> {
    match result {
        Ok(value) => Ok(value),
        Err(GeneratedError::InvalidResponsePayload(bytes, source)) => {
            Err(decode_error(operation, &bytes, ".".to_owned(), source))
        }
        Err(other) => Err(map_error(operation, other).await),
    }
}

fn decode_error(
    operation: &'static OperationMeta,
    bytes: &[u8],
    path: String,
    source: serde_json::Error,
) -> Error {
    Error::Decode(Box::new(DecodeError {
        operation_id: operation.operation_id,
        // Only 2xx bodies are decoded; progenitor drops the exact status on this path.
        status: http::StatusCode::OK,
        path,
        body_prefix: body_prefix(bytes),
        source,
    }))
}

async fn map_error(operation: &'static OperationMeta, error: GeneratedError<()>) -> Error {
    let operation_id = operation.operation_id;
    match error {
        GeneratedError::UnexpectedResponse(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            match response.bytes().await {
                Ok(raw) => Error::Api(Box::new(ApiError::new(operation_id, status, headers, raw))),
                Err(source) => Error::Transport { operation_id, source },
            }
        }
        GeneratedError::ErrorResponse(value) => Error::Api(Box::new(ApiError::new(
            operation_id,
            value.status(),
            value.headers().clone(),
            bytes::Bytes::new(),
        ))),
        GeneratedError::CommunicationError(source)
        | GeneratedError::ResponseBodyError(source)
        | GeneratedError::InvalidUpgrade(source) => Error::Transport { operation_id, source },
        GeneratedError::InvalidRequest(message) | GeneratedError::Custom(message) => {
            Error::InvalidRequest { operation_id, message }
        }
        GeneratedError::InvalidResponsePayload(bytes, source) => {
            decode_error(operation, &bytes, ".".to_owned(), source)
        }
    }
}
