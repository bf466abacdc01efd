//! `cargo bench -p highlevel-sandbox --bench oauth`: what the OAuth lifecycle costs, against
//! the sandbox on loopback. Prints a table; asserts only that the work was done (every
//! location minted, one refresh), never how fast.
//!
//! - minting and storing location tokens for 1,000 installed locations, at several
//!   concurrency limits;
//! - 50 concurrent callers with an expired session: refreshes, and the time until all 50
//!   calls succeeded.

use std::time::{Duration, Instant};

use highlevel::auth::{Expected, OAuthConfig, Resource, UserType};
use highlevel::{HighLevel, RateLimitConfig};
use highlevel_sandbox::{RunningSandbox, Sandbox};

const LOCATIONS: usize = 1_000;
const CALLERS: usize = 50;
const RUNS: usize = 3;

mod support;

use support::install;

fn handle(sandbox: &RunningSandbox) -> HighLevel {
    support::handle(sandbox, RateLimitConfig::new())
}

async fn mint_all(concurrency: usize) -> Duration {
    let sandbox = Sandbox::builder()
        .installed_locations(LOCATIONS - 1)
        .serve()
        .await
        .expect("sandbox");
    let hl = handle(&sandbox);
    install(&hl, UserType::Company).await;
    let started = Instant::now();
    let report = hl
        .oauth_app()
        .expect("oauth")
        .mint_installed_locations(&sandbox.company_id(), concurrency)
        .await
        .expect("minted");
    let took = started.elapsed();
    assert_eq!(
        report.minted.len(),
        LOCATIONS,
        "{:?}",
        report.failed.first()
    );
    assert_eq!(sandbox.oauth_stats().location_tokens, LOCATIONS as u64);
    took
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
async fn expired_callers() -> (u64, Duration) {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let first = handle(&sandbox);
    install(&first, UserType::Location).await;
    let app = first.oauth_app().expect("oauth");
    let key = app.key(Resource::Location(sandbox.location_id().to_owned()));
    let stored = app.store().get(&key).await.expect("get").expect("stored");
    let mut aged = stored.session;
    aged.expires_at_unix = Some(1);
    // A new handle on the same store: a process starting with yesterday's session.
    let store = app.store().clone();
    store
        .put(&key, &aged, Expected::Version(stored.version))
        .await
        .expect("aged");
    let hl = HighLevel::builder()
        .base_url(sandbox.url())
        .oauth_app(
            OAuthConfig::new(sandbox.client_id(), sandbox.client_secret()).shared_store(store),
        )
        .build()
        .expect("handle");
    let location = sandbox.location_id().to_owned();
    let started = Instant::now();
    let calls: Vec<_> = (0..CALLERS)
        .map(|_| {
            let hl = hl.location(&location);
            let location = location.clone();
            tokio::spawn(async move {
                hl.contacts()
                    .get_contacts()
                    .location_id(location.as_str())
                    .send()
                    .await
                    .map(drop)
            })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("call");
    }
    (sandbox.oauth_stats().refreshes, started.elapsed())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    println!("OAuth lifecycle against the sandbox (loopback), median of {RUNS} runs\n");
    println!("| measurement | concurrency | median | per location |");
    println!("|---|---|---|---|");
    for concurrency in [1, 16, 64] {
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            samples.push(mint_all(concurrency).await);
        }
        let took = median(samples);
        println!(
            "| mint + store {LOCATIONS} location tokens | {concurrency} | {:.0} ms | {:.0} µs |",
            took.as_secs_f64() * 1e3,
            took.as_secs_f64() * 1e6 / LOCATIONS as f64
        );
    }
    let mut samples = Vec::new();
    let mut refreshes = Vec::new();
    for _ in 0..RUNS {
        let (count, took) = expired_callers().await;
        refreshes.push(count);
        samples.push(took);
    }
    assert!(refreshes.iter().all(|&r| r == 1), "{refreshes:?}");
    println!(
        "| {CALLERS} concurrent callers, expired session | {CALLERS} | {:.1} ms | refreshes: {refreshes:?} |",
        median(samples).as_secs_f64() * 1e3
    );
}
