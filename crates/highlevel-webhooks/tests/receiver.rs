//! The axum endpoint over real loopback HTTP against hostile and failing peers: connections
//! that send headers and stall must not starve signed deliveries, and the at-least-once mode
//! answers 2xx only for what the handler handled.

mod support;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use highlevel_webhooks::receiver::{WebhookEndpoint, router};
use highlevel_webhooks::seen::SeenFuture;
use highlevel_webhooks::{MemorySeenStore, SeenStore};
use support::{PATH, delivery, key_and_verifier, post, serve, sign, stalled};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn stalled_unsigned_connections_do_not_starve_a_signed_delivery() {
    let (key, verifier) = key_and_verifier();
    let (app, mut events) = router(PATH, verifier, 4);
    let addr = serve(app).await;
    // Twice the capacity's worth of connections that send headers and then nothing.
    let mut stalls = Vec::new();
    for _ in 0..8 {
        stalls.push(stalled(addr).await);
    }
    // Let the server take them all in before the genuine delivery comes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = delivery("wh-starved");
    let (status, _) = post(addr, &body, Some(&sign(&key, &body))).await;
    assert_eq!(
        status, 200,
        "a signed delivery is answered while others stall"
    );
    let received = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("in time")
        .expect("channel open");
    assert_eq!(received.delivery.webhook_id, "wh-starved");
    drop(stalls);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let (key, verifier) = key_and_verifier();
    let deadline = Duration::from_millis(300);
    let (app, mut events) = WebhookEndpoint::new(verifier)
        .body_deadline(deadline)
        .channel(PATH, 1);
    let addr = serve(app).await;
    let started = Instant::now();
    let mut stream = stalled(addr).await;
    let answer = support::answer(&mut stream, Duration::from_secs(5)).await;
    let waited = started.elapsed();
    assert_eq!(answer.map(|(status, _)| status), Some(408));
    assert!(
        waited >= deadline && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // The one slot was never taken: a signed delivery goes through.
    let body = delivery("wh-after-408");
    assert_eq!(post(addr, &body, Some(&sign(&key, &body))).await.0, 200);
    assert!(events.try_recv().is_ok());
}

/// A memory store the test can look into while the verifier uses it.
#[derive(Debug, Clone, Default)]
struct Shared(Arc<MemorySeenStore>);

impl SeenStore for Shared {
    fn first_sighting<'a>(&'a self, webhook_id: &'a str, ttl: Duration) -> SeenFuture<'a> {
        self.0.first_sighting(webhook_id, ttl)
    }

    fn seen<'a>(&'a self, webhook_id: &'a str) -> SeenFuture<'a> {
        self.0.seen(webhook_id)
    }
}

#[derive(Debug)]
struct Failed;

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the database is down")
    }
}

/// An at-least-once endpoint whose handler fails its first `failures` calls; its calls
/// counted, its store shared with the test.
async fn awaiting(
    failures: usize,
) -> (
    std::net::SocketAddr,
    aws_lc_rs::signature::Ed25519KeyPair,
    Arc<AtomicUsize>,
    Shared,
) {
    let (key, verifier) = key_and_verifier();
    let store = Shared::default();
    let verifier = verifier.seen_store(store.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = WebhookEndpoint::new(verifier).handler(PATH, move |received| {
        let call = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            assert_eq!(received.delivery.webhook_id, "wh-once");
            if call < failures { Err(Failed) } else { Ok(()) }
        }
    });
    (serve(app).await, key, calls, store)
}

#[tokio::test]
async fn a_failed_handler_is_answered_500_and_its_retry_is_handled() {
    let (addr, key, calls, store) = awaiting(1).await;
    let body = delivery("wh-once");
    let signature = sign(&key, &body);
    let (status, text) = post(addr, &body, Some(&signature)).await;
    assert_eq!(status, 500);
    assert!(!text.contains("database"), "the handler's error stays here");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        store.0.seen("wh-once").await,
        Ok(false),
        "not recorded after a failure"
    );
    // HighLevel's retry is handled, not refused as a duplicate.
    assert_eq!(
        post(addr, &body, Some(&signature)).await,
        (200, "ok".into())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(store.0.seen("wh-once").await, Ok(true));
}

#[tokio::test]
async fn a_handled_delivery_is_recorded_and_its_replay_not_handled_again() {
    let (addr, key, calls, store) = awaiting(0).await;
    let body = delivery("wh-once");
    let signature = sign(&key, &body);
    assert_eq!(
        post(addr, &body, Some(&signature)).await,
        (200, "ok".into())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(store.0.seen("wh-once").await, Ok(true));
    assert_eq!(
        post(addr, &body, Some(&signature)).await,
        (200, "duplicate".into())
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the replay was not handled"
    );
    // Unsigned requests never reach the handler.
    assert_eq!(post(addr, &body, None).await.0, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_that_cannot_be_read_is_answered_400_not_413() {
    let (key, verifier) = key_and_verifier();
    let (app, mut events) = router(PATH, verifier, 1);
    let addr = serve(app).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // A chunk size that is not hexadecimal: the bytes are not a body, whatever their length.
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nx-ghl-signature: AAAA\r\n\r\n5\r\n{{\"a\":\r\nzz\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let answer = support::answer(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(answer, Some((400, "body unreadable".into())));
    // Nothing was taken: a signed delivery goes through.
    let body = delivery("wh-after-400");
    assert_eq!(post(addr, &body, Some(&sign(&key, &body))).await.0, 200);
    assert!(events.try_recv().is_ok());
}

#[tokio::test]
async fn handlers_beyond_the_limit_are_answered_503_and_their_retry_is_handled() {
    let (key, verifier) = key_and_verifier();
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = WebhookEndpoint::new(verifier)
        .max_concurrent_handlers(2)
        .handler(PATH, {
            let (release, started, handled) = (release.clone(), started.clone(), handled.clone());
            move |received| {
                let (release, started, handled) =
                    (release.clone(), started.clone(), handled.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let permit = release.acquire().await.map_err(|_| Failed)?;
                    permit.forget();
                    handled
                        .lock()
                        .map_err(|_| Failed)?
                        .push(received.delivery.webhook_id);
                    Ok::<(), Failed>(())
                }
            }
        });
    let addr = serve(app).await;
    let send = |id: &str| {
        let body = delivery(id);
        let signature = sign(&key, &body);
        tokio::spawn(async move { post(addr, &body, Some(&signature)).await })
    };
    let first = send("wh-1");
    let second = send("wh-2");
    while started.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Two handlers run: the third delivery is turned away, unrecorded and unhandled.
    assert_eq!(send("wh-3").await.expect("task"), (503, "busy".into()));
    assert_eq!(started.load(Ordering::SeqCst), 2);
    release.add_permits(2);
    assert_eq!(first.await.expect("task"), (200, "ok".into()));
    assert_eq!(second.await.expect("task"), (200, "ok".into()));
    // HighLevel's retry of the third is handled.
    release.add_permits(1);
    assert_eq!(send("wh-3").await.expect("task"), (200, "ok".into()));
    let mut ids = handled.lock().expect("lock").clone();
    ids.sort();
    assert_eq!(ids, ["wh-1", "wh-2", "wh-3"]);
}
