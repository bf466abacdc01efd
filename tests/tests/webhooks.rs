//! The ready axum endpoint over real HTTP: deliveries signed in the test, posted with
//! reqwest, answered with the status that makes HighLevel retry exactly what may succeed, and
//! handed over typed.

use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use highlevel::webhooks::events::Event;
use highlevel::webhooks::receiver::{Received, router};
use highlevel::webhooks::{Scheme, WebhookVerifier};
use serde_json::json;
use tokio::sync::mpsc;

struct Endpoint {
    url: String,
    key: Ed25519KeyPair,
    events: mpsc::Receiver<Received>,
    client: reqwest::Client,
}

async fn endpoint(capacity: usize) -> Endpoint {
    let key = Ed25519KeyPair::generate().expect("key");
    let verifier = WebhookVerifier::new()
        .ed25519_key(&STANDARD.encode(key.public_key().as_ref()))
        .expect("key")
        .max_body_bytes(64 * 1024);
    let (app, events) = router("/hooks/highlevel", verifier, capacity);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/hooks/highlevel",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Endpoint {
        url,
        key,
        events,
        client: highlevel_tests::http_client(),
    }
}

impl Endpoint {
    async fn post(&self, body: &[u8], signature: Option<String>) -> u16 {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("x-ghl-signature", signature);
        }
        request.send().await.expect("delivered").status().as_u16()
    }

    fn sign(&self, body: &[u8]) -> Option<String> {
        Some(STANDARD.encode(self.key.sign(body).as_ref()))
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.events.recv())
            .await
            .expect("an event in time")
            .expect("channel open")
    }
}

fn contact_create(webhook_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "ContactCreate",
        "locationId": "loc1",
        "id": "contact1",
        "email": "ada@example.com",
        "tags": ["vip"],
        "timestamp": now_millis(),
        "webhookId": webhook_id,
    }))
    .expect("json")
}

/// Now in epoch milliseconds, which the verifier reads as it reads RFC 3339 dates.
fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_signed_delivery_is_answered_200_and_handed_over_typed_once() {
    let mut endpoint = endpoint(4).await;
    let body = contact_create("wh-1");
    assert_eq!(endpoint.post(&body, endpoint.sign(&body)).await, 200);
    let received = endpoint.next().await;
    assert_eq!(received.delivery.scheme, Scheme::Ed25519);
    assert_eq!(received.delivery.webhook_id, "wh-1");
    match &received.event {
        Event::ContactCreate(contact) => {
            assert_eq!(contact.email.as_deref(), Some("ada@example.com"));
            assert_eq!(contact.id.as_deref(), Some("contact1"));
        }
        other => panic!("expected ContactCreate, got {other:?}"),
    }
    // HighLevel retries what it did not see answered: the same delivery is 200, not handed over.
    assert_eq!(endpoint.post(&body, endpoint.sign(&body)).await, 200);
    assert!(
        endpoint.events.try_recv().is_err(),
        "a duplicate is not handed over again"
    );
}

#[tokio::test]
async fn refusals_carry_the_status_that_makes_retries_right() {
    let mut endpoint = endpoint(4).await;
    let body = contact_create("wh-2");
    assert_eq!(endpoint.post(&body, None).await, 401, "unsigned");
    assert_eq!(
        endpoint.post(&body, Some("%%%".into())).await,
        401,
        "malformed"
    );
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(
        endpoint.post(&tampered, endpoint.sign(&body)).await,
        401,
        "tampered"
    );
    let big = vec![b' '; 64 * 1024 + 1];
    assert_eq!(
        endpoint.post(&big, endpoint.sign(&big)).await,
        413,
        "oversized"
    );
    let stale = serde_json::to_vec(&json!({
        "type": "ContactCreate", "webhookId": "old", "timestamp": "2020-01-01T00:00:00Z"
    }))
    .expect("json");
    assert_eq!(
        endpoint.post(&stale, endpoint.sign(&stale)).await,
        400,
        "stale"
    );
    let malformed = b"{\"type\": ".to_vec();
    assert_eq!(
        endpoint.post(&malformed, endpoint.sign(&malformed)).await,
        400,
        "malformed"
    );
    assert!(
        endpoint.events.try_recv().is_err(),
        "nothing refused is handed over"
    );
    // The refused deliveries recorded nothing: the genuine one still goes through.
    assert_eq!(endpoint.post(&body, endpoint.sign(&body)).await, 200);
    assert_eq!(endpoint.next().await.delivery.webhook_id, "wh-2");
}

#[tokio::test]
async fn a_full_channel_answers_503_and_records_nothing_so_the_retry_is_not_lost() {
    let mut endpoint = endpoint(1).await;
    let first = contact_create("wh-a");
    let second = contact_create("wh-b");
    assert_eq!(endpoint.post(&first, endpoint.sign(&first)).await, 200);
    assert_eq!(
        endpoint.post(&second, endpoint.sign(&second)).await,
        503,
        "busy"
    );
    assert_eq!(endpoint.next().await.delivery.webhook_id, "wh-a");
    // HighLevel's retry of the refused delivery is accepted, not taken for a duplicate.
    assert_eq!(endpoint.post(&second, endpoint.sign(&second)).await, 200);
    assert_eq!(endpoint.next().await.delivery.webhook_id, "wh-b");
}

#[tokio::test]
async fn an_event_type_this_sdk_does_not_know_keeps_its_json() {
    let mut endpoint = endpoint(4).await;
    let body = serde_json::to_vec(&json!({
        "type": "SomethingNew",
        "webhookId": "wh-new",
        "timestamp": now_millis(),
        "detail": { "answer": 42 }
    }))
    .expect("json");
    assert_eq!(endpoint.post(&body, endpoint.sign(&body)).await, 200);
    match endpoint.next().await.event {
        Event::Unknown { event_type, raw } => {
            assert_eq!(event_type.as_deref(), Some("SomethingNew"));
            assert_eq!(raw["detail"]["answer"], 42);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
}
