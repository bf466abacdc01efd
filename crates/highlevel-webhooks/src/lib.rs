//! HighLevel webhooks: deliveries verified over the raw body before anything is parsed
//! (Ed25519 in `x-ghl-signature`, legacy RSA-SHA256 in `x-wh-signature` with HighLevel's
//! documented key bundled), replay protection (a `timestamp` window and a store of seen
//! `webhookId`s), and typed events.
//!
//! ```no_run
//! # async fn example(headers: http::HeaderMap, body: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
//! use highlevel_webhooks::WebhookVerifier;
//!
//! // HighLevel's RSA key is bundled; the Ed25519 key comes from your app's settings.
//! let verifier = WebhookVerifier::new().ed25519_key(&std::env::var("HL_WEBHOOK_KEY")?)?;
//! // Once per process; then for every request, with the body exactly as received:
//! let delivery = verifier.verify(&headers, &body).await?;
//! println!("{} verified by {}", delivery.webhook_id, delivery.scheme);
//! # Ok(())
//! # }
//! ```
//!
//! With feature `axum`, `receiver` is a ready endpoint in one of two modes: fast and at most
//! once (answered at once, events on a channel) or at least once (answered after your handler
//! succeeded, so a failure is retried); its documentation says which to choose. Either way a
//! body must arrive within a deadline and carry a valid signature before the request holds
//! anything, so unauthenticated connections cannot starve it.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "redis", feature = "postgres"))]
mod backend;
mod crypto;
mod error;
#[rustfmt::skip]
#[allow(missing_docs)]
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod installs;
#[cfg(feature = "axum")]
pub mod receiver;
pub mod seen;
mod signature;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use error::WebhookError;
pub use seen::{MemorySeenStore, SeenStore};
pub use signature::{
    ED25519_HEADER, Ed25519Key, HIGHLEVEL_RSA_PUBLIC_KEY, KeyError, RSA_HEADER, RsaKey, Scheme,
};

/// How far a delivery's `timestamp` may be from now, either way, by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5 * 60);
/// The largest body verified by default.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// Checks deliveries: signature over the raw body, then the `timestamp` window, then the
/// `webhookId` against the seen-store. Build one per process and share it (cheap to clone).
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    ed25519: Option<Ed25519Key>,
    rsa: Option<RsaKey>,
    accepted: Vec<Scheme>,
    window: Duration,
    max_body_bytes: usize,
    seen: Arc<dyn SeenStore>,
}

impl Default for WebhookVerifier {
    fn default() -> Self {
        Self::new()
    }
}

/// A delivery that verified and was not seen before.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// Which signature verified it.
    pub scheme: Scheme,
    /// Its `webhookId`.
    pub webhook_id: String,
    /// Its `timestamp`.
    pub timestamp: DateTime<Utc>,
    /// The body, parsed.
    pub payload: Value,
}

impl Delivery {
    /// The typed event (an event type this SDK does not know is [`events::Event::Unknown`],
    /// with the JSON kept).
    pub fn event(&self) -> events::Event {
        events::Event::from_value(self.payload.clone())
    }
}

impl WebhookVerifier {
    /// Accepts either scheme: Ed25519 once [`WebhookVerifier::ed25519_key`] gives its key,
    /// RSA with HighLevel's documented key. A 5-minute window, a 1 MiB body limit, and seen
    /// ids kept in memory.
    pub fn new() -> Self {
        Self {
            ed25519: None,
            rsa: Some(RsaKey::highlevel()),
            accepted: vec![Scheme::Ed25519, Scheme::Rsa],
            window: DEFAULT_WINDOW,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            seen: Arc::new(MemorySeenStore::new()),
        }
    }

    /// The Ed25519 public key, as PEM, base64 or hex (raw 32 bytes or SubjectPublicKeyInfo).
    ///
    /// # Errors
    ///
    /// When the key cannot be read.
    pub fn ed25519_key(mut self, key: &str) -> Result<Self, KeyError> {
        self.ed25519 = Some(Ed25519Key::parse(key)?);
        Ok(self)
    }

    /// Another RSA public key (PEM or base64 DER) instead of HighLevel's documented one, for
    /// a rotated key or for tests.
    ///
    /// # Errors
    ///
    /// When the key cannot be read.
    pub fn rsa_key(mut self, key: &str) -> Result<Self, KeyError> {
        self.rsa = Some(RsaKey::parse(key)?);
        Ok(self)
    }

    /// Only these schemes are accepted (in this order of preference); a delivery signed only
    /// otherwise is refused.
    pub fn accept(mut self, schemes: &[Scheme]) -> Self {
        self.accepted = schemes.to_vec();
        self
    }

    /// How far a `timestamp` may be from now, either way (default 5 minutes).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The largest body verified (default 1 MiB); larger ones are refused unread.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Where seen `webhookId`s are kept (default: this process's memory). Use a shared
    /// store when several processes receive deliveries.
    pub fn seen_store(mut self, store: impl SeenStore + 'static) -> Self {
        self.seen = Arc::new(store);
        self
    }

    /// The largest body this verifier reads.
    pub fn max_body(&self) -> usize {
        self.max_body_bytes
    }

