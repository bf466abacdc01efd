//! What every generated client runs around each request (its `ClientHooks` delegate here).
//!
//! Keeping this logic in the runtime, rather than in 41 generated crates, means a fix to
//! authentication or framing is one change here instead of a regeneration.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{AuthError, OAuthApp, resource_for};
use crate::{OperationMeta, RequestBodyKind, Runtime};

/// progenitor sends the spec's `info.version` (`1.0` for every HighLevel spec) under this
/// name; HighLevel reads the per-operation `Version` header instead.
const PROGENITOR_API_VERSION: &str = "api-version";
const VERSION: HeaderName = HeaderName::from_static("version");
/// RFC 2046 caps boundaries at 70 characters.
const MAX_BOUNDARY_LEN: usize = 70;

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
    let operation_id = operation.map_or("unknown operation", |o| o.operation_id);

    let version = match operation.and_then(|o| o.version) {
        Some(version) => Some(HeaderValue::from_str(version).map_err(|_| {
            format!(
                "{operation_id}: the metadata's Version `{version}` is not a valid header value"
            )
        })?),
        None => None,
    };
    // OAuth tokens are picked (and refreshed) in `exec`, where a 401 can be retried.
    let authorization = match runtime.credentials().static_bearer() {
        Some(token) if operation.is_none_or(|o| o.authenticated) => {
            Some(authorization(token).map_err(|why| format!("{operation_id}: {why}"))?)
        }
        _ => None,
    };
    let content_type = match operation.map(|o| o.request_body) {
        Some(RequestBodyKind::Multipart) => {
            Some(multipart_content_type(request).ok_or_else(|| {
                format!(
                    "{operation_id}: the multipart body was not produced by MultipartForm \
                     (it must be in memory and start with `--<boundary>\\r\\n`)"
                )
            })?)
        }
        _ => None,
    };

    let headers = request.headers_mut();
    headers.remove(PROGENITOR_API_VERSION);
    if let Some(version) = version {
        headers.insert(VERSION, version);
    }
    if let Some(authorization) = authorization {
        headers.insert(AUTHORIZATION, authorization);
    }
    if let Some(content_type) = content_type {
        headers.insert(CONTENT_TYPE, content_type);
    }
    Ok(())
}

/// The `Authorization` value, marked sensitive so HTTP-level logging and `Debug` of the
/// request redact it.
fn authorization(token: &SecretString) -> Result<HeaderValue, &'static str> {
    let token = token.expose_secret();
    if token.trim().is_empty() {
        return Err("the access token is empty");
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        "the access token holds characters not allowed in an HTTP header \
         (a line break or other control character?)"
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn multipart_content_type(request: &reqwest::Request) -> Option<HeaderValue> {
    let body = request.body()?.as_bytes()?;
    let boundary = multipart_boundary(body)?;
    HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}")).ok()
}

/// A `MultipartForm` body starts with `--<boundary>\r\n`, or is just `--<boundary>--\r\n`
/// when the form is empty.
fn multipart_boundary(body: &[u8]) -> Option<&str> {
    let rest = body.strip_prefix(b"--")?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(rest.get(..end)?).ok()?;
    let only_line = rest.len() == end + 2;
    let boundary = if only_line {
        line.strip_suffix("--")?
    } else {
        line
    };
    let valid = !boundary.is_empty()
        && boundary.len() <= MAX_BOUNDARY_LEN
        && !boundary.ends_with(' ')
        && boundary.bytes().all(is_bchar);
    valid.then_some(boundary)
}

/// RFC 2046 `bchars`.
fn is_bchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b)
}

/// Sends a prepared request.
///
/// This is the single place every SDK request leaves through. With OAuth credentials it
/// picks the session the operation's security schemes ask for (location or agency, within
/// the handle's scope), keeps it fresh, and after a 401 refreshes once and retries.
///
/// An authentication failure cannot travel as a `reqwest::Error`; it comes back as a
/// synthetic response carrying the [`AuthError`], which [`crate::finish_json`] turns into
/// [`crate::Error::Auth`].
///
/// # Errors
///
/// The transport error of `reqwest`.
pub async fn exec(
    runtime: &Runtime,
    client: &reqwest::Client,
    request: reqwest::Request,
    operation: Option<&'static OperationMeta>,
) -> reqwest::Result<reqwest::Response> {
    match runtime.oauth_app() {
        Some(app) if operation.is_none_or(|o| o.authenticated) => {
            match exec_oauth(app, runtime, client, request, operation).await {
                Ok(response) => response,
                Err(auth) => Ok(AuthFailure::response(auth)),
            }
        }
        _ => send_once(runtime, client, request, operation).await,
    }
}

