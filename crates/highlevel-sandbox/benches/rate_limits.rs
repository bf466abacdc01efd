//! `cargo bench -p highlevel-sandbox --bench rate_limits [-- budget|clients|cost|shared|
//! instructions] [--redis-url URL]`: how much of HighLevel's rate-limit
//! budget the SDK uses, and what its runtime costs per request, against the sandbox on
//! loopback. Prints tables; asserts only that the work was done, never how fast.
//!
//! - budget use: 1,000 requests from 50 concurrent tasks at 20 requests per second per
//!   location, on 1 location and spread over 10: 429s, lost requests, and wall time over the
//!   least the limits allow;
//! - two clients sharing nothing spend one location's budget, with the adaptive budget
//!   (headers followed, share halved after an unexpected 429) and without;
//! - requests per second through the SDK and through plain reqwest making the same call,
//!   both with the SDK's default transport settings (and bare `reqwest::Client::new()`, which
//!   has no timeout, beside them), the sandbox program in a process of its own, the client on
//!   one thread; and the client
//!   thread's CPU time per request (Linux `schedstat`), which other load on the machine
//!   disturbs far less than wall time;
//! - one budget shared through Redis (`-- shared`): 4 worker processes (this program run
//!   again) spend 1,000 requests on 1 and on 10 locations with a Redis budget, the same 4 with
//!   none, and with Redis stopped for 5 s mid-run; and the per-request cost of the Redis
//!   budget on loopback against the memory one. It starts a `redis-server` of its own on a free
//!   port (the outage row stops it), or uses `--redis-url` for the rows without an outage;
//! - only when named (`-- instructions`, valgrind needed): the `cost` comparison counted in
//!   instructions per request under cachegrind, steady to a fraction of a percent where
//!   time moves by several.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use highlevel::auth::UserType;
use highlevel::locations::types::GetLocationByIdSuccessfulResponseDto;
use highlevel::{HighLevel, RateLimitConfig, RetryConfig};
use highlevel_sandbox::{RunningSandbox, Sandbox};

/// Requests per window and window length the sandbox enforces (and the clients are told).
const PER_WINDOW: u32 = 20;
const WINDOW: Duration = Duration::from_secs(1);
const REQUESTS: usize = 1_000;
const TASKS: usize = 50;

fn limits() -> RateLimitConfig {
    RateLimitConfig::new().per_interval(PER_WINDOW, WINDOW)
}

/// The least wall time `requests` take on one location: the first window's burst at once,
/// then one window per further `PER_WINDOW` (the sandbox's windows are fixed, from the
/// first request).
fn minimum(requests_per_location: usize) -> Duration {
    WINDOW * (requests_per_location.div_ceil(PER_WINDOW as usize) as u32 - 1)
}

mod cost_instructions;
#[path = "shared_budget/mod.rs"]
mod shared;
mod support;

/// The sandbox's app installed for its agency, as a handle scoped to that agency.
async fn agency_handle(sandbox: &RunningSandbox, rate_limit: RateLimitConfig) -> HighLevel {
    let hl = support::handle(sandbox, rate_limit);
    support::install(&hl, UserType::Company).await;
    hl.agency(&sandbox.company_id())
}

/// `requests` calls from `tasks` tasks, each call on `handles[i % handles.len()]`; returns
/// the wall time and how many calls failed.
async fn spend(
    handles: &[(HighLevel, String)],
    requests: usize,
    tasks: usize,
) -> (Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let handles = Arc::new(handles.to_vec());
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (next, failed, handles) = (next.clone(), failed.clone(), handles.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        break;
                    }
                    let (hl, location) = &handles[i % handles.len()];
                    let ok = hl
                        .locations()
                        .get_location()
                        .location_id(location)
                        .send()
                        .await
                        .is_ok();
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    (started.elapsed(), failed.load(Ordering::Relaxed))
}

