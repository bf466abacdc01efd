//! The `shared` table of the rate-limit bench: worker processes (this program run again with
//! [`WORKER`] set) spending one app's budget with and without a Redis budget, through a Redis
//! outage, and the Redis budget's per-request cost.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use highlevel::auth::{AuthorizationHost, OAuthConfig, UserType};
use highlevel::runtime::rate_limit::RedisBudget;
use highlevel::{HighLevel, RateLimitConfig, RetryConfig};
use highlevel_sandbox::Sandbox;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use super::{PER_WINDOW, REQUESTS, TASKS, WINDOW};

/// Set in a worker process: its [`Spec`] as JSON.
pub const WORKER: &str = "HIGHLEVEL_BENCH_SHARED_WORKER";
const PROCESSES: usize = 4;
/// When the outage row stops Redis, and for how long.
const OUTAGE_AFTER: Duration = Duration::from_secs(10);
const OUTAGE: Duration = Duration::from_secs(5);

/// What a worker process does.
#[derive(Serialize, Deserialize)]
struct Spec {
    url: String,
    client_id: String,
    client_secret: String,
    company_id: String,
    locations: Vec<String>,
    redis: Option<String>,
    prefix: String,
    requests: usize,
    tasks: usize,
}

/// In a worker: install, mint every location's token, say `ready`, wait for `go` on stdin,
/// spend the requests, say `done <lost> <fallback> <finished, ms since 1970>`.
pub async fn work(spec: &str) {
    let spec: Spec = serde_json::from_str(spec).expect("worker spec");
    let mut limits = super::limits();
    if let Some(url) = &spec.redis {
        let budget = RedisBudget::with_short_timeouts(url.as_str()).expect("a Redis URL");
        limits = limits.shared(budget).key_prefix(spec.prefix.as_str());
    }
    let hl = HighLevel::builder()
        .base_url(&spec.url)
        .oauth_app(
            OAuthConfig::new(spec.client_id.as_str(), spec.client_secret.as_str())
                .authorization_host(AuthorizationHost::Custom(spec.url.clone())),
        )
        .rate_limit(limits)
        .retry(RetryConfig::new())
        .build()
        .expect("handle");
    super::support::install(&hl, UserType::Company).await;
    let agency = hl.agency(&spec.company_id);
    let handles: Vec<_> = spec
        .locations
        .iter()
        .map(|id| (agency.location(id), id.clone()))
        .collect();
    for (hl, id) in &handles {
        hl.oauth_app()
            .expect("oauth")
            .location_token(&spec.company_id, id)
            .await
            .expect("minted");
    }
    println!("ready");
    let mut go = String::new();
    tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut go))
        .await
        .expect("stdin")
        .expect("go");
    let (_wall, lost) = super::spend(&handles, spec.requests, spec.tasks).await;
    let fell_back = hl.rate_limits().iter().any(|s| s.on_fallback);
    let finished = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    println!("done {lost} {fell_back} {finished}");
}

/// A `redis-server` of the bench's own, on a free port, without persistence.
struct RedisServer {
    port: u16,
    process: Option<Child>,
}

