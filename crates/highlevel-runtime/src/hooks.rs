//! What every generated client runs around each request (its `ClientHooks` delegate here).
//!
//! Keeping this logic in the runtime, rather than in 41 generated crates, means a fix to
//! authentication or framing is one change here instead of a regeneration.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use secrecy::ExposeSecret;

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
    let authorization = if operation.is_none_or(|o| o.authenticated) {
        Some(authorization(runtime).map_err(|why| format!("{operation_id}: {why}"))?)
    } else {
        None
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
fn authorization(runtime: &Runtime) -> Result<HeaderValue, &'static str> {
    let token = runtime.credentials().bearer().expose_secret();
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
/// This is the single place every SDK request leaves through, so retries and rate limiting
/// (which need the runtime and the operation's metadata) will be added here without
/// touching generated code.
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
    send_once(runtime, client, request, operation).await
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