async fn budget_use(locations: usize) -> (u64, usize, Duration, Duration) {
    let sandbox = Sandbox::builder()
        .installed_locations(locations - 1)
        .rate_limit(PER_WINDOW, WINDOW)
        .serve()
        .await
        .expect("sandbox");
    let agency = agency_handle(&sandbox, limits()).await;
    let handles: Vec<_> = sandbox
        .installed_location_ids()
        .into_iter()
        .map(|id| (agency.location(&id), id))
        .collect();
    // Mint every location's token first: the measurement is of API calls only.
    for (hl, id) in &handles {
        hl.oauth_app()
            .expect("oauth")
            .location_token(&sandbox.company_id(), id)
            .await
            .expect("minted");
    }
    let (wall, lost) = spend(&handles, REQUESTS, TASKS).await;
    let throttled = sandbox.rate_limit_stats().throttled;
    (throttled, lost, wall, minimum(REQUESTS / locations))
}

async fn two_clients(adaptive: bool) -> (u64, usize, Duration, Duration) {
    let sandbox = Sandbox::builder()
        .rate_limit(PER_WINDOW, WINDOW)
        .serve()
        .await
        .expect("sandbox");
    let client = || {
        let hl = HighLevel::builder()
            .private_integration_token(sandbox.token())
            .base_url(sandbox.url())
            .rate_limit(limits().adaptive(adaptive))
            .retry(RetryConfig::new())
            .build()
            .expect("handle");
        vec![(hl, sandbox.location_id().to_owned())]
    };
    let (a, b) = (client(), client());
    let half = REQUESTS / 2;
    let ((wall_a, lost_a), (wall_b, lost_b)) =
        tokio::join!(spend(&a, half, TASKS / 2), spend(&b, half, TASKS / 2));
    let throttled = sandbox.rate_limit_stats().throttled;
    (
        throttled,
        lost_a + lost_b,
        wall_a.max(wall_b),
        minimum(REQUESTS),
    )
}

/// One run of [`throughput`].
#[derive(Clone, Copy)]
struct Run {
    per_second: f64,
    /// The client thread's CPU time per request, when the OS reports it.
    cpu_micros: Option<f64>,
}

