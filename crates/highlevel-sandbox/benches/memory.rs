//! `cargo bench -p highlevel-sandbox --bench memory`: what one handle keeps per resource it
//! has called. 100,000 distinct locations, each called once through an OAuth handle whose
//! store was filled beforehand, against a server on loopback that answers every call at
//! once, in batches of 20,000 with a pause between them long enough for a batch's state to
//! be idle (its rate-limit window and the session cache's 30 s). Prints the process's
//! resident memory and the rate-limit budgets still held after each batch; asserts only that
//! every call succeeded, never how much memory it took.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt as _;
use highlevel::auth::{Expected, MemoryStore, OAuthConfig, Resource, Session, UserType};
use highlevel::{HighLevel, RateLimitConfig};

const LOCATIONS: usize = 100_000;
const CHECKPOINTS: usize = 5;
const CONCURRENCY: usize = 64;
/// Longer than the rate-limit window (10 s and its margin) and the session cache's idle time.
const PAUSE: Duration = Duration::from_secs(31);

/// Resident memory in MiB (Linux), or `None` elsewhere.
fn resident_mib() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0 / (1024.0 * 1024.0))
}

/// A server answering every request `{"location":{}}`, keeping nothing.
async fn answering_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let app = axum::Router::new().fallback(|| async {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            r#"{"location":{}}"#,
        )
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn location(i: usize) -> String {
    format!("loc{i:06}")
}

#[tokio::main]
async fn main() {
    let url = answering_server().await;
    let store = Arc::new(MemoryStore::new());
    let hl = HighLevel::builder()
        .base_url(&url)
        .oauth_app(OAuthConfig::new("bench-app", "bench-secret").shared_store(store))
        .rate_limit(RateLimitConfig::new())
        .build()
        .expect("handle");
    let app = hl.oauth_app().expect("oauth").clone();
    let expires = SystemTime::now() + Duration::from_secs(3_600);
    for i in 0..LOCATIONS {
        let mut session = Session::new(format!("at-{i}"), None, expires, UserType::Location);
        session.location_id = Some(location(i));
        app.store()
            .put(
                &app.key(Resource::Location(location(i))),
                &session,
                Expected::Absent,
            )
            .await
            .expect("seeded");
    }
    let before = resident_mib();
    println!("| locations called | resident MiB | growth MiB | budgets held | seconds |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| 0 | {:.1} | 0.0 | {} | 0.0 |",
        before.unwrap_or(f64::NAN),
        hl.rate_limits().len()
    );
    let started = Instant::now();
    let per_checkpoint = LOCATIONS / CHECKPOINTS;
    for checkpoint in 0..CHECKPOINTS {
        if checkpoint > 0 {
            tokio::time::sleep(PAUSE).await;
        }
        let range = checkpoint * per_checkpoint..(checkpoint + 1) * per_checkpoint;
        let failures = futures_util::stream::iter(range)
            .map(|i| {
                let hl = hl.clone();
                async move {
                    let id = location(i);
                    hl.location(&id)
                        .locations()
                        .get_location()
                        .location_id(&id)
                        .send()
                        .await
                        .is_err()
                }
            })
            .buffer_unordered(CONCURRENCY)
            .filter(|failed| std::future::ready(*failed))
            .count()
            .await;
        assert_eq!(failures, 0, "every call succeeds");
        let now = resident_mib();
        println!(
            "| {} | {:.1} | {:.1} | {} | {:.1} |",
            (checkpoint + 1) * per_checkpoint,
            now.unwrap_or(f64::NAN),
            now.zip(before).map_or(f64::NAN, |(n, b)| n - b),
            hl.rate_limits().len(),
            started.elapsed().as_secs_f64()
        );
    }
}
