//! Deliveries signed in the test with freshly generated keys (Ed25519, RSA 4096), checked as
//! HighLevel's receivers must check them.

use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use highlevel_webhooks::{Scheme, WebhookError, WebhookVerifier};
use http::{HeaderMap, HeaderValue};
use serde_json::json;

struct Keys {
    ed25519: Ed25519KeyPair,
    ed25519_public: String,
    rsa: RsaKeyPair,
    rsa_public: String,
}

/// RSA 4096 generation takes a while: one pair for the whole file.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ed25519 = Ed25519KeyPair::generate().expect("ed25519 key");
        let ed25519_public = STANDARD.encode(ed25519.public_key().as_ref());
        let rsa = RsaKeyPair::generate(KeySize::Rsa4096).expect("rsa key");
        let der = rsa.public_key().as_der().expect("rsa public der");
        let rsa_public = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der.as_ref())
        );
        Keys {
            ed25519,
            ed25519_public,
            rsa,
            rsa_public,
        }
    })
}

fn verifier() -> WebhookVerifier {
    let keys = keys();
    WebhookVerifier::new()
        .ed25519_key(&keys.ed25519_public)
        .expect("ed25519 key")
        .rsa_key(&keys.rsa_public)
        .expect("rsa key")
}

fn body(webhook_id: &str, timestamp: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "ContactCreate",
        "locationId": "loc1",
        "id": "contact1",
        "email": "ada@example.com",
        "timestamp": timestamp,
        "webhookId": webhook_id,
    }))
    .expect("json")
}

fn now() -> serde_json::Value {
    json!(Utc::now().to_rfc3339())
}

fn ed25519_signature(body: &[u8]) -> String {
    STANDARD.encode(keys().ed25519.sign(body).as_ref())
}

fn rsa_signature(body: &[u8]) -> String {
    let pair = &keys().rsa;
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        body,
        &mut signature,
    )
    .expect("rsa signature");
    STANDARD.encode(signature)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(*name, HeaderValue::from_str(value).expect("header value"));
    }
    headers
}

#[tokio::test]
async fn valid_deliveries_of_both_schemes_verify_and_say_which() {
    let verifier = verifier();
    let ed = body("wh-ed", now());
    let delivery = verifier
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(&ed))]),
            &ed,
        )
        .await
        .expect("ed25519 delivery");
    assert_eq!(delivery.scheme, Scheme::Ed25519);
    assert_eq!(delivery.webhook_id, "wh-ed");
    assert_eq!(delivery.payload["email"], "ada@example.com");

    let rsa = body("wh-rsa", now());
    let delivery = verifier
        .verify(&headers(&[("x-wh-signature", &rsa_signature(&rsa))]), &rsa)
        .await
        .expect("rsa delivery");
    assert_eq!(delivery.scheme, Scheme::Rsa);

    // Both headers, as HighLevel sends during the migration: Ed25519 is preferred.
    let both = body("wh-both", now());
    let delivery = verifier
        .verify(
            &headers(&[
                ("x-ghl-signature", &ed25519_signature(&both)),
                ("x-wh-signature", &rsa_signature(&both)),
            ]),
            &both,
        )
        .await
        .expect("delivery with both");
    assert_eq!(delivery.scheme, Scheme::Ed25519);
}

#[tokio::test]
async fn without_an_ed25519_key_both_headers_verify_by_rsa() {
    let verifier = WebhookVerifier::new()
        .rsa_key(&keys().rsa_public)
        .expect("rsa");
    let both = body("wh-1", now());
    let delivery = verifier
        .verify(
            &headers(&[
                ("x-ghl-signature", &ed25519_signature(&both)),
                ("x-wh-signature", &rsa_signature(&both)),
            ]),
            &both,
        )
        .await
        .expect("rsa takes over");
    assert_eq!(delivery.scheme, Scheme::Rsa);
    let only_ed = body("wh-2", now());
    let error = verifier
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(&only_ed))]),
            &only_ed,
        )
        .await
        .expect_err("no key");
    assert_eq!(
        error,
        WebhookError::NoKey {
            scheme: Scheme::Ed25519
        }
    );
}

