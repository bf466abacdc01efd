//! `cargo bench -p highlevel-webhooks --bench verify`: deliveries verified per second on one
//! thread, per scheme: the signature alone, and the whole check (signature, JSON, timestamp
//! window, `webhookId` recorded in the memory seen-store). Bodies of a typical
//! ContactUpdate size, signed beforehand with keys generated here (RSA 4096, as HighLevel's).

use std::time::Instant;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use highlevel_webhooks::WebhookVerifier;
use http::{HeaderMap, HeaderValue};

const ED25519_DELIVERIES: usize = 20_000;
const RSA_DELIVERIES: usize = 2_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ed = Ed25519KeyPair::generate().expect("ed25519 key");
    let rsa = RsaKeyPair::generate(KeySize::Rsa4096).expect("rsa key");
    let rsa_public = STANDARD.encode(rsa.public_key().as_der().expect("der").as_ref());
    let verifier = WebhookVerifier::new()
        .ed25519_key(&STANDARD.encode(ed.public_key().as_ref()))
        .expect("ed25519")
        .rsa_key(&rsa_public)
        .expect("rsa");
    let rng = SystemRandom::new();
    let sign_ed = |body: &[u8]| STANDARD.encode(ed.sign(body).as_ref());
    let sign_rsa = |body: &[u8]| {
        let mut signature = vec![0; rsa.public_modulus_len()];
        rsa.sign(&RSA_PKCS1_SHA256, &rng, body, &mut signature)
            .expect("rsa signature");
        STANDARD.encode(signature)
    };

    println!("\none thread; the whole check includes JSON parsing and the memory seen-store\n");
    println!("| scheme | body | signature only /s | whole check /s |");
    println!("|---|---|---|---|");
    for (name, header, count, sign) in [
        (
            "Ed25519 (x-ghl-signature)",
            "x-ghl-signature",
            ED25519_DELIVERIES,
            &sign_ed as &dyn Fn(&[u8]) -> String,
        ),
        (
            "RSA-SHA256 4096 (x-wh-signature)",
            "x-wh-signature",
            RSA_DELIVERIES,
            &sign_rsa,
        ),
    ] {
        let deliveries: Vec<(HeaderMap, Vec<u8>)> = (0..count)
            .map(|i| {
                let body = delivery(i, name);
                let mut headers = HeaderMap::new();
                headers.insert(header, HeaderValue::from_str(&sign(&body)).expect("header"));
                (headers, body)
            })
            .collect();
        let started = Instant::now();
        for (headers, body) in &deliveries {
            verifier.verify_signature(headers, body).expect("verifies");
        }
        let signature_only = count as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        runtime.block_on(async {
            for (headers, body) in &deliveries {
                verifier.verify(headers, body).await.expect("verifies");
            }
        });
        let whole = count as f64 / started.elapsed().as_secs_f64();
        println!(
            "| {name} | {} B | {signature_only:.0} | {whole:.0} |",
            deliveries.first().map_or(0, |(_, b)| b.len())
        );
    }
}

fn delivery(i: usize, scheme: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "ContactUpdate",
        "locationId": "ve9EPM428h8vShlRW1KT",
        "id": format!("contact{i:08}"),
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "phone": "+15550001234",
        "tags": ["vip", "newsletter"],
        "country": "GB",
        "dateAdded": "2025-01-28T14:35:00.000Z",
        "customFields": [{ "id": "field1", "value": "value" }],
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "webhookId": format!("{scheme}-{i}"),
    }))
    .expect("json")
}