impl RedisServer {
    /// `None` when `redis-server` is not installed.
    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let mut server = Self {
            port,
            process: None,
        };
        server.restart().ok()?;
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn restart(&mut self) -> std::io::Result<()> {
        let process = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()?;
        self.process = Some(process);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        while TcpStream::connect(address).is_err() {
            if started.elapsed() > Duration::from_secs(5) {
                return Err(std::io::Error::other("redis-server does not listen"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Row {
    throttled: u64,
    lost: usize,
    wall: Duration,
    least: Duration,
    fell_back: usize,
    /// Between the first and the last worker to finish: the same work each, so a process
    /// that got fewer slots than the others finishes late.
    finish_spread: Duration,
}

/// [`PROCESSES`] workers spend [`REQUESTS`] over `locations`, each with the Redis budget at
/// `redis` (or none); with `outage`, Redis is stopped [`OUTAGE_AFTER`] into the run for
/// [`OUTAGE`].
async fn processes(
    locations: usize,
    redis: Option<String>,
    outage: Option<&mut RedisServer>,
) -> Row {
    let sandbox = Sandbox::builder()
        .installed_locations(locations - 1)
        .rate_limit(PER_WINDOW, WINDOW)
        .serve()
        .await
        .expect("sandbox");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let spec = Spec {
        url: sandbox.url().to_owned(),
        client_id: sandbox.client_id(),
        client_secret: sandbox.client_secret(),
        company_id: sandbox.company_id(),
        locations: sandbox.installed_location_ids(),
        redis,
        prefix: format!("bench-{nanos:x}"),
        requests: REQUESTS / PROCESSES,
        tasks: TASKS / PROCESSES,
    };
    let spec = serde_json::to_string(&spec).expect("spec");
    let mut workers = Vec::new();
    for _ in 0..PROCESSES {
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("the bench"))
            .env(WORKER, &spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("a worker");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await.expect("worker output") {
            if line == "ready" {
                break;
            }
        }
        workers.push((child, lines));
    }
    let before = sandbox.rate_limit_stats().throttled;
    let started = Instant::now();
    for (child, _) in &mut workers {
        let stdin = child.stdin.as_mut().expect("piped");
        stdin.write_all(b"go\n").await.expect("go");
        stdin.flush().await.expect("go");
    }
    let outage = async {
        if let Some(server) = outage {
            tokio::time::sleep(OUTAGE_AFTER).await;
            server.stop();
            tokio::time::sleep(OUTAGE).await;
            server.restart().expect("redis-server restarts");
        }
    };
    let finished = async {
        let mut lost = 0;
        let mut fell_back = 0;
        let mut finished_at = Vec::new();
        for (mut child, mut lines) in workers {
            while let Some(line) = lines.next_line().await.expect("worker output") {
                if let Some(done) = line.strip_prefix("done ") {
                    let mut parts = done.split(' ');
                    lost += parts
                        .next()
                        .and_then(|n| n.parse::<usize>().ok())
                        .expect("lost count");
                    fell_back += usize::from(parts.next() == Some("true"));
                    finished_at.extend(parts.next().and_then(|ms| ms.parse::<u64>().ok()));
                }
            }
            assert!(
                child.wait().await.expect("worker").success(),
                "worker failed"
            );
        }
        let spread = finished_at.iter().max().zip(finished_at.iter().min());
        let spread = spread.map_or(0, |(last, first)| last - first);
        (
            started.elapsed(),
            lost,
            fell_back,
            Duration::from_millis(spread),
        )
    };
    let ((), (wall, lost, fell_back, finish_spread)) = tokio::join!(outage, finished);
    Row {
        throttled: sandbox.rate_limit_stats().throttled - before,
        lost,
        wall,
        least: super::minimum(REQUESTS / locations),
        fell_back,
        finish_spread,
    }
}

/// Requests per second of one task calling `GET /locations/{id}` with `limits`.
async fn rate(url: &str, limits: RateLimitConfig, requests: usize) -> f64 {
    let hl = HighLevel::builder()
        .private_integration_token(highlevel_sandbox::DEFAULT_TOKEN)
        .base_url(url)
        .rate_limit(limits)
        .build()
        .expect("handle");
    let started = Instant::now();
    for _ in 0..requests {
        hl.locations()
            .get_location()
            .location_id(highlevel_sandbox::DEFAULT_LOCATION_ID)
            .send()
            .await
            .expect("200");
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

pub async fn table(redis_url: Option<String>) {
    let Some(mut own) = RedisServer::start() else {
        println!("shared budget: skipped, `redis-server` is not installed");
        return;
    };
    let redis = redis_url.unwrap_or_else(|| own.url());
    println!(
        "one budget, {PROCESSES} worker processes, {REQUESTS} requests in all ({} tasks each), sandbox and clients at {PER_WINDOW} per {} ms per location",
        TASKS / PROCESSES,
        WINDOW.as_millis()
    );
    println!(
        "| run | 429s | lost | wall | least possible | wall / least | processes that ended on the fallback | first to last worker done |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let print = |name: &str, row: Row| {
        println!(
            "| {name} | {} | {} | {} | {} | {:.3} | {} | {} |",
            row.throttled,
            row.lost,
            super::secs(row.wall),
            super::secs(row.least),
            row.wall.as_secs_f64() / row.least.as_secs_f64(),
            row.fell_back,
            super::secs(row.finish_spread)
        );
    };
    print(
        "Redis budget, 1 location",
        processes(1, Some(redis.clone()), None).await,
    );
    print(
        "Redis budget, 10 locations",
        processes(10, Some(redis.clone()), None).await,
    );
    print(
        "no shared budget (adaptive), 1 location",
        processes(1, None, None).await,
    );
    let own_url = own.url();
    print(
        "Redis budget, 1 location, Redis stopped 10 s in for 5 s",
        processes(1, Some(own_url), Some(&mut own)).await,
    );
    println!();

    let sandbox = super::support::SandboxProgram::start(&["--no-rate-limits"]).await;
    let unbounded = || RateLimitConfig::new().per_interval(1_000_000, WINDOW);
    let shared = || {
        unbounded()
            .shared(RedisBudget::with_short_timeouts(redis.as_str()).expect("a Redis URL"))
            .key_prefix(format!("bench-cost-{}", std::process::id()))
    };
    const COST_REQUESTS: usize = 3_000;
    const COST_ROUNDS: usize = 6;
    rate(&sandbox.url, unbounded(), 500).await;
    rate(&sandbox.url, shared(), 500).await;
    let (mut memory, mut redis_rates, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..COST_ROUNDS {
        let (m, r) = if round % 2 == 0 {
            let m = rate(&sandbox.url, unbounded(), COST_REQUESTS).await;
            (m, rate(&sandbox.url, shared(), COST_REQUESTS).await)
        } else {
            let r = rate(&sandbox.url, shared(), COST_REQUESTS).await;
            (rate(&sandbox.url, unbounded(), COST_REQUESTS).await, r)
        };
        memory.push(m);
        redis_rates.push(r);
        extra.push(1e6 / r - 1e6 / m);
    }
    println!(
        "per-request cost of the budget: GET /locations/{{id}} x {COST_REQUESTS}, 1 task, sandbox program in its own process, Redis on loopback, {COST_ROUNDS} rounds"
    );
    println!(
        "| memory budget (req/s, median) | Redis budget (req/s, median) | added per request (µs, median) | added, fewest–most of the rounds (µs) |"
    );
    println!("|---|---|---|---|");
    // Sorted by `median`, so the ends are the extremes.
    let added = super::median(&mut extra);
    println!(
        "| {:.0} | {:.0} | {added:.0} | {:.0}–{:.0} |",
        super::median(&mut memory),
        super::median(&mut redis_rates),
        extra.first().copied().unwrap_or_default(),
        extra.last().copied().unwrap_or_default()
    );
}
