//! The `Authorization: Bearer …` value a token is sent as: a static token's, built once per
//! [`crate::Runtime`], and each OAuth session's ([`crate::auth`]).

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// The `Authorization` value, marked sensitive so HTTP-level logging and `Debug` of the
/// request redact it; why the token cannot be one otherwise (never naming it).
pub(crate) fn header_value(token: &SecretString) -> Result<HeaderValue, &'static str> {
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
