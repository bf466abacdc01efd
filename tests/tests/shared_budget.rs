//! One rate-limit budget shared by several processes through a real Redis (issue 16): OS
//! processes (this binary run again) pacing themselves through it, the fallback when Redis
//! does not answer and the way back, prefixes keeping apps apart, and nonsense in the keys.
//!
//! Ignored by plain `cargo test`: they need `HIGHLEVEL_TEST_REDIS_URL` (`cargo xtask test`
//! starts Redis and sets it; `cargo xtask services` prints it).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use highlevel::runtime::rate_limit::RedisBudget;
use highlevel::runtime::redis::RedisOptions;
use highlevel::{HighLevel, RateLimitConfig, RetryConfig};
use highlevel_sandbox::{RunningSandbox, Sandbox};
use highlevel_tests::log::CapturedLog;
use highlevel_tests::proxy::Proxy;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Set in a worker process: the sandbox URL, token, key prefix and request count, `|`-joined.
const WORKER: &str = "HIGHLEVEL_TEST_SHARED_BUDGET_WORKER";
/// Set in a worker process of the fairness test: the sandbox URL, token, location, key prefix,
/// Redis URL, task count and request count, `|`-joined.
const FAIR_WORKER: &str = "HIGHLEVEL_TEST_SHARED_BUDGET_FAIR_WORKER";

fn redis_url() -> String {
    std::env::var("HIGHLEVEL_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!("HIGHLEVEL_TEST_REDIS_URL is not set: run these tests through `cargo xtask test` or `cargo xtask services`")
    })
}

fn redis_address(url: &str) -> SocketAddr {
    url.trim_start_matches("redis://")
        .trim_end_matches('/')
        .split('/')
        .next()
        .and_then(|host_port| host_port.parse().ok())
        .unwrap_or_else(|| panic!("a redis://127.0.0.1:<port>/ URL, not {url}"))
}

/// A key prefix no other test run uses.
fn unique_prefix(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("test-{name}-{nanos:x}-{}", std::process::id())
}

fn handle(sandbox_url: &str, token: &str, limits: RateLimitConfig) -> HighLevel {
    HighLevel::builder()
        .private_integration_token(token)
        .base_url(sandbox_url)
        .rate_limit(limits)
        .retry(RetryConfig::new().backoff(Duration::from_millis(1), Duration::from_millis(5)))
        .build()
        .expect("handle")
}

fn shared(redis: &str, prefix: &str, limits: RateLimitConfig) -> RateLimitConfig {
    let budget = RedisBudget::with_short_timeouts(redis).expect("a Redis URL");
    limits.shared(budget).key_prefix(prefix)
}

async fn get_location(hl: &HighLevel, id: &str) {
    hl.locations()
        .get_location()
        .location_id(id)
        .send()
        .await
        .expect("the call succeeds");
}

