//! What every generated client runs around each request (its `ClientHooks` delegate here).

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use secrecy::ExposeSecret;

use crate::{OperationMeta, RequestBodyKind, Runtime};

/// progenitor sends the spec's `info.version` (`1.0` for every HighLevel spec) under this
/// name; HighLevel reads the per-operation `Version` header instead.
const PROGENITOR_API_VERSION: &str = "api-version";
const VERSION: HeaderName = HeaderName::from_static("version");

/// Prepares a request: its `Version`, `Authorization` and, for multipart bodies, the boundary.
///
/// # Errors
///
/// A message (never containing the token) when the token is not a valid header value or a
/// multipart body is not one `MultipartForm` produced.
pub async fn pre(
    runtime: &Runtime,
    request: &mut reqwest::Request,
    operation: Option<&'static OperationMeta>,
) -> Result<(), String> {
    let operation_id = operation.map_or("unknown operation", |o| o.operation_id);
    let headers = request.headers_mut();
    headers.remove(PROGENITOR_API_VERSION);
    if let Some(version) = operation.and_then(|o| o.version) {
        let value = HeaderValue::from_str(version)
            .map_err(|_| format!("{operation_id}: invalid Version `{version}` in the metadata"))?;
        headers.insert(VERSION, value);
    }
    let token = runtime.credentials().bearer().expose_secret();
    let mut authorization = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        format!("{operation_id}: the token holds characters not allowed in an HTTP header")
    })?;
    authorization.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, authorization);

    if operation.is_some_and(|o| o.request_body == RequestBodyKind::Multipart) {
        let boundary = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .and_then(multipart_boundary)
            .ok_or_else(|| {
                format!("{operation_id}: the body is not a MultipartForm (or a typed form)")
            })?;
        let content_type = HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
            .map_err(|_| format!("{operation_id}: invalid multipart boundary"))?;
        request.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    Ok(())
}

/// A `MultipartForm` body starts with `--<boundary>\r\n`.
fn multipart_boundary(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"--")?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    let boundary = std::str::from_utf8(rest.get(..end)?).ok()?;
    (!boundary.is_empty()).then(|| boundary.to_owned())
}

/// Sends a prepared request.
///
/// # Errors
///
/// The transport error of `reqwest`.
pub async fn exec(
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
        assert_eq!(multipart_boundary(b"--abc123\r\nContent-Disposition"), Some("abc123".into()));
        assert_eq!(multipart_boundary(b"abc\r\n"), None);
        assert_eq!(multipart_boundary(b"--\r\n"), None);
        assert_eq!(multipart_boundary(b"--no-line-end"), None);
    }
}
