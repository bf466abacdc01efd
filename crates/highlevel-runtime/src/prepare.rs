//! What a request carries before it leaves: its operation's `Version`, a static token's
//! `Authorization`, and the boundary of a multipart body.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};

use crate::{OperationMeta, RequestBodyKind, Runtime};

const VERSION: HeaderName = HeaderName::from_static("version");
/// RFC 2046 caps boundaries at 70 characters.
const MAX_BOUNDARY_LEN: usize = 70;

/// Sets the request's `Version`, `Authorization` and, for multipart bodies, its boundary.
///
/// Nothing in it waits, so [`crate::send`] calls it without a future.
///
/// # Errors
///
/// A message (never containing the token) when the token is empty or not a valid header
/// value, the metadata's `Version` is not a valid header value, or a multipart body was not
/// produced by [`crate::MultipartForm`].
pub(crate) fn prepare(
    runtime: &Runtime,
    request: &mut reqwest::Request,
    operation: &'static OperationMeta,
) -> Result<(), String> {
    let operation_id = operation.operation_id;

    let version = match operation.version {
        Some(version) => Some(static_header_value(version).ok_or_else(|| {
            format!(
                "{operation_id}: the metadata's Version `{version}` is not a valid header value"
            )
        })?),
        None => None,
    };
    // OAuth tokens are picked (and refreshed) in the request loop, where a 401 can be retried.
    let authorization = match runtime.static_authorization() {
        Some(value) if operation.authenticated => Some(
            value
                .map_err(|why| format!("{operation_id}: {why}"))?
                .clone(),
        ),
        _ => None,
    };
    let content_type = match operation.request_body {
        RequestBodyKind::Multipart => Some(multipart_content_type(request).ok_or_else(|| {
            format!(
                "{operation_id}: the multipart body was not produced by MultipartForm \
                     (it must be in memory and start with `--<boundary>\\r\\n`)"
            )
        })?),
        _ => None,
    };

    // progenitor's `api-version` header (the spec's `info.version`) is never built: the
    // generator drops it (`xtask/src/codegen/send_bodies.rs`).
    let headers = request.headers_mut();
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

/// A header value for a `&'static str` without copying it (every request sends its
/// operation's `Version`); `None` when it holds a byte a header may not.
fn static_header_value(value: &'static str) -> Option<HeaderValue> {
    // The same test `HeaderValue::from_static` makes, done first so it cannot panic.
    let valid = value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    valid.then(|| HeaderValue::from_static(value))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;
    use crate::operation::GET_CONTACT;

    const TOKEN: &str = "pit-0123456789-very-secret";

    #[test]
    fn the_token_is_a_sensitive_header_and_the_version_replaces_any_other() {
        crate::tls::install_crypto_provider().expect("the default ring provider");
        let runtime = Runtime::new(Credentials::private_integration_token(TOKEN));
        let mut request = reqwest::Client::new()
            .get("http://h/contacts/c1")
            .header("Version", "1999-01-01")
            .build()
            .expect("a request");
        prepare(&runtime, &mut request, &GET_CONTACT).expect("prepared");
        let authorization = request.headers().get(AUTHORIZATION).expect("authorization");
        assert!(authorization.is_sensitive());
        assert!(
            !format!("{request:?}").contains(TOKEN),
            "the token leaks through Debug"
        );
        let versions: Vec<_> = request.headers().get_all(VERSION).iter().collect();
        assert_eq!(versions, ["2021-07-28"]);
    }

    #[test]
    fn static_header_values_are_checked_not_panicked_on() {
        assert_eq!(
            static_header_value("2021-07-28")
                .as_ref()
                .map(HeaderValue::as_bytes),
            Some(&b"2021-07-28"[..])
        );
        assert_eq!(
            static_header_value("a\tb ~")
                .as_ref()
                .map(HeaderValue::as_bytes),
            Some(&b"a\tb ~"[..])
        );
        for bad in ["2021\n07", "\u{7f}", "é", "a\rb", "\0"] {
            assert!(static_header_value(bad).is_none(), "{bad:?}");
        }
    }

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
