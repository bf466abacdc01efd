//! What every generated client's `ClientHooks` impl calls, which progenitor requires of it.
//!
//! The generated `send()`s go through [`crate::send`] instead, which runs the same two steps
//! (`prepare.rs`, `request_loop.rs`) without the futures these add. Keeping both in
//! the runtime, rather than in 83 generated crates, means a fix to authentication or framing
//! is one change here instead of a regeneration.

use crate::prepare::prepare;
use crate::request_loop::Call;
use crate::{OperationMeta, Runtime};

/// Prepares a request: its `Version`, `Authorization` and, for multipart bodies, the boundary.
///
/// `operation` is `None` only when the generated metadata table does not know the operation
/// id; the request is then still authenticated but gets no `Version` header.
///
/// # Errors
///
/// A message (never containing the token) when the token is empty or not a valid header
/// value, the metadata's `Version` is not a valid header value, or a multipart body was not
/// produced by [`crate::MultipartForm`]. Generated clients surface it as
/// [`crate::Error::Hook`].
pub async fn pre(
    runtime: &Runtime,
    request: &mut reqwest::Request,
    operation: Option<&'static OperationMeta>,
) -> Result<(), String> {
    prepare(runtime, request, operation)
}

/// Sends a prepared request through the request loop (`request_loop.rs`).
///
/// Every SDK request leaves through the request loop this runs ([`crate::send`] sets the
/// same call up without this extra future). Each attempt waits for the
/// resource's rate-limit budget (see [`crate::rate_limit`]), goes out, and feeds the answer's
/// `X-RateLimit-*` headers back into the budget; [`crate::retry::decide`] then says whether
/// to try again. With OAuth credentials it picks the session the operation's security
/// schemes ask for (location or agency, within the handle's scope), keeps it fresh, and
/// after a 401 refreshes once and retries. Each call runs in a `highlevel.request` span
/// carrying the operation id, the resource, the attempt, the status and the time spent
/// waiting (never a token).
///
/// A failure that cannot travel as a `reqwest::Error` (no usable OAuth token, a spent
/// daily quota) comes back as a synthetic response carrying it, which [`crate::send`]
/// turns into [`crate::Error::Auth`] or [`crate::Error::RateLimited`].
///
/// # Errors
///
/// The transport error of `reqwest`, after the last attempt.
pub async fn exec(
    runtime: &Runtime,
    client: &reqwest::Client,
    request: reqwest::Request,
    operation: Option<&'static OperationMeta>,
) -> reqwest::Result<reqwest::Response> {
    match Call::new(runtime, client, operation, request.method()) {
        Ok(call) => call.send(request).await,
        Err(failure) => Ok(failure.into_response()),
    }
}