/// Nanoseconds this thread has run on a CPU (Linux `/proc/thread-self/schedstat`). The
/// client runs on a current-thread runtime, so this is all of its work.
fn thread_cpu_nanos() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Requests per second: the SDK's `get_location`, or reqwest sending the same request and
/// decoding the same type.
async fn throughput(server_url: &str, via: Via, requests: usize, tasks: usize) -> Run {
    let token = highlevel_sandbox::DEFAULT_TOKEN;
    let location = highlevel_sandbox::DEFAULT_LOCATION_ID;
    let hl = HighLevel::builder()
        .private_integration_token(token)
        .base_url(server_url)
        // Limits far above what loopback reaches: the limiter runs, nobody waits.
        .rate_limit(RateLimitConfig::new().per_interval(1_000_000, WINDOW))
        .build()
        .expect("handle");
    // reqwest is built without a rustls provider: it takes the one the SDK installs.
    highlevel::runtime::tls::install_crypto_provider().expect("crypto provider");
    // The timeouts of the SDK's default transport (`HighLevel::builder` without
    // `.http_client`): the comparison is then not of a 60 s timeout (a timer per request)
    // against none.
    let timed = || {
        reqwest::Client::builder()
            .user_agent("plain-reqwest")
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
    };
    let plain = match via {
        Via::Plain => timed().build().expect("reqwest client"),
        // Also the SDK transport's HTTP/1.1 with reqwest's retry layer off (it copies every
        // request in case an HTTP/2 refusal must be repeated): the runtime alone, against
        // the same reqwest.
        Via::Matched => timed()
            .http1_only()
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .build()
            .expect("reqwest client"),
        Via::Sdk | Via::Bare => reqwest::Client::new(),
    };
    let url = format!("{server_url}/locations/{location}");
    let bearer = format!("Bearer {token}");
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = thread_cpu_nanos();
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (hl, plain, url, bearer, next) = (
                hl.clone(),
                plain.clone(),
                url.clone(),
                bearer.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let found = match via {
                        Via::Plain | Via::Matched | Via::Bare => {
                            let bytes = plain
                                .get(&url)
                                .header("authorization", &bearer)
                                .header("version", "2021-07-28")
                                .header("accept", "application/json")
                                .send()
                                .await
                                .expect("sent")
                                .error_for_status()
                                .expect("200")
                                .bytes()
                                .await
                                .expect("body");
                            serde_json::from_slice::<GetLocationByIdSuccessfulResponseDto>(&bytes)
                                .expect("decoded")
                                .location
                        }
                        Via::Sdk => {
                            hl.locations()
                                .get_location()
                                .location_id(location)
                                .send()
                                .await
                                .expect("200")
                                .into_inner()
                                .location
                        }
                    };
                    assert!(found.is_some());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let per_second = requests as f64 / started.elapsed().as_secs_f64();
    let cpu_micros = thread_cpu_nanos()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before) as f64 / 1_000.0 / requests as f64);
    Run {
        per_second,
        cpu_micros,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// reqwest with the SDK's timeouts and a user agent.
    Plain,
    /// `reqwest::Client::new()`: no timeout at all.
    Bare,
    /// `Plain` with the rest of the SDK's transport: HTTP/1.1 only, reqwest's retry layer off.
    Matched,
    Sdk,
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let runtime = |multi_thread: bool| {
        let mut builder = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        builder.enable_all().build().expect("tokio runtime")
    };
    // `-- budget`, `-- clients` or `-- cost` runs one table; nothing (or cargo's `--bench`)
    // runs all three.
    if let Ok(spec) = std::env::var(shared::WORKER) {
        runtime(true).block_on(shared::work(&spec));
        return;
    }
    if let Ok(spec) = std::env::var(cost_instructions::WORKER) {
        runtime(false).block_on(cost_instructions::work(&spec));
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let redis_url = args
        .iter()
        .position(|a| a == "--redis-url")
        .and_then(|i| args.get(i + 1).cloned());
    let wanted: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--") && Some(*a) != redis_url.as_ref())
        .cloned()
        .collect();
    let runs = |table: &str| wanted.is_empty() || wanted.iter().any(|w| w == table);
    if runs("budget") {
        runtime(true).block_on(budget_table());
    }
    if runs("clients") {
        runtime(true).block_on(clients_table());
    }
    if runs("cost") {
        // One client thread: its CPU cost per request is what the table compares.
        runtime(false).block_on(cost_table());
    }
    if runs("shared") {
        runtime(true).block_on(shared::table(redis_url));
    }
    // Only when asked for: it needs valgrind and takes minutes.
    if wanted.iter().any(|w| w == "instructions") {
        runtime(false).block_on(cost_instructions::table());
    }
}

async fn budget_table() {
    println!(
        "budget use: {REQUESTS} requests, {TASKS} tasks, sandbox and client at {PER_WINDOW} per {} ms per location",
        WINDOW.as_millis()
    );
    println!("| locations | 429s | lost | wall | least possible | wall / least |");
    println!("|---|---|---|---|---|---|");
    for locations in [1, 10] {
        let (throttled, lost, wall, least) = budget_use(locations).await;
        println!(
            "| {locations} | {throttled} | {lost} | {} | {} | {:.3} |",
            secs(wall),
            secs(least),
            wall.as_secs_f64() / least.as_secs_f64()
        );
    }

    println!();
}

async fn clients_table() {
    println!(
        "two clients sharing nothing, {} requests each ({} tasks each), one location at {PER_WINDOW} per {} ms",
        REQUESTS / 2,
        TASKS / 2,
        WINDOW.as_millis()
    );
    println!("| adaptive budget | 429s | lost | wall | least possible | wall / least |");
    println!("|---|---|---|---|---|---|");
    for follow in [true, false] {
        let (throttled, lost, wall, least) = two_clients(follow).await;
        println!(
            "| {} | {throttled} | {lost} | {} | {} | {:.3} |",
            if follow { "on (default)" } else { "off" },
            secs(wall),
            secs(least),
            wall.as_secs_f64() / least.as_secs_f64()
        );
    }

    println!();
}

async fn cost_table() {
    let sandbox = support::SandboxProgram::start(&["--no-rate-limits"]).await;
    let requests_for = |tasks: usize| if tasks == 1 { 10_000 } else { 40_000 };
    println!(
        "per-request cost: GET /locations/{{id}} x 10,000 (1 task) or 40,000 (16 tasks) on loopback (sandbox in its own process, client on one thread), {ROUNDS} rounds"
    );
    println!(
        "plain = reqwest with the SDK's timeouts (60 s, 10 s to connect) and a user agent, reqwest's retry layer on as by default (the SDK's transport turns it off); bare = reqwest::Client::new() (no timeout)"
    );
    println!(
        "| tasks | plain (req/s, median) | SDK (req/s, median) | SDK / plain (median of pairs) | range | client CPU per request: plain / SDK (µs, median) | plain / SDK CPU (median of pairs) | range | bare (req/s; CPU µs) | bare / SDK CPU (median) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    // Warm the connection pools and the sandbox.
    for via in [Via::Plain, Via::Bare, Via::Sdk] {
        throughput(&sandbox.url, via, 2_000, 8).await;
    }
    for tasks in [1, 16] {
        let requests = requests_for(tasks);
        let (mut plain, mut sdk, mut bare) =
            (Series::default(), Series::default(), Series::default());
        let (mut ratios, mut cpu_ratios, mut bare_cpu_ratios) =
            (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Back to back, rotating which goes first: the machine's drift hits all three.
            let mut order = [Via::Plain, Via::Sdk, Via::Bare];
            order.rotate_left(round % 3);
            let mut runs = Vec::new();
            for via in order {
                runs.push((via, throughput(&sandbox.url, via, requests, tasks).await));
            }
            let run_of = |wanted: Via| {
                runs.iter()
                    .find(|(via, _)| *via == wanted)
                    .map(|(_, run)| *run)
                    .expect("every variant ran")
            };
            let (p, s, b) = (run_of(Via::Plain), run_of(Via::Sdk), run_of(Via::Bare));
            plain.push(p);
            sdk.push(s);
            bare.push(b);
            ratios.push(s.per_second / p.per_second);
            if let (Some(p), Some(s), Some(b)) = (p.cpu_micros, s.cpu_micros, b.cpu_micros) {
                // Like the throughput ratio, 1.0 means the SDK costs what reqwest does.
                cpu_ratios.push(p / s);
                bare_cpu_ratios.push(b / s);
            }
        }
        let cpu = if cpu_ratios.is_empty() {
            "not reported by this OS | – | –".to_owned()
        } else {
            format!(
                "{:.1} / {:.1} | {:.3} | {:.3} – {:.3}",
                median(&mut plain.cpu),
                median(&mut sdk.cpu),
                median(&mut cpu_ratios),
                cpu_ratios.first().copied().unwrap_or_default(),
                cpu_ratios.last().copied().unwrap_or_default(),
            )
        };
        println!(
            "| {tasks} | {:.0} | {:.0} | {:.3} | {:.3} – {:.3} | {cpu} | {:.0}; {:.1} | {:.3} |",
            median(&mut plain.per_second),
            median(&mut sdk.per_second),
            median(&mut ratios),
            ratios.first().copied().unwrap_or_default(),
            ratios.last().copied().unwrap_or_default(),
            median(&mut bare.per_second),
            median(&mut bare.cpu),
            median(&mut bare_cpu_ratios),
        );
    }
}

/// One variant's runs across the rounds.
#[derive(Default)]
struct Series {
    per_second: Vec<f64>,
    cpu: Vec<f64>,
}

impl Series {
    fn push(&mut self, run: Run) {
        self.per_second.push(run.per_second);
        self.cpu.extend(run.cpu_micros);
    }
}

/// Rounds of the per-request cost comparison.
const ROUNDS: usize = 12;

/// Sorts `values` and returns the middle one (mean of the two middle ones).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
