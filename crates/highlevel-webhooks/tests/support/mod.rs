//! Serving the endpoint on loopback and talking raw HTTP/1.1 to it, as HighLevel and as a
//! hostile client would: shared by the receiver tests and the stalled-connections bench.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use highlevel_webhooks::WebhookVerifier;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub const PATH: &str = "/hooks/highlevel";

/// A fresh Ed25519 key and a verifier trusting it.
pub fn key_and_verifier() -> (Ed25519KeyPair, WebhookVerifier) {
    let key = Ed25519KeyPair::generate().expect("key");
    let verifier = WebhookVerifier::new()
        .ed25519_key(&STANDARD.encode(key.public_key().as_ref()))
        .expect("key")
        .max_body_bytes(64 * 1024);
    (key, verifier)
}

/// Serves `router` on a free loopback port.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

pub fn delivery(webhook_id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "ContactCreate",
        "locationId": "loc1",
        "id": "contact1",
        "email": "ada@example.com",
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "webhookId": webhook_id,
    }))
    .expect("json")
}

pub fn sign(key: &Ed25519KeyPair, body: &[u8]) -> String {
    STANDARD.encode(key.sign(body).as_ref())
}

/// POSTs `body` on a connection of its own; the status and the answer's body.
pub async fn post(addr: SocketAddr, body: &[u8], signature: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST {PATH} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(signature) = signature {
        request.push_str(&format!("x-ghl-signature: {signature}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    stream.write_all(body).await.expect("send");
    answer(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer")
}

/// A connection that sent a POST's headers, announcing `content-length` bytes, and no body.
pub async fn stalled(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: 1000\r\nx-ghl-signature: AAAA\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    stream
}

/// The status and body of the answer on `stream`, read until it closes or its announced
/// length is in; `None` when it closed without one or nothing came within `wait`.
pub async fn answer(stream: &mut TcpStream, wait: Duration) -> Option<(u16, String)> {
    let read = async {
        let mut received = Vec::new();
        let mut buffer = [0; 4096];
        loop {
            if let Some(answer) = parse(&received) {
                return Some(answer);
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return parse(&received),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}

fn parse(received: &[u8]) -> Option<(u16, String)> {
    let text = std::str::from_utf8(received).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (body.len() >= length).then(|| (status, body[..length].to_owned()))
}
