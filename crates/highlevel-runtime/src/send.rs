//! What a generated `send()` does once its request is built: the hooks, the request loop,
//! the 2xx body decoded, and every failure mapped into [`Error`].
//!
//! Each generated `send()` only builds its `reqwest::Request` and returns one of these
//! futures, so the async code is checked once here and instantiated per response type where
//! an operation is awaited, instead of being an async body per operation that every module
//! crate checks whether the user calls it or not (Contacts' crate: 3.5 s to 3.0 s under
//! `-Ztime-passes`).

use progenitor_client::{ByteStream, Error as GeneratedError, ResponseValue};
use serde::de::DeserializeOwned;

use crate::decode::{decode_json, finish, finish_json};
use crate::{Error, OperationMeta, Runtime, hooks};

/// Sends a built request for an operation whose 2xx body is JSON, and decodes it as `T`.
///
/// `request` is what the operation's builder made of its arguments: an `Err` (a missing
/// required argument, a body that does not serialize) becomes [`Error::InvalidRequest`]
/// without anything being sent.
///
/// # Errors
///
/// [`Error`], naming `operation`: `Api` for a non-2xx answer, `Decode` when the body does
/// not fit `T`, `Transport`, `Auth`, `RateLimited`, `Hook` or `InvalidRequest`.
pub async fn json<T: DeserializeOwned>(
    runtime: &Runtime,
    client: &reqwest::Client,
    operation: &'static OperationMeta,
    request: Result<reqwest::Request, GeneratedError<()>>,
) -> Result<ResponseValue<T>, Error> {
    let result = match exchange(runtime, client, operation, request).await {
        Ok(response) => decode_json(response).await,
        Err(error) => Err(error),
    };
    finish_json(operation, result).await
}

/// Sends a built request for an operation whose 2xx body is a download, returned unread.
///
/// # Errors
///
/// As [`json`], except that nothing is decoded.
pub async fn stream(
    runtime: &Runtime,
    client: &reqwest::Client,
    operation: &'static OperationMeta,
    request: Result<reqwest::Request, GeneratedError<()>>,
) -> Result<ResponseValue<ByteStream>, Error> {
    let result = exchange(runtime, client, operation, request)
        .await
        .map(ResponseValue::stream);
    finish(operation, result).await
}

/// The request out and its 2xx response back; any other status is progenitor's
/// `UnexpectedResponse`, which [`finish_json`] reads into [`Error::Api`].
async fn exchange(
    runtime: &Runtime,
    client: &reqwest::Client,
    operation: &'static OperationMeta,
    request: Result<reqwest::Request, GeneratedError<()>>,
) -> Result<reqwest::Response, GeneratedError<()>> {
    let mut request = request?;
    hooks::pre(runtime, &mut request, Some(operation))
        .await
        .map_err(GeneratedError::Custom)?;
    let response = hooks::exec(runtime, client, request, Some(operation)).await?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(GeneratedError::UnexpectedResponse(response))
    }
}
