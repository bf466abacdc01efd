//! What a generated `send()` does once its request is built: the hooks, the request loop,
//! the 2xx body decoded, and every failure mapped into [`Error`].
//!
//! Each generated `send()` only builds its `reqwest::Request` and returns one of these
//! futures, so the async code is checked once here and instantiated per response type where
//! an operation is awaited, instead of being an async body per operation that every module
//! crate checks whether the user calls it or not (Contacts' crate: 3.5 s to 3.0 s under
//! `-Ztime-passes`).
//!
//! Both futures declare `Send`: a caller that needs it (a page request, a `tokio::spawn`)
//! reads it off the signature instead of proving it through the whole request loop, which
//! took 0.19 s per list operation in a module crate's check.
//!
//! A future holds room for every future it awaits, and each is copied whole when it is
//! created: so the request loop is the one future these await (set up synchronously, not
//! through further async layers), and reading an error's body, which successes never do,
//! is boxed.

use futures_util::FutureExt;
use futures_util::future::{Either, ready};
use serde::de::DeserializeOwned;

use crate::decode::{Unsuccessful, decode_json, failure, read_success};
use crate::prepare::prepare;
use crate::request_loop::Call;
use crate::{ByteStream, Error, OperationMeta, ResponseValue, Runtime};

/// Why a generated `send()` could not build its request; the call becomes
/// [`Error::InvalidRequest`] and nothing is sent.
#[derive(Debug)]
pub enum RequestError {
    /// A required argument was not set, or an argument failed its conversion.
    InvalidRequest(String),
    /// reqwest could not build the request: a body or query parameter that does not
    /// serialize, a base URL that does not parse.
    Build(reqwest::Error),
}

impl From<reqwest::Error> for RequestError {
    #[inline]
    fn from(error: reqwest::Error) -> Self {
        Self::Build(error)
    }
}

/// Sends a built request for an operation whose 2xx body is JSON, and decodes it as `T`.
///
/// `request` is what the operation's builder made of its arguments: an `Err` (a missing
/// required argument, a body that does not serialize) becomes [`Error::InvalidRequest`]
/// without anything being sent.
///
/// # Errors
///
/// [`Error`], naming `operation`: `Api` for a non-2xx answer, `Decode` when the body does
/// not fit `T`, `ResponseTooLarge`, `Transport`, `Auth`, `RateLimited`, `Hook` or
/// `InvalidRequest`.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn's future keeps its arguments twice"
)]
pub fn json<'a, T: DeserializeOwned>(
    runtime: &'a Runtime,
    client: &'a reqwest::Client,
    operation: &'static OperationMeta,
    request: Result<reqwest::Request, RequestError>,
) -> impl Future<Output = Result<ResponseValue<T>, Error>> + Send + 'a {
    async move {
        match sent(runtime, client, operation, request).await {
            Ok(response) => {
                let body = read_success(operation, response).await?;
                // Decoded last, outside any further future: the value (often hundreds of
                // bytes) is copied once into this future's output, not once per layer it
                // would pass through.
                decode_json::<T>(operation, body)
            }
            Err(unsuccessful) => Err(Box::pin(failure(operation, unsuccessful)).await),
        }
    }
}

/// Sends a built request for an operation whose 2xx body is a download, returned unread.
///
/// # Errors
///
/// As [`json`], except that nothing is decoded.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn's future keeps its arguments twice"
)]
pub fn stream<'a>(
    runtime: &'a Runtime,
    client: &'a reqwest::Client,
    operation: &'static OperationMeta,
    request: Result<reqwest::Request, RequestError>,
) -> impl Future<Output = Result<ResponseValue<ByteStream>, Error>> + Send + 'a {
    async move {
        match sent(runtime, client, operation, request).await {
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                Ok(ResponseValue::new(
                    ByteStream::of(response),
                    status,
                    headers,
                ))
            }
            Err(error) => Err(Box::pin(failure(operation, error)).await),
        }
    }
}

/// The request prepared (`prepare.rs`) and sent through its call (`request_loop.rs`); its
/// 2xx response.
///
/// Not an async layer over the call: the call's future is awaited as it is, or not at all
/// when the request cannot be sent.
fn sent<'a>(
    runtime: &'a Runtime,
    client: &'a reqwest::Client,
    operation: &'static OperationMeta,
    request: Result<reqwest::Request, RequestError>,
) -> impl Future<Output = Result<reqwest::Response, Unsuccessful>> + 'a {
    let mut request = match request {
        Ok(request) => request,
        Err(error) => return Either::Right(ready(Err(Unsuccessful::Unsent(error)))),
    };
    if let Err(why) = prepare(runtime, &mut request, operation) {
        return Either::Right(ready(Err(Unsuccessful::Hook(why))));
    }
    match Call::new(runtime, client, operation, request.method()) {
        Ok(call) => Either::Left(call.send(request).map(successful)),
        Err(failure) => Either::Right(ready(Err(Unsuccessful::Answer(failure.into_response())))),
    }
}

/// A 2xx response; any other status is an answer [`failure`] reads into [`Error::Api`].
#[expect(
    clippy::result_large_err,
    reason = "the answer, carried as it is to the error mapping"
)]
fn successful(
    response: reqwest::Result<reqwest::Response>,
) -> Result<reqwest::Response, Unsuccessful> {
    match response {
        Ok(response) if response.status().is_success() => Ok(response),
        Ok(response) => Err(Unsuccessful::Answer(response)),
        Err(error) => Err(Unsuccessful::Transport(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;
    use crate::operation::GET_CONTACT;

    /// Every call's future is created and copied whole (README, per-request cost): 3,864
    /// bytes before the request loop was awaited directly, 1,760 after.
    #[test]
    fn a_call_future_stays_small() {
        crate::tls::install_crypto_provider().expect("the default ring provider");
        let runtime = Runtime::new(Credentials::private_integration_token("t"));
        let client = reqwest::Client::new();
        let call = json::<serde_json::Value>(
            &runtime,
            &client,
            &GET_CONTACT,
            Err(RequestError::InvalidRequest("unsent".into())),
        );
        let size = std::mem::size_of_val(&call);
        assert!(size <= 2_048, "send::json's future is {size} bytes");
    }
}