#[tokio::test]
async fn a_tampered_body_or_another_key_is_refused() {
    let verifier = verifier();
    let signed = body("wh-1", now());
    let mut tampered = signed.clone();
    let at = tampered.len() - 3;
    tampered[at] ^= 1;
    for (header, signature, scheme) in [
        (
            "x-ghl-signature",
            ed25519_signature(&signed),
            Scheme::Ed25519,
        ),
        ("x-wh-signature", rsa_signature(&signed), Scheme::Rsa),
    ] {
        let error = verifier
            .verify(&headers(&[(header, &signature)]), &tampered)
            .await
            .expect_err("tampered");
        assert_eq!(error, WebhookError::BadSignature { scheme });
    }
    // HighLevel's own RSA key (the default) does not verify what our test key signed.
    let default = WebhookVerifier::new();
    let error = default
        .verify(
            &headers(&[("x-wh-signature", &rsa_signature(&signed))]),
            &signed,
        )
        .await
        .expect_err("wrong key");
    assert_eq!(
        error,
        WebhookError::BadSignature {
            scheme: Scheme::Rsa
        }
    );
    let other = Ed25519KeyPair::generate().expect("key");
    let other_key = STANDARD.encode(other.public_key().as_ref());
    let error = WebhookVerifier::new()
        .ed25519_key(&other_key)
        .expect("key")
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(&signed))]),
            &signed,
        )
        .await
        .expect_err("wrong key");
    assert_eq!(
        error,
        WebhookError::BadSignature {
            scheme: Scheme::Ed25519
        }
    );
}

#[tokio::test]
async fn missing_or_malformed_signature_headers_are_refused() {
    let verifier = verifier();
    let signed = body("wh-1", now());
    let error = verifier
        .verify(&HeaderMap::new(), &signed)
        .await
        .expect_err("none");
    assert!(
        matches!(error, WebhookError::MissingSignature { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("x-ghl-signature or x-wh-signature"),
        "{error}"
    );
    // Not base64, or base64 of a length no signature of the scheme has (Ed25519: 64 bytes;
    // RSA: the modulus, 512 bytes here), is malformed, as `MalformedSignature` documents.
    let ed_sixty_three = STANDARD.encode([7u8; 63]);
    let ed_sixty_five = STANDARD.encode([7u8; 65]);
    let rsa_short = STANDARD.encode([7u8; 511]);
    let rsa_long = STANDARD.encode([7u8; 513]);
    for (header, garbage, scheme) in [
        ("x-ghl-signature", "not base64!", Scheme::Ed25519),
        ("x-ghl-signature", "", Scheme::Ed25519),
        ("x-ghl-signature", "AAAA", Scheme::Ed25519),
        ("x-ghl-signature", &ed_sixty_three, Scheme::Ed25519),
        ("x-ghl-signature", &ed_sixty_five, Scheme::Ed25519),
        ("x-wh-signature", "not base64!", Scheme::Rsa),
        ("x-wh-signature", "AAAA", Scheme::Rsa),
        ("x-wh-signature", &rsa_short, Scheme::Rsa),
        ("x-wh-signature", &rsa_long, Scheme::Rsa),
    ] {
        let error = verifier
            .verify(&headers(&[(header, garbage)]), &signed)
            .await
            .expect_err(garbage);
        assert_eq!(
            error,
            WebhookError::MalformedSignature { scheme },
            "{header}: {garbage}"
        );
    }
    // The right length but not the body's signature is a bad signature, not a malformed one.
    for (header, wrong, scheme) in [
        (
            "x-ghl-signature",
            STANDARD.encode([7u8; 64]),
            Scheme::Ed25519,
        ),
        ("x-wh-signature", STANDARD.encode([7u8; 512]), Scheme::Rsa),
    ] {
        let error = verifier
            .verify(&headers(&[(header, &wrong)]), &signed)
            .await
            .expect_err("wrong");
        assert_eq!(error, WebhookError::BadSignature { scheme }, "{header}");
    }
    // Only RSA accepted: an Ed25519-only delivery has no accepted signature.
    let rsa_only = verifier.clone().accept(&[Scheme::Rsa]);
    let error = rsa_only
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(&signed))]),
            &signed,
        )
        .await
        .expect_err("not accepted");
    assert_eq!(
        error,
        WebhookError::MissingSignature {
            accepted: vec![Scheme::Rsa]
        }
    );
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused() {
    let verifier = verifier().window(Duration::from_secs(300));
    for (offset, stale) in [(-301, true), (301, false)] {
        let at = Utc::now() + chrono::Duration::seconds(offset);
        let signed = body(&format!("wh{offset}"), json!(at.to_rfc3339()));
        let error = verifier
            .verify(
                &headers(&[("x-ghl-signature", &ed25519_signature(&signed))]),
                &signed,
            )
            .await
            .expect_err("outside the window");
        if stale {
            assert!(
                matches!(error, WebhookError::StaleTimestamp { .. }),
                "{error}"
            );
        } else {
            assert!(
                matches!(error, WebhookError::FutureTimestamp { .. }),
                "{error}"
            );
        }
    }
    // Inside the window either way, as epoch milliseconds too.
    let ms = (Utc::now() - chrono::Duration::seconds(200)).timestamp_millis();
    let signed = body("wh-ms", json!(ms));
    verifier
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(&signed))]),
            &signed,
        )
        .await
        .expect("inside the window");
    let signed =
        serde_json::to_vec(&json!({ "type": "ContactCreate", "webhookId": "x" })).expect("json");
    let error = verifier
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(&signed))]),
            &signed,
        )
        .await
        .expect_err("no timestamp");
    assert_eq!(error, WebhookError::MissingTimestamp);
}

