//! The body of the `verify_and_parse` fuzz target (`fuzz/`), here so that a bounded run on
//! stable Rust exercises the same code: arbitrary bytes as signature headers, keys and
//! bodies must never panic, whatever they are.
//!
//! Arbitrary bytes almost never carry a valid signature, which would leave everything after
//! the signature check unexercised; so an input whose first byte is 0 has its body signed
//! here, with a fixed Ed25519 test key the verifier trusts, and goes on through the
//! `timestamp` window, the seen-store and event parsing.

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::crypto::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};

use crate::events::Event;
use crate::{Ed25519Key, RsaKey, WebhookVerifier};

/// How far one input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reached {
    /// Refused at (or before) the signature check.
    Signature,
    /// The signature verified; refused by a later check (JSON, window, `webhookId`).
    Checks,
    /// Verified, first seen, and its event parsed.
    Delivery,
}

/// The fixed test key: its seed is public, so it must never be trusted outside this module.
fn test_key() -> Option<&'static (Ed25519KeyPair, String)> {
    static KEY: OnceLock<Option<(Ed25519KeyPair, String)>> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[0x5e; 32]).ok()?;
        let public = STANDARD.encode(pair.public_key().as_ref());
        Some((pair, public))
    })
    .as_ref()
}

/// Splits `data` into a header value and a body (the first byte says where), then runs every
/// entry point on them; a first byte of 0 means the body is signed with the test key.
pub fn verify_and_parse(data: &[u8]) -> Reached {
    let signed = data.first() == Some(&0);
    // Signed: the rest is the body. Otherwise the first byte counts itself in the header.
    let split = data
        .first()
        .map_or(0, |n| usize::from(*n).max(1))
        .min(data.len());
    let (head, body) = data.split_at(split);
    let text = String::from_utf8_lossy(head);
    let _ = Ed25519Key::parse(&text);
    let _ = RsaKey::parse(&text);
    if let Ok(event) = Event::from_slice(body) {
        let _ = event.event_type();
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = crate::parse_timestamp(&value);
        if let Some(timestamp) = value.get("timestamp") {
            let _ = crate::parse_timestamp(timestamp);
        }
        let _ = Event::from_value(value);
    }
    let Some((pair, public)) = test_key() else {
        return Reached::Signature;
    };
    // The docs' examples are dated: a window of a century lets their timestamps through.
    let Ok(verifier) = WebhookVerifier::new()
        .ed25519_key(public)
        .map(|v| v.window(Duration::from_secs(100 * 365 * 24 * 60 * 60)))
    else {
        return Reached::Signature;
    };
    let mut headers = HeaderMap::new();
    if signed {
        let signature = STANDARD.encode(pair.sign(body).as_ref());
        if let Ok(value) = HeaderValue::from_str(&signature) {
            headers.insert(crate::ED25519_HEADER, value);
        }
    } else if let Ok(value) = HeaderValue::from_bytes(head) {
        headers.insert(crate::ED25519_HEADER, value.clone());
        headers.insert(crate::RSA_HEADER, value);
    }
    if verifier.verify_signature(&headers, body).is_err() {
        return Reached::Signature;
    }
    match ready(verifier.verify(&headers, body)) {
        Some(Ok(delivery)) => {
            let _ = delivery.event().event_type();
            // Accepted once: the same delivery again must be a duplicate.
            let again = ready(verifier.verify(&headers, body));
            assert!(
                matches!(again, Some(Err(crate::WebhookError::Duplicate { .. }))),
                "a replay was not refused as a duplicate: {again:?}"
            );
            Reached::Delivery
        }
        _ => Reached::Checks,
    }
}

/// The future's output when it is ready at its first poll, as the memory seen-store's are:
/// no runtime is needed inside a fuzz target.
fn ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