/// One command in Redis's protocol; returns the first line of the reply (`+zset`, `:1`).
async fn redis_command(address: SocketAddr, args: &[&str]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("redis");
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(command.as_bytes()).await.expect("written");
    let mut reply = Vec::new();
    let mut chunk = [0u8; 512];
    while !reply.windows(2).any(|w| w == b"\r\n") {
        let read = stream.read(&mut chunk).await.expect("reply");
        assert!(read > 0, "redis closed the connection");
        reply.extend_from_slice(&chunk[..read]);
    }
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

/// The pacing every worker uses: the sandbox's limits, with a margin wide enough for a busy
/// machine's scheduling jitter between the grant and the sandbox seeing the request.
fn worker_limits() -> RateLimitConfig {
    RateLimitConfig::new()
        .per_interval(10, Duration::from_millis(500))
        .margin(Duration::from_millis(100))
}

/// In a worker process: makes the calls and returns `true`.
async fn worked() -> bool {
    let Ok(spec) = std::env::var(WORKER) else {
        return false;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let [url, token, location, prefix, count] = parts[..] else {
        panic!("worker spec {spec}");
    };
    let count: usize = count.parse().expect("a count");
    let hl = handle(url, token, shared(&redis_url(), prefix, worker_limits()));
    for _ in 0..count {
        get_location(&hl, location).await;
    }
    let status = hl.rate_limit("token").expect("called");
    assert!(!status.on_fallback, "{status:?}");
    assert!(status.shared.is_some(), "{status:?}");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: cargo xtask test"]
async fn processes_sharing_one_budget_collect_no_429s() {
    if worked().await {
        return;
    }
    const WORKERS: usize = 3;
    const EACH: usize = 20;
    let sandbox = Sandbox::builder()
        .rate_limit(10, Duration::from_millis(500))
        .serve()
        .await
        .expect("sandbox");
    let prefix = unique_prefix("processes");
    let test = crate::test_name(
        module_path!(),
        "processes_sharing_one_budget_collect_no_429s",
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            tokio::process::Command::new(std::env::current_exe().expect("the test binary"))
                .args(["--exact", &test, "--ignored", "--nocapture"])
                .env(
                    WORKER,
                    format!(
                        "{}|{}|{}|{prefix}|{EACH}",
                        sandbox.url(),
                        sandbox.token(),
                        sandbox.location_id()
                    ),
                )
                .output()
        })
        .collect();
    for worker in futures_util::future::join_all(workers).await {
        let output = worker.expect("the worker runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "worker:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let elapsed = started.elapsed();
    let stats = sandbox.rate_limit_stats();
    assert_eq!(stats.throttled, 0, "{stats:?}");
    assert_eq!(stats.allowed, (WORKERS * EACH) as u64, "{stats:?}");
    // 60 requests at 10 per 0.5 s: the last batch goes 5 windows after the first.
    assert!(elapsed >= Duration::from_millis(2_500), "{elapsed:?}");
}

/// In a fairness worker: `tasks` tasks of one handle make the calls between them, then the
/// process prints its slowest call and when it finished; returns `true`.
async fn worked_fairly() -> bool {
    let Ok(spec) = std::env::var(FAIR_WORKER) else {
        return false;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let [url, token, location, prefix, redis, tasks, count] = parts[..] else {
        panic!("worker spec {spec}");
    };
    let (tasks, count): (usize, usize) = (
        tasks.parse().expect("a task count"),
        count.parse().expect("a count"),
    );
    let limits = RateLimitConfig::new()
        .per_interval(4, Duration::from_millis(400))
        .margin(Duration::from_millis(100));
    let hl = handle(url, token, shared(redis, prefix, limits));
    let calls: Vec<_> = (0..tasks)
        .map(|_| {
            let (hl, location) = (hl.clone(), location.to_owned());
            tokio::spawn(async move {
                let mut slowest = Duration::ZERO;
                for _ in 0..count / tasks {
                    let call = Instant::now();
                    get_location(&hl, &location).await;
                    slowest = slowest.max(call.elapsed());
                }
                slowest
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for call in calls {
        slowest = slowest.max(call.await.expect("the task"));
    }
    let finished = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    println!("fair-worker {} {finished}", slowest.as_millis());
    true
}

/// A worker's slowest call and when it finished (ms since 1970), from its output.
fn fair_result(output: &std::process::Output) -> (u128, u128) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "worker:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|line| {
            let mut numbers = line.strip_prefix("fair-worker ")?.split(' ');
            Some((numbers.next()?.parse().ok()?, numbers.next()?.parse().ok()?))
        })
        .unwrap_or_else(|| panic!("no result in:\n{stdout}"))
}

/// A process that reaches Redis later than another (farther away, slower to wake) still gets
/// its turn: waiting calls are served in arrival order across processes. Without the queue
/// every waiter wakes when a slot frees and the nearer process, always waiting with one of
/// its many tasks, wins every slot: the far one's calls would wait until it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: cargo xtask test"]
async fn a_process_farther_from_redis_is_not_starved() {
    if worked_fairly().await {
        return;
    }
    const GREEDY_TASKS: usize = 6;
    const GREEDY_CALLS: usize = 48;
    const FAR_CALLS: usize = 6;
    let sandbox = Sandbox::builder()
        .rate_limit(4, Duration::from_millis(400))
        .serve()
        .await
        .expect("sandbox");
    let redis = redis_url();
    let proxy = Proxy::start(redis_address(&redis)).await.expect("proxy");
    proxy.delay(Duration::from_millis(20));
    let far_redis = format!("redis://127.0.0.1:{}/", proxy.port());
    let prefix = unique_prefix("fair");
    let test = crate::test_name(
        module_path!(),
        "a_process_farther_from_redis_is_not_starved",
    );
    let worker = |redis: &str, tasks: usize, calls: usize| {
        tokio::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", &test, "--ignored", "--nocapture"])
            .env(
                FAIR_WORKER,
                format!(
                    "{}|{}|{}|{prefix}|{redis}|{tasks}|{calls}",
                    sandbox.url(),
                    sandbox.token(),
                    sandbox.location_id()
                ),
            )
            .output()
    };
    let (greedy, far) = tokio::join!(
        worker(&redis, GREEDY_TASKS, GREEDY_CALLS),
        worker(&far_redis, 1, FAR_CALLS)
    );
    let (_, greedy_finished) = fair_result(&greedy.expect("the greedy worker runs"));
    let (far_slowest, far_finished) = fair_result(&far.expect("the far worker runs"));
    println!(
        "far process: slowest call {far_slowest} ms, done {} ms before the greedy one",
        greedy_finished.saturating_sub(far_finished)
    );
    let stats = sandbox.rate_limit_stats();
    assert_eq!(stats.throttled, 0, "{stats:?}");
    assert_eq!(
        stats.allowed,
        (GREEDY_CALLS + FAR_CALLS) as u64,
        "{stats:?}"
    );
    // In arrival order the far process's waiting call takes the next slot that frees: at most
    // one window (500 ms) plus its 20 ms per command. Starved, its calls wait for the greedy
    // process's 48 calls (6 s).
    assert!(
        far_slowest < 1_500,
        "the far process's slowest call took {far_slowest} ms"
    );
    assert!(
        far_finished + 1_000 < greedy_finished,
        "the far process finished at {far_finished}, the greedy one at {greedy_finished}"
    );
}

/// Requests a process sent on its own budget while Redis was down are in the shared window
/// once it is back, so that the other processes do not spend that window again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: cargo xtask test"]
async fn requests_sent_during_an_outage_are_written_back() {
    let sandbox = Sandbox::builder()
        .without_rate_limits()
        .serve()
        .await
        .expect("sandbox");
    let redis = redis_url();
    let proxy = Proxy::start(redis_address(&redis)).await.expect("proxy");
    let through_proxy = format!("redis://127.0.0.1:{}/", proxy.port());
    let prefix = unique_prefix("write-back");
    let limits = || RateLimitConfig::new().per_interval(10, Duration::from_secs(60));
    let hl = handle(
        sandbox.url(),
        sandbox.token(),
        shared(&through_proxy, &prefix, limits()),
    );
    let location = sandbox.location_id();
    let window_key = format!("{{{prefix}:token}}:log");
    get_location(&hl, location).await;

    proxy.refuse(true);
    proxy.drop_connections();
    for _ in 0..3 {
        get_location(&hl, location).await;
    }
    assert!(hl.rate_limit("token").expect("called").on_fallback);
    assert_eq!(
        redis_command(redis_address(&redis), &["ZCARD", &window_key]).await,
        ":1"
    );

    proxy.pass();
    let back = Instant::now();
    while hl.rate_limit("token").expect("called").on_fallback {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "never went back to the shared budget"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        get_location(&hl, location).await;
    }
    // 1 before, the outage's 3 (and any probes' that fell back meanwhile), the one that came
    // back: as many as the sandbox saw.
    let sent = sandbox_calls(&hl);
    assert_eq!(
        redis_command(redis_address(&redis), &["ZCARD", &window_key]).await,
        format!(":{sent}")
    );
    let other_process = handle(
        sandbox.url(),
        sandbox.token(),
        shared(&redis, &prefix, limits()),
    );
    let status = {
        get_location(&other_process, location).await;
        other_process.rate_limit("token").expect("called")
    };
    assert_eq!(
        status.shared.map(|s| s.in_window),
        Some(sent + 1),
        "{status:?}"
    );
}

/// How many requests `hl` sent within the window (its own log, fallback or not).
fn sandbox_calls(hl: &HighLevel) -> u32 {
    let status = hl.rate_limit("token").expect("called");
    status.max - status.available_now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: cargo xtask test"]
async fn two_prefixes_do_not_share_a_budget() {
    let sandbox = Sandbox::builder()
        .without_rate_limits()
        .serve()
        .await
        .expect("sandbox");
    let redis = redis_url();
    let (a, b) = (unique_prefix("app-a"), unique_prefix("app-b"));
    let limits = || RateLimitConfig::new().per_interval(3, Duration::from_secs(2));
    let first_of_a = handle(sandbox.url(), sandbox.token(), shared(&redis, &a, limits()));
    let app_b = handle(sandbox.url(), sandbox.token(), shared(&redis, &b, limits()));
    let second_of_a = handle(sandbox.url(), sandbox.token(), shared(&redis, &a, limits()));
    let location = sandbox.location_id();
    let started = Instant::now();
    for hl in [&first_of_a, &app_b] {
        for _ in 0..3 {
            get_location(hl, location).await;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "b did not wait for a"
    );
    for hl in [&first_of_a, &app_b] {
        let status = hl.rate_limit("token").expect("called");
        assert_eq!(status.shared.map(|s| s.in_window), Some(3), "{status:?}");
    }
    let waited = Instant::now();
    get_location(&second_of_a, location).await;
    assert!(
        waited.elapsed() >= Duration::from_millis(1_500),
        "a's second process waits for what its first spent: {:?}",
        waited.elapsed()
    );
}

/// The sandbox program's `--redis-url`: sandboxes counting in one Redis refuse a location's
/// requests past its limit together, whichever of them the requests reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: cargo xtask test"]
async fn sandboxes_counting_in_one_redis_share_each_locations_limit() {
    let location = unique_prefix("sandbox-location");
    let start = || {
        Sandbox::builder()
            .location_id(&location)
            .rate_limit(3, Duration::from_secs(60))
            .shared_rate_limits(redis_url())
            .serve()
    };
    let (first, second) = (
        start().await.expect("sandbox"),
        start().await.expect("sandbox"),
    );
    let client = highlevel_tests::http_client();
    let mut answers = Vec::new();
    for sandbox in [&first, &second, &first, &second, &first] {
        let answer = client
            .get(format!("{}/locations/{location}", sandbox.url()))
            .bearer_auth(sandbox.token())
            .header("Version", "2021-07-28")
            .send()
            .await
            .expect("an answer");
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        answers.push((
            answer.status().as_u16(),
            header("x-ratelimit-remaining"),
            header("retry-after"),
        ));
    }
    let no_wait = String::new;
    assert_eq!(
        answers,
        [
            (200, "2".to_owned(), no_wait()),
            (200, "1".to_owned(), no_wait()),
            (200, "0".to_owned(), no_wait()),
            (429, "0".to_owned(), "60".to_owned()),
            (429, "0".to_owned(), "60".to_owned()),
        ]
    );
    let (a, b) = (first.rate_limit_stats(), second.rate_limit_stats());
    assert_eq!((a.allowed, a.throttled), (2, 1), "{a:?}");
    assert_eq!((b.allowed, b.throttled), (1, 1), "{b:?}");
}

fn captured_subscriber() -> (CapturedLog, impl tracing::Subscriber + Send + Sync) {
    let captured = CapturedLog::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, subscriber)
}

#[tokio::test]
#[ignore = "needs Redis: cargo xtask test"]
async fn redis_down_falls_back_logs_once_and_comes_back() {
    if crate::ran_alone(
        module_path!(),
        "redis_down_falls_back_logs_once_and_comes_back",
    ) {
        return;
    }
    let (log, subscriber) = captured_subscriber();
    // Current-thread runtime: the default subscriber sees every task.
    let _guard = tracing::subscriber::set_default(subscriber);
    let sandbox: RunningSandbox = Sandbox::start().await.expect("sandbox");
    let redis = redis_url();
    let proxy = Proxy::start(redis_address(&redis)).await.expect("proxy");
    let through_proxy = format!("redis://127.0.0.1:{}/", proxy.port());
    let budget = RedisBudget::new(
        through_proxy,
        RedisOptions::new()
            .response_timeout(Duration::from_millis(200))
            .connection_timeout(Duration::from_millis(200)),
    )
    .expect("a Redis URL");
    let limits = RateLimitConfig::new()
        .shared(budget)
        .key_prefix(unique_prefix("fallback"));
    let hl = handle(sandbox.url(), sandbox.token(), limits);
    let location = sandbox.location_id();

    get_location(&hl, location).await;
    let status = hl.rate_limit("token").expect("called");
    assert!(!status.on_fallback && status.shared.is_some(), "{status:?}");

    proxy.refuse(true);
    proxy.drop_connections();
    for _ in 0..5 {
        let call = Instant::now();
        get_location(&hl, location).await;
        assert!(
            call.elapsed() < Duration::from_secs(1),
            "a down budget costs at most its timeout: {:?}",
            call.elapsed()
        );
    }
    assert!(hl.rate_limit("token").expect("called").on_fallback);

    proxy.pass();
    let back = Instant::now();
    while hl.rate_limit("token").expect("called").on_fallback {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "never went back to the shared budget"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        get_location(&hl, location).await;
    }
    let text = log.text();
    assert_eq!(
        text.matches("shared budget unavailable").count(),
        1,
        "logged once:\n{text}"
    );
    assert_eq!(
        text.matches("shared budget answers again").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
}

#[tokio::test]
#[ignore = "needs Redis: cargo xtask test"]
async fn nonsense_in_the_shared_keys_is_discarded_with_a_log() {
    if crate::ran_alone(
        module_path!(),
        "nonsense_in_the_shared_keys_is_discarded_with_a_log",
    ) {
        return;
    }
    let (log, subscriber) = captured_subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let sandbox = Sandbox::builder()
        .without_rate_limits()
        .serve()
        .await
        .expect("sandbox");
    let redis = redis_url();
    let address = redis_address(&redis);
    let prefix = unique_prefix("nonsense");
    let (window_key, state_key, queue_key, alive_key) = (
        format!("{{{prefix}:token}}:log"),
        format!("{{{prefix}:token}}:state"),
        format!("{{{prefix}:token}}:queue"),
        format!("{{{prefix}:token}}:alive"),
    );
    let hl = handle(
        sandbox.url(),
        sandbox.token(),
        shared(
            &redis,
            &prefix,
            RateLimitConfig::new().per_interval(10, Duration::from_secs(60)),
        ),
    );
    let location = sandbox.location_id();
    let edits: [&[&str]; 7] = [
        &["SET", &window_key, "garbage"],
        &[
            "HSET",
            &state_key,
            "blocked_until",
            "soon",
            "day_used",
            "lots",
        ],
        &["HSET", &state_key, "blocked_until", "99999999999999999"],
        &["ZADD", &window_key, "1e15", "from-the-far-future"],
        &["SET", &queue_key, "garbage"],
        // A waiter whose place the arrival counter never handed out, and a deadline days away.
        &["ZADD", &queue_key, "99999", "ghost"],
        &["ZADD", &alive_key, "1e15", "immortal"],
    ];
    for edit in edits {
        redis_command(address, edit).await;
        let call = Instant::now();
        get_location(&hl, location).await;
        assert!(
            call.elapsed() < Duration::from_secs(1),
            "{edit:?} was obeyed: {:?}",
            call.elapsed()
        );
        let status = hl.rate_limit("token").expect("called");
        assert!(!status.on_fallback, "{edit:?}: {status:?}");
    }
    assert_eq!(
        redis_command(address, &["TYPE", &window_key]).await,
        "+zset"
    );
    let text = log.text();
    assert_eq!(
        text.matches("unusable values in the shared budget were discarded")
            .count(),
        7,
        "{text}"
    );
}
