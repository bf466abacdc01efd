//! The sandbox's signed webhooks over real HTTP: a wiremock receiver records what the sandbox
//! POSTs, and the SDK's verifier checks it with the key the sandbox publishes.

use std::time::{Duration, Instant};

use highlevel::HighLevel;
use highlevel::auth::UserType;
use highlevel::contacts::types::{CreateContactDto, UpdateContactDto};
use highlevel::webhooks::{Scheme, WebhookError, WebhookVerifier};
use highlevel_sandbox::{RunningSandbox, Sandbox, WebhookStats};
use highlevel_tests::oauth;
use serde_json::Value;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// How long deliveries may take to arrive before a test gives up.
const DEADLINE: Duration = Duration::from_secs(10);

/// A receiver answering 200 to `POST /hooks`.
async fn receiver() -> MockServer {
    let mock = highlevel_tests::mock_server().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    mock
}

/// A receiver answering 500 to deliveries of event type `failing` and 200 to the rest.
async fn receiver_failing(failing: &str) -> MockServer {
    let mock = highlevel_tests::mock_server().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .and(body_string_contains(format!(r#""type":"{failing}""#)))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    mock
}

async fn sandbox_delivering_to(mock: &MockServer) -> RunningSandbox {
    Sandbox::builder()
        .webhook_url(format!("{}/hooks", mock.uri()))
        .serve()
        .await
        .expect("sandbox")
}

/// The requests received once there are `count` of them (or what arrived by the deadline).
async fn deliveries(mock: &MockServer, count: usize) -> Vec<wiremock::Request> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let received = mock.received_requests().await.expect("recording");
        if received.len() >= count || Instant::now() > deadline {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The stats once `delivered + failed` reaches `count` (the receiver records a request before
/// the sandbox has read its answer).
async fn settled_stats(sandbox: &RunningSandbox, count: u64) -> WebhookStats {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let stats = sandbox.webhook_stats();
        if stats.delivered + stats.failed >= count || Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn contact(builder: highlevel::contacts::types::builder::CreateContactDto) -> CreateContactDto {
    builder.try_into().expect("valid contact")
}

fn verifier(sandbox: &RunningSandbox) -> WebhookVerifier {
    WebhookVerifier::new()
        .ed25519_key(&sandbox.webhook_public_key())
        .expect("the sandbox's key reads")
}

/// The headers as an HTTP server hands them to a webhook handler.
fn headers(request: &wiremock::Request) -> http::HeaderMap {
    request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Verifies a delivery as a receiver would and returns its payload.
async fn verified(verifier: &WebhookVerifier, request: &wiremock::Request) -> Value {
    assert_eq!(
        request.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let delivery = verifier
        .verify(&headers(request), &request.body)
        .await
        .expect("the delivery verifies");
    assert_eq!(delivery.scheme, Scheme::Ed25519);
    assert!(uuid_like(&delivery.webhook_id), "{}", delivery.webhook_id);
    delivery.payload
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

#[tokio::test]
async fn contact_changes_are_delivered_signed_and_in_order() {
    // The update's delivery is refused, so that both counts have something to count.
    let mock = receiver_failing("ContactUpdate").await;
    let sandbox = sandbox_delivering_to(&mock).await;
    assert_eq!(sandbox.webhook_stats(), WebhookStats::default());
    let hl = HighLevel::builder()
        .private_integration_token(sandbox.token())
        .base_url(sandbox.url())
        .build()
        .expect("client");

    let created = hl
        .contacts()
        .create_contact()
        .body(contact(
            CreateContactDto::builder()
                .location_id(sandbox.location_id().to_owned())
                .first_name(Some("Ada".to_owned()))
                .email(Some("ada@example.com".to_owned()))
                .tags(vec!["vip".to_owned()]),
        ))
        .send()
        .await
        .expect("created")
        .into_inner()
        .contact
        .and_then(|c| c.id)
        .expect("an id");
    hl.contacts()
        .update_contact()
        .contact_id(created.as_str())
        .body(UpdateContactDto {
            last_name: Some("Lovelace".into()),
            ..UpdateContactDto::default()
        })
        .send()
        .await
        .expect("updated");
    hl.contacts()
        .delete_contact()
        .contact_id(created.as_str())
        .send()
        .await
        .expect("deleted");

    let received = deliveries(&mock, 3).await;
    assert_eq!(received.len(), 3, "three deliveries");
    let verifier = verifier(&sandbox);
    let mut payloads = Vec::new();
    for request in &received {
        assert_eq!(request.url.path(), "/hooks");
        payloads.push(verified(&verifier, request).await);
    }
    let types: Vec<&str> = payloads.iter().map(|p| text(p, "type")).collect();
    assert_eq!(types, ["ContactCreate", "ContactUpdate", "ContactDelete"]);
    for payload in &payloads {
        assert_eq!(text(payload, "id"), created, "{payload}");
        assert_eq!(text(payload, "locationId"), sandbox.location_id());
        assert_eq!(text(payload, "firstName"), "Ada", "{payload}");
        assert_eq!(text(payload, "email"), "ada@example.com", "{payload}");
        assert_eq!(payload["tags"], serde_json::json!(["vip"]), "{payload}");
        assert!(!text(payload, "dateAdded").is_empty(), "{payload}");
    }
    assert!(payloads[0].get("lastName").is_none(), "{}", payloads[0]);
    assert_eq!(text(&payloads[1], "lastName"), "Lovelace");
    assert_eq!(text(&payloads[2], "lastName"), "Lovelace");

    // One byte off and the signature no longer holds (checked before the seen-store).
    let mut tampered = received[0].body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    let refused = verifier
        .verify(&headers(&received[0]), &tampered)
        .await
        .expect_err("a tampered body");
    assert!(
        matches!(refused, WebhookError::BadSignature { .. }),
        "{refused:?}"
    );
    // Every delivery has an id of its own: the same one again is a replay.
    let replayed = verifier
        .verify(&headers(&received[1]), &received[1].body)
        .await
        .expect_err("a replay");
    assert!(
        matches!(replayed, WebhookError::Duplicate { .. }),
        "{replayed:?}"
    );

    assert_eq!(
        settled_stats(&sandbox, 3).await,
        WebhookStats {
            delivered: 2,
            failed: 1
        },
        "create and delete answered 200, the update 500"
    );
    sandbox.shutdown().await;
}

/// Installs the sandbox's app through its authorization page and the SDK's code exchange.
async fn install(sandbox: &RunningSandbox, user_type: UserType) {
    let hl = oauth::handle(sandbox, oauth::app_config(sandbox)).expect("handle");
    oauth::install(&hl, user_type).await.expect("installed");
}

#[tokio::test]
async fn oauth_installs_are_delivered() {
    let mock = receiver().await;
    let sandbox = sandbox_delivering_to(&mock).await;
    assert_eq!(sandbox.webhook_stats(), WebhookStats::default());
    install(&sandbox, UserType::Location).await;
    assert_eq!(
        settled_stats(&sandbox, 1).await,
        WebhookStats {
            delivered: 1,
            failed: 0
        },
        "the location's install"
    );
    install(&sandbox, UserType::Company).await;

    let received = deliveries(&mock, 2).await;
    assert_eq!(received.len(), 2, "two deliveries");
    let verifier = verifier(&sandbox);
    let location = verified(&verifier, &received[0]).await;
    let agency = verified(&verifier, &received[1]).await;
    let app_id = sandbox
        .client_id()
        .split('-')
        .next()
        .expect("an app id")
        .to_owned();
    for payload in [&location, &agency] {
        assert_eq!(text(payload, "type"), "INSTALL", "{payload}");
        assert_eq!(text(payload, "appId"), app_id, "{payload}");
        assert_eq!(text(payload, "companyId"), sandbox.company_id());
        assert!(!text(payload, "userId").is_empty(), "{payload}");
        assert_eq!(text(payload, "companyName"), "Sandbox Company");
    }
    assert_eq!(text(&location, "locationId"), sandbox.location_id());
    assert!(agency.get("locationId").is_none(), "{agency}");
    assert_eq!(
        settled_stats(&sandbox, 2).await,
        WebhookStats {
            delivered: 2,
            failed: 0
        }
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn without_a_webhook_url_nothing_is_delivered() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let hl = HighLevel::builder()
        .private_integration_token(sandbox.token())
        .base_url(sandbox.url())
        .build()
        .expect("client");
    hl.contacts()
        .create_contact()
        .body(contact(
            CreateContactDto::builder()
                .location_id(sandbox.location_id().to_owned())
                .first_name(Some("Grace".to_owned())),
        ))
        .send()
        .await
        .expect("created");
    install(&sandbox, UserType::Location).await;
    assert_eq!(sandbox.webhook_stats(), WebhookStats::default());

    // The key is there all the same, for deliveries a test builds itself.
    let body = format!(
        r#"{{"type":"ContactCreate","timestamp":{},"webhookId":"test-1"}}"#,
        now_millis()
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-ghl-signature",
        sandbox
            .sign_webhook(body.as_bytes())
            .parse()
            .expect("a header value"),
    );
    let delivery = verifier(&sandbox)
        .verify(&headers, body.as_bytes())
        .await
        .expect("verifies");
    assert_eq!(delivery.scheme, Scheme::Ed25519);
    sandbox.shutdown().await;
}

/// Now, in epoch milliseconds (the verifier reads those as well as RFC 3339).
fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}
