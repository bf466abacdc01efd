//! `cargo bench -p highlevel-webhooks --features axum --bench stalled`: how long the endpoint
//! (`receiver::router`, capacity 4, default 10 s body deadline) takes to answer a signed
//! delivery while 4 unsigned connections sit open having sent their headers and no body.
//! Each delivery on a connection of its own, one after the other, over loopback; prints the
//! median and the 90th percentile.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use highlevel_webhooks::receiver::router;
use support::{PATH, delivery, key_and_verifier, post, serve, sign, stalled};

const CAPACITY: usize = 4;
const DELIVERIES: usize = 500;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (key, verifier) = key_and_verifier();
        let (app, mut events) = router(PATH, verifier, CAPACITY);
        let addr = serve(app).await;
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        let mut stalls = Vec::new();
        for _ in 0..CAPACITY {
            stalls.push(stalled(addr).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let mut times = Vec::with_capacity(DELIVERIES);
        for i in 0..DELIVERIES {
            // The stalled connections are answered 408 at 10 s: stay well inside that.
            assert!(
                started.elapsed() < Duration::from_secs(8),
                "too slow to measure"
            );
            let body = delivery(&format!("bench-{i}"));
            let signature = sign(&key, &body);
            let sent = Instant::now();
            let (status, _) = post(addr, &body, Some(&signature)).await;
            times.push(sent.elapsed());
            assert_eq!(status, 200);
        }
        times.sort();
        println!(
            "{DELIVERIES} signed deliveries with {CAPACITY} stalled unsigned connections open \
             (capacity {CAPACITY}): median {:?}, p90 {:?}",
            times[DELIVERIES / 2],
            times[DELIVERIES * 9 / 10]
        );
        drop(stalls);
    });
}
