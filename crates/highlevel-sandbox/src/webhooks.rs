//! Signed webhooks, as HighLevel sends them: each event a JSON body POSTed to the configured
//! URL, signed with Ed25519 in `x-ghl-signature` (base64 of the signature over the body bytes
//! exactly as sent), carrying `type`, `timestamp` and a unique `webhookId`.
//!
//! Handlers only queue events (never waiting on the receiver); one courier task sends them
//! in the order they were queued, one attempt each, and counts what arrived and what did not.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{SecondsFormat, Utc};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The header HighLevel puts its Ed25519 signature in.
const SIGNATURE_HEADER: &str = "x-ghl-signature";
/// How long one delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Counts of webhook deliveries, for tests to assert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookStats {
    /// Deliveries the receiver answered with a 2xx.
    pub delivered: u64,
    /// Deliveries that got another status, or no answer at all (refused, timed out).
    pub failed: u64,
}

/// The sandbox's signing key and counts, shared with the courier.
struct Keys {
    pair: Ed25519KeyPair,
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl Keys {
    fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.pair.sign(body).as_ref())
    }
}

/// Where events go: a queue to the courier when a webhook URL is configured, nowhere
/// otherwise. The key exists either way, so tests can sign deliveries of their own.
pub struct Webhooks {
    keys: Arc<Keys>,
    queue: Option<mpsc::UnboundedSender<Map<String, Value>>>,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks")
            .field("public_key", &self.public_key())
            .field("delivering", &self.queue.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

/// The task sending queued events; stopping it lets it send what is already queued.
pub struct Courier {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl fmt::Debug for Courier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Courier")
            .field("finished", &self.task.is_finished())
            .finish_non_exhaustive()
    }
}

impl Courier {
    /// Takes no more events and waits up to `grace` for the queued ones to be sent; those
    /// still unsent then are dropped (a receiver that never answers must not keep the
    /// sandbox alive).
    pub async fn finish(mut self, grace: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            self.task.abort();
        }
    }

    /// Stops at once, queued events unsent.
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl Webhooks {
    /// A fresh key pair, and with `url` the courier delivering to it (to be spawned on the
    /// current runtime).
    ///
    /// # Errors
    ///
    /// When `url` is not an absolute http(s) URL, no key pair can be generated or no HTTP
    /// client built.
    pub fn start(url: Option<&str>) -> std::io::Result<(Self, Option<Courier>)> {
        let unusable = |_| std::io::Error::other("cannot generate the webhook signing key");
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(unusable)?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| std::io::Error::other("cannot read the webhook signing key"))?;
        let keys = Arc::new(Keys {
            pair,
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        let Some(url) = url else {
            return Ok((Self { keys, queue: None }, None));
        };
        let url = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("webhook URL `{url}` is not an absolute http(s) URL"),
                )
            })?;
        // reqwest is built without a rustls provider and takes the process-wide one; one the
        // application installed stays.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            // A redirect is an answer, not a delivery (and a POST must not turn into a GET).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let (queue, queued) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(deliver(client, url, keys.clone(), queued, stopped));
        Ok((
            Self {
                keys,
                queue: Some(queue),
            },
            Some(Courier {
                stop: Some(stop),
                task,
            }),
        ))
    }

    /// The public key: base64 of its raw 32 bytes.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.keys.pair.public_key().as_ref())
    }

    /// The `x-ghl-signature` value for `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        self.keys.sign(body)
    }

    pub fn stats(&self) -> WebhookStats {
        WebhookStats {
            delivered: self.keys.delivered.load(Ordering::Relaxed),
            failed: self.keys.failed.load(Ordering::Relaxed),
        }
    }

    /// Queues an event of type `kind` with `fields` (built only when something is delivered),
    /// stamped now with a fresh `webhookId`. Callers queue while still holding the lock of
    /// the data that changed, so deliveries follow the order of the changes.
    pub fn emit(&self, kind: &str, fields: impl FnOnce() -> Map<String, Value>) {
        let Some(queue) = &self.queue else {
            return;
        };
        let mut event = fields();
        event.insert("type".into(), json!(kind));
        event.insert(
            "timestamp".into(),
            json!(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        event.insert(
            "webhookId".into(),
            json!(uuid::Uuid::new_v4().hyphenated().to_string()),
        );
        // Refused only once the sandbox is shutting down: the event is dropped with it.
        let _ = queue.send(event);
    }
}

/// Sends queued events one after the other until stopped and drained (or aborted).
async fn deliver(
    client: reqwest::Client,
    url: url::Url,
    keys: Arc<Keys>,
    mut queued: mpsc::UnboundedReceiver<Map<String, Value>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut stopping = false;
    loop {
        let event = tokio::select! {
            biased;
            // Closing keeps what is queued for `recv` and refuses anything later.
            _ = &mut stop, if !stopping => {
                stopping = true;
                queued.close();
                continue;
            }
            event = queued.recv() => event,
        };
        let Some(event) = event else {
            return;
        };
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // Serialized once: the signature covers exactly the bytes sent.
        let body = match serde_json::to_vec(&event) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!(event = %kind, error = %e, "webhook not serializable");
                keys.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let signature = keys.sign(&body);
        let sent = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => {
                keys.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(event = %kind, %url, "webhook delivered");
            }
            Ok(answer) => {
                keys.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(event = %kind, %url, status = %answer.status(), "webhook refused");
            }
            Err(e) => {
                keys.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(event = %kind, %url, error = %e, "webhook not delivered");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ED25519, UnparsedPublicKey};

    #[tokio::test]
    async fn signatures_verify_with_the_public_key() {
        let (webhooks, courier) = Webhooks::start(None).expect("started");
        assert!(courier.is_none());
        let key = STANDARD.decode(webhooks.public_key()).expect("base64");
        assert_eq!(key.len(), 32);
        let signature = STANDARD
            .decode(webhooks.sign(b"{\"type\":\"ContactCreate\"}"))
            .expect("base64");
        let public = UnparsedPublicKey::new(&ED25519, &key);
        assert!(
            public
                .verify(b"{\"type\":\"ContactCreate\"}", &signature)
                .is_ok()
        );
        assert!(
            public
                .verify(b"{\"type\":\"ContactCreatf\"}", &signature)
                .is_err()
        );
    }

    #[tokio::test]
    async fn without_a_url_nothing_is_built_or_counted() {
        let (webhooks, _) = Webhooks::start(None).expect("started");
        webhooks.emit("ContactCreate", || unreachable!("no delivery, no event"));
        assert_eq!(webhooks.stats(), WebhookStats::default());
    }

    #[tokio::test]
    async fn a_url_that_is_not_http_is_refused() {
        for bad in ["not a url", "ftp://example.com/hooks", "/hooks"] {
            assert!(Webhooks::start(Some(bad)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_receiver_is_counted_as_failed() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let (webhooks, courier) = Webhooks::start(Some("http://127.0.0.1:1/hooks")).expect("ok");
        webhooks.emit("ContactDelete", Map::new);
        courier
            .expect("a courier")
            .finish(Duration::from_secs(5))
            .await;
        assert_eq!(
            webhooks.stats(),
            WebhookStats {
                delivered: 0,
                failed: 1
            }
        );
    }
}
