//! The body of the `verify_and_parse` fuzz target (`fuzz/`), here so that a bounded run on
//! stable Rust exercises the same code: arbitrary bytes as signature headers, keys and
//! bodies must never panic, whatever they are.

use http::{HeaderMap, HeaderValue};

use crate::events::Event;
use crate::{Ed25519Key, RsaKey, WebhookVerifier};

/// Splits `data` into a header value and a body, then runs every entry point on them.
pub fn verify_and_parse(data: &[u8]) {
    let split = data.first().map_or(0, |n| usize::from(*n)).min(data.len());
    let (head, body) = data.split_at(split);
    let text = String::from_utf8_lossy(head);
    let _ = Ed25519Key::parse(&text);
    let _ = RsaKey::parse(&text);
    let verifier = WebhookVerifier::new();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(head) {
        headers.insert(crate::ED25519_HEADER, value.clone());
        headers.insert(crate::RSA_HEADER, value);
    }
    let _ = verifier.verify_signature(&headers, body);
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
}