#[tokio::test]
async fn a_webhook_id_is_accepted_once() {
    let verifier = verifier();
    let signed = body("wh-dup", now());
    let sent = headers(&[("x-ghl-signature", &ed25519_signature(&signed))]);
    verifier.verify(&sent, &signed).await.expect("first");
    let error = verifier.verify(&sent, &signed).await.expect_err("replay");
    assert_eq!(
        error,
        WebhookError::Duplicate {
            webhook_id: "wh-dup".into()
        }
    );
    // The same id signed with the other scheme is the same delivery.
    let error = verifier
        .verify(
            &headers(&[("x-wh-signature", &rsa_signature(&signed))]),
            &signed,
        )
        .await
        .expect_err("replay by rsa");
    assert!(matches!(error, WebhookError::Duplicate { .. }));
    let unsigned_id =
        serde_json::to_vec(&json!({ "timestamp": Utc::now().to_rfc3339() })).expect("json");
    let error = verifier
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(&unsigned_id))]),
            &unsigned_id,
        )
        .await
        .expect_err("no id");
    assert_eq!(error, WebhookError::MissingWebhookId);
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_before_or_after_the_signature() {
    let verifier = verifier().max_body_bytes(1024);
    let big = vec![b' '; 1025];
    let error = verifier
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(&big))]),
            &big,
        )
        .await
        .expect_err("too large");
    assert_eq!(
        error,
        WebhookError::BodyTooLarge {
            len: 1025,
            max: 1024
        }
    );
    for malformed in [&b"{not json"[..], b"[1,2,3]", b"\"text\""] {
        let error = verifier
            .verify(
                &headers(&[("x-ghl-signature", &ed25519_signature(malformed))]),
                malformed,
            )
            .await
            .expect_err("malformed");
        assert!(
            matches!(error, WebhookError::MalformedBody { .. }),
            "{error}"
        );
    }
    // Unsigned garbage is refused for its signature, never parsed.
    let error = verifier
        .verify(
            &headers(&[("x-ghl-signature", &ed25519_signature(b"other"))]),
            b"{not json",
        )
        .await
        .expect_err("unsigned");
    assert_eq!(
        error,
        WebhookError::BadSignature {
            scheme: Scheme::Ed25519
        }
    );
}