    /// Checks the signature alone, over `body` exactly as received; says which scheme
    /// verified. Nothing is parsed before this passes.
    ///
    /// # Errors
    ///
    /// [`WebhookError`]: too large, no (or a malformed) signature of an accepted scheme, no
    /// key for the scheme it is signed with, or a signature that does not match.
    pub fn verify_signature(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Scheme, WebhookError> {
        if body.len() > self.max_body_bytes {
            return Err(WebhookError::BodyTooLarge {
                len: body.len(),
                max: self.max_body_bytes,
            });
        }
        let header = |scheme: Scheme| {
            headers.get(scheme.header()).map(|v| {
                v.to_str()
                    .map_err(|_| WebhookError::MalformedSignature { scheme })
            })
        };
        let present: Vec<Scheme> = self
            .accepted
            .iter()
            .copied()
            .filter(|s| headers.contains_key(s.header()))
            .collect();
        let has_key = |scheme: Scheme| match scheme {
            Scheme::Ed25519 => self.ed25519.is_some(),
            Scheme::Rsa => self.rsa.is_some(),
        };
        // The first accepted scheme that is present and that there is a key for decides; a
        // scheme without a key only matters when nothing else is there.
        let Some(scheme) = present
            .iter()
            .copied()
            .find(|s| has_key(*s))
            .or_else(|| present.first().copied())
        else {
            return Err(WebhookError::MissingSignature {
                accepted: self.accepted.clone(),
            });
        };
        let signature = match header(scheme) {
            Some(value) => value?,
            None => {
                return Err(WebhookError::MissingSignature {
                    accepted: self.accepted.clone(),
                });
            }
        };
        match signature::check(
            scheme,
            self.ed25519.as_ref(),
            self.rsa.as_ref(),
            body,
            signature,
        )? {
            signature::Check::Valid => Ok(scheme),
            signature::Check::Invalid => Err(WebhookError::BadSignature { scheme }),
        }
    }

    /// The whole check: signature, then the `timestamp` window, then the `webhookId` (which
    /// is recorded, so the same delivery is refused next time).
    ///
    /// # Errors
    ///
    /// [`WebhookError`], as [`WebhookVerifier::verify_signature`] and: a body that is not a
    /// JSON object, no or a stale or future `timestamp`, no `webhookId`, a duplicate, or a
    /// failing seen-store.
    pub async fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, WebhookError> {
        let scheme = self.verify_signature(headers, body)?;
        let delivery = self.within_window(scheme, body)?;
        self.record(&delivery.webhook_id).await?;
        Ok(delivery)
    }

    /// The checks after the signature, short of the seen-store: a JSON object, its
    /// `timestamp` inside the window, a `webhookId`. Only for a body whose signature
    /// verified by `scheme`.
    pub(crate) fn within_window(
        &self,
        scheme: Scheme,
        body: &[u8],
    ) -> Result<Delivery, WebhookError> {
        let payload: Value =
            serde_json::from_slice(body).map_err(|e| WebhookError::MalformedBody {
                reason: format!("not JSON ({e})"),
            })?;
        let Some(object) = payload.as_object() else {
            return Err(WebhookError::MalformedBody {
                reason: "not a JSON object".into(),
            });
        };
        let timestamp = object
            .get("timestamp")
            .and_then(parse_timestamp)
            .ok_or(WebhookError::MissingTimestamp)?;
        let now = Utc::now();
        let offset = now.signed_duration_since(timestamp);
        let window = self.window;
        match offset.to_std() {
            Ok(age) if age > window => return Err(WebhookError::StaleTimestamp { age, window }),
            Err(_) => {
                let ahead = (-offset).to_std().unwrap_or_default();
                if ahead > window {
                    return Err(WebhookError::FutureTimestamp { ahead, window });
                }
            }
            Ok(_) => {}
        }
        let webhook_id = object
            .get("webhookId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or(WebhookError::MissingWebhookId)?
            .to_owned();
        Ok(Delivery {
            scheme,
            webhook_id,
            timestamp,
            payload,
        })
    }

    /// How long a seen id is kept: past twice the window the timestamp check refuses a
    /// replay on its own. Saturating, as a window is the caller's to choose.
    fn seen_ttl(&self) -> Duration {
        self.window.saturating_mul(2)
    }

    /// Records `webhook_id` as seen.
    ///
    /// # Errors
    ///
    /// [`WebhookError::Duplicate`] when it was recorded already, [`WebhookError::SeenStore`]
    /// when the store fails.
    pub(crate) async fn record(&self, webhook_id: &str) -> Result<(), WebhookError> {
        let first = self
            .seen
            .first_sighting(webhook_id, self.seen_ttl())
            .await
            .map_err(|message| WebhookError::SeenStore { message })?;
        if first {
            Ok(())
        } else {
            Err(WebhookError::Duplicate {
                webhook_id: webhook_id.to_owned(),
            })
        }
    }

    /// Whether `webhook_id` is recorded as seen, recording nothing.
    ///
    /// # Errors
    ///
    /// [`WebhookError::SeenStore`] when the store fails.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) async fn already_seen(&self, webhook_id: &str) -> Result<bool, WebhookError> {
        self.seen
            .seen(webhook_id)
            .await
            .map_err(|message| WebhookError::SeenStore { message })
    }
}

/// An RFC 3339 date, or epoch milliseconds (seconds below 10^11), as number or text.
fn parse_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    let epoch = |n: f64| {
        let millis = if n.abs() < 1e11 { n * 1000.0 } else { n };
        DateTime::from_timestamp_millis(millis as i64)
    };
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| text.trim().parse::<f64>().ok().and_then(epoch)),
        Value::Number(n) => n.as_f64().and_then(epoch),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_dates_or_epoch_seconds_or_milliseconds() {
        let expected = DateTime::parse_from_rfc3339("2025-01-28T14:35:00Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        for value in [
            json!("2025-01-28T14:35:00Z"),
            json!("2025-01-28T15:35:00+01:00"),
            json!(1_738_074_900),
            json!(1_738_074_900_000_i64),
            json!("1738074900000"),
        ] {
            assert_eq!(parse_timestamp(&value), expected, "{value}");
        }
        for value in [json!(null), json!("yesterday"), json!({}), json!(true)] {
            assert_eq!(parse_timestamp(&value), None, "{value}");
        }
    }
}