async fn exec_oauth(
    app: &OAuthApp,
    runtime: &Runtime,
    client: &reqwest::Client,
    mut request: reqwest::Request,
    operation: Option<&'static OperationMeta>,
) -> Result<reqwest::Result<reqwest::Response>, AuthError> {
    let resource = resource_for(
        runtime.location(),
        runtime.company(),
        operation.is_none_or(OperationMeta::accepts_location_token),
        operation.is_none_or(OperationMeta::accepts_agency_token),
    )?;
    let company = runtime.company();
    let session = app.current(&resource, company).await?;
    let retry = request.try_clone();
    set_bearer(&mut request, &session.session.access_token)?;
    let response = match send_once(runtime, client, request, operation).await {
        Ok(response) => response,
        Err(e) => return Ok(Err(e)),
    };
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(Ok(response));
    }
    // A body that cannot be replayed (a stream) gets no second attempt.
    let Some(mut retry) = retry else {
        return Ok(Ok(response));
    };
    let Some(renewed) = app.after_unauthorized(&resource, company, &session).await? else {
        return Ok(Ok(response));
    };
    tracing::debug!(
        operation = operation.map_or("unknown operation", |o| o.operation_id),
        "oauth: retrying after a 401 with renewed tokens"
    );
    set_bearer(&mut retry, &renewed.session.access_token)?;
    let retried = send_once(runtime, client, retry, operation).await;
    if retried
        .as_ref()
        .is_ok_and(|r| r.status() == reqwest::StatusCode::UNAUTHORIZED)
    {
        app.refresh_did_not_cure(&resource);
    }
    Ok(retried)
}

fn set_bearer(request: &mut reqwest::Request, token: &SecretString) -> Result<(), AuthError> {
    request
        .headers_mut()
        .insert(AUTHORIZATION, oauth_authorization(token)?);
    Ok(())
}

/// The `Authorization` value for an OAuth access token (API calls and the agency OAuth
/// endpoints alike).
pub(crate) fn oauth_authorization(token: &SecretString) -> Result<HeaderValue, AuthError> {
    authorization(token).map_err(|why| AuthError::InvalidConfig(why.into()))
}

/// Carries an [`AuthError`] from [`exec`] to the error mapping through a synthetic response
/// (extensions must be `Clone`; the error is taken out once).
#[derive(Clone)]
pub(crate) struct AuthFailure(std::sync::Arc<std::sync::Mutex<Option<AuthError>>>);

impl AuthFailure {
    fn response(error: AuthError) -> reqwest::Response {
        let mut response = http::Response::new(Vec::<u8>::new());
        *response.status_mut() = http::StatusCode::UNAUTHORIZED;
        response
            .extensions_mut()
            .insert(Self(std::sync::Arc::new(std::sync::Mutex::new(Some(
                error,
            )))));
        reqwest::Response::from(response)
    }

    /// The error, if `response` is one of these.
    pub(crate) fn take(response: &mut reqwest::Response) -> Option<AuthError> {
        let failure = response.extensions_mut().remove::<Self>()?;
        let mut slot = failure
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.take()
    }
}

/// One attempt on the wire; the future retry loop in [`exec`] calls this per attempt.
async fn send_once(
    _runtime: &Runtime,
    client: &reqwest::Client,
    request: reqwest::Request,
    _operation: Option<&'static OperationMeta>,
) -> reqwest::Result<reqwest::Response> {
    client.execute(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_is_read_from_the_first_line() {
        assert_eq!(
            multipart_boundary(b"--abc123\r\nContent-Disposition"),
            Some("abc123")
        );
        assert_eq!(multipart_boundary(b"--abc123--\r\n"), Some("abc123"));
        assert_eq!(multipart_boundary(b"--a-b--\r\nx"), Some("a-b--"));
        assert_eq!(multipart_boundary(b"abc\r\n"), None);
        assert_eq!(multipart_boundary(b"--\r\n"), None);
        assert_eq!(multipart_boundary(b"----\r\n"), None);
        assert_eq!(multipart_boundary(b"--no-line-end"), None);
        assert_eq!(multipart_boundary(b"--a;b\r\nx"), None);
        let long = format!("--{}\r\nx", "a".repeat(71));
        assert_eq!(multipart_boundary(long.as_bytes()), None);
    }
}
