//! Fault injection against real Redis and PostgreSQL servers each test owns: the server killed
//! and restarted mid-run under OAuth calls and webhook checks, and a token write stalled (or
//! cut) past its lease by a TCP proxy while another process refreshes.
//!
//! Each test prints one line of the fault table (`fault table | scenario | calls | failed
//! (typed, by kind) | rotated tokens lost | wrongly marked | panics`) and fails unless no
//! rotated token was lost, no session was wrongly marked for re-authorization, nothing
//! panicked or hung and every failure was a typed one.
//!
//! The servers come from `highlevel_tests::servers` (`redis-server` on the `PATH`, PostgreSQL
//! from `HIGHLEVEL_TEST_POSTGRES_BIN`); `cargo xtask test` provides both.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use highlevel::auth::{
    AuthError, OAuthConfig, PostgresStore, RedisStore, Resource, StoreError, TokenStore, UserType,
};
use highlevel::runtime::postgres::{PostgresError, PostgresOptions};
use highlevel::webhooks::SeenStore;
use highlevel::webhooks::seen::{PostgresSeenStore, RedisSeenStore};
use highlevel::{Error, HighLevel};
use highlevel_sandbox::{RunningSandbox, Sandbox};
use highlevel_tests::oauth::{age_session, app_config, handle, install};
use highlevel_tests::proxy::Proxy;
use highlevel_tests::servers::{PostgresServer, RedisServer};

/// Longer than any wait the stores allow themselves (Redis's reconnect retries take up to
/// about 13 s; PostgreSQL's statements 5.5 s): a call still running after this hangs.
const CALL_BOUND: Duration = Duration::from_secs(30);
/// How long a killed server stays down: longer than a couple of PostgreSQL reconnect backoff
/// rounds (100 ms, 200 ms, 400 ms, … up to 5 s) and than Redis's first retries.
const OUTAGE: Duration = Duration::from_secs(3);
/// How long a restarted server may take to be used again: PostgreSQL's backoff has reached
/// 1.6–3.2 s by the end of the outage, Redis's retries 3.2 s (with jitter, up to twice that).
const RECOVERY_BOUND: Duration = Duration::from_secs(20);
/// Access tokens of the kill tests live this long and are renewed a second ahead, so that
/// refreshes keep happening around the outage.
const TOKEN_TTL: Duration = Duration::from_secs(3);
const REFRESH_SKEW: Duration = Duration::from_secs(1);
/// How often the background load calls.
const EVERY: Duration = Duration::from_millis(100);
/// Webhook ids are remembered for a day: none expires during a test.
const SEEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
async fn list_contacts(hl: &HighLevel, location: &str) -> Result<(), Error> {
    hl.location(location)
        .contacts()
        .get_contacts()
        .location_id(location)
        .send()
        .await
        .map(drop)
}

// ---- The fault table ----

#[derive(Debug)]
enum Outcome {
    Ok,
    Failed(String),
    Hung,
    Panicked,
}

/// A call's outcome, from its task joined.
fn outcome<E>(
    joined: Result<Result<Result<(), E>, tokio::time::error::Elapsed>, tokio::task::JoinError>,
    kind: impl FnOnce(&E) -> String,
) -> Outcome {
    match joined {
        Ok(Ok(Ok(()))) => Outcome::Ok,
        Ok(Ok(Err(e))) => Outcome::Failed(kind(&e)),
        Ok(Err(_)) => Outcome::Hung,
        Err(e) if e.is_panic() => Outcome::Panicked,
        Err(e) => Outcome::Failed(format!("untyped: task {e}")),
    }
}

/// What kind of failure an OAuth call ended with.
fn call_kind(error: &Error) -> String {
    match error.as_auth() {
        Some(AuthError::Store(e)) => format!("Store({})", store_kind(e)),
        Some(AuthError::RotatedTokensNotSaved { source, .. }) => {
            format!("RotatedTokensNotSaved({})", store_kind(source))
        }
        Some(AuthError::LeaseTimeout { .. }) => "LeaseTimeout".into(),
        Some(AuthError::ReauthorizationNeeded { .. }) => "ReauthorizationNeeded".into(),
        Some(other) => format!("untyped: auth: {other}"),
        None => format!("untyped: {error}"),
    }
}

fn store_kind(error: &StoreError) -> String {
    match error {
        StoreError::Conflict { .. } => "conflict".into(),
        StoreError::Corrupt { .. } => "corrupt".into(),
        StoreError::Timeout { operation, .. } => format!("{operation} timed out"),
        StoreError::Backend { store, source } => match source.downcast_ref::<PostgresError>() {
            Some(e) => format!("{store}: {}", postgres_kind(e)),
            None => format!("{store}: {}", text_kind(&source.to_string())),
        },
        _ => "other".into(),
    }
}

fn postgres_kind(error: &PostgresError) -> String {
    match error {
        PostgresError::Timeout { .. } => "timeout".into(),
        PostgresError::ConnectTimeout { .. } => "connect timeout".into(),
        PostgresError::ConnectionLost(_) => "connection lost".into(),
        PostgresError::Unreachable(_) => "unreachable".into(),
        PostgresError::Unavailable { .. } => "unavailable".into(),
        PostgresError::Backend(e) => format!("backend ({})", text_kind(&e.to_string())),
        _ => "other".into(),
    }
}

/// Redis errors (and the webhook stores' text errors) by what they say.
fn text_kind(text: &str) -> &'static str {
    let text = text.to_ascii_lowercase();
    if text.contains("timed out") || text.contains("timeout") {
        "timeout"
    } else if text.contains("unavailable") {
        "unavailable"
    } else if text.contains("refused") {
        "refused"
    } else {
        "connection"
    }
}

/// A webhook seen-store's failure: its text names the backend.
fn seen_kind(error: &str) -> String {
    match error.split_once(':') {
        Some((backend @ ("redis" | "postgres"), _)) => format!("{backend}: {}", text_kind(error)),
        _ => format!("untyped: {error}"),
    }
}

/// The failures a store outage may cause: the store's own errors, kept tokens not yet
/// written, a lease nobody could take.
fn outage_kind(kind: &str) -> bool {
    kind.starts_with("Store(")
        || kind.starts_with("RotatedTokensNotSaved(")
        || kind == "LeaseTimeout"
        || kind.starts_with("redis: ")
        || kind.starts_with("postgres: ")
}

#[derive(Debug)]
struct Row {
    scenario: String,
    calls: usize,
    failed: BTreeMap<String, usize>,
    hung: usize,
    lost: usize,
    wrongly_marked: usize,
    panics: usize,
}

impl Row {
    fn new(scenario: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            calls: 0,
            failed: BTreeMap::new(),
            hung: 0,
            lost: 0,
            wrongly_marked: 0,
            panics: 0,
        }
    }

    fn record(&mut self, outcome: &Outcome) {
        self.calls += 1;
        match outcome {
            Outcome::Ok => {}
            Outcome::Failed(kind) => *self.failed.entry(kind.clone()).or_default() += 1,
            Outcome::Hung => self.hung += 1,
            Outcome::Panicked => self.panics += 1,
        }
    }

    /// Prints the row and checks what must hold whatever the fault: nothing lost, nothing
    /// wrongly marked, no panic, no hang, and every failure one that `allowed` expects.
    fn finish(&self, allowed: impl Fn(&str) -> bool) {
        let failed: usize = self.failed.values().sum();
        let kinds = self
            .failed
            .iter()
            .map(|(kind, n)| format!("{kind}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let hung = if self.hung > 0 {
            format!(" + {} hung", self.hung)
        } else {
            String::new()
        };
        eprintln!(
            "fault table | {} | {} | {failed} ({kinds}){hung} | {} | {} | {}",
            self.scenario, self.calls, self.lost, self.wrongly_marked, self.panics
        );
        let untyped: Vec<_> = self.failed.keys().filter(|k| !allowed(k)).collect();
        assert!(
            untyped.is_empty(),
            "{}: unexpected failures {untyped:?}",
            self.scenario
        );
        assert_eq!(self.panics, 0, "{}: panics", self.scenario);
        assert_eq!(self.hung, 0, "{}: calls that never ended", self.scenario);
        assert_eq!(self.lost, 0, "{}: rotated tokens lost", self.scenario);
        assert_eq!(
            self.wrongly_marked, 0,
            "{}: sessions wrongly marked for re-authorization",
            self.scenario
        );
    }
}

// ---- Background load ----

/// A call started every [`EVERY`] on its own task, each bounded by [`CALL_BOUND`], until
/// finished: when each started and ended, and how.
struct Load {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(Instant, Instant, Outcome)>>,
}

impl Load {
    fn start(hl: HighLevel, location: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stop = Arc::clone(&stop);
            async move {
                let mut calls = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let (hl, location) = (hl.clone(), location.clone());
                    let started = Instant::now();
                    calls.push((
                        started,
                        tokio::spawn(async move {
                            let result =
                                tokio::time::timeout(CALL_BOUND, list_contacts(&hl, &location))
                                    .await;
                            (result, Instant::now())
                        }),
                    ));
                    tokio::time::sleep(EVERY).await;
                }
                let mut outcomes = Vec::new();
                for (started, call) in calls {
                    let (joined, ended) = match call.await {
                        Ok((result, ended)) => (Ok(result), ended),
                        Err(e) => (Err(e), Instant::now()),
                    };
                    outcomes.push((started, ended, outcome(joined, call_kind)));
                }
                outcomes
            }
        });
        Self { stop, task }
    }

    async fn finish(self) -> Vec<(Instant, Instant, Outcome)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the load task")
    }
}

/// Polls `check` until it holds, for at most `bound`.
async fn eventually(what: &str, bound: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Calls `attempt` every 100 ms until it succeeds, for at most [`RECOVERY_BOUND`]; its value
/// and how many attempts failed.
async fn recovered<T, E: std::fmt::Debug, F: Future<Output = Result<T, E>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> (T, Vec<E>) {
    let started = Instant::now();
    let mut failures = Vec::new();
    loop {
        match tokio::time::timeout(CALL_BOUND, attempt()).await {
            Ok(Ok(value)) => return (value, failures),
            Ok(Err(e)) => failures.push(e),
            Err(_) => panic!("{what}: an attempt hung"),
        }
        assert!(
            started.elapsed() < RECOVERY_BOUND,
            "{what}: not back within {RECOVERY_BOUND:?}; last error {:?}",
            failures.last()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- What the store holds at the end ----

/// Whether the stored session is marked for re-authorization (wrongly: the install stands),
/// and whether its refresh token is dead at the sandbox (a rotated token was lost): a new
/// process, with a lifecycle of its own on the same store, finds the session expired and
/// must refresh it with the stored refresh token.
async fn stored_session_fate(
    sandbox: &RunningSandbox,
    store: Arc<dyn TokenStore>,
    location: &str,
) -> (usize, usize) {
    let probe = handle(sandbox, app_config(sandbox).shared_store(store)).expect("probe handle");
    let resource = Resource::Location(location.to_owned());
    let app = probe.oauth_app().expect("oauth");
    let stored = app
        .session(resource.clone())
        .await
        .expect("the recovered store answers")
        .expect("a session is stored");
    if stored.session.needs_reauthorization() {
        eprintln!("the stored session is marked: {:?}", stored.session.status);
        return (1, 1);
    }
    age_session(&probe, resource).await.expect("aged");
    let refreshes = sandbox.oauth_stats().refreshes;
    match list_contacts(&probe, location).await {
        Ok(()) => {
            assert_eq!(
                sandbox.oauth_stats().refreshes,
                refreshes + 1,
                "the probe refreshed with the stored refresh token"
            );
            (0, 0)
        }
        Err(e) => {
            eprintln!("the stored refresh token is dead: {e}");
            (0, 1)
        }
    }
}

// ---- Killed and restarted ----

enum Server {
    Redis(RedisServer),
    Postgres(PostgresServer),
}

impl Server {
    fn start_redis() -> Self {
        Self::Redis(tokio::task::block_in_place(|| {
            RedisServer::start(None).expect("redis-server")
        }))
    }

    fn start_postgres() -> Self {
        Self::Postgres(tokio::task::block_in_place(|| {
            PostgresServer::start(None).expect("PostgreSQL (HIGHLEVEL_TEST_POSTGRES_BIN)")
        }))
    }

    fn url(&self) -> String {
        match self {
            Self::Redis(s) => s.url(),
            Self::Postgres(s) => s.url(),
        }
    }

    fn port(&self) -> u16 {
        match self {
            Self::Redis(s) => s.port(),
            Self::Postgres(s) => s.port(),
        }
    }

    /// The server's URL with the port of `proxy` instead.
    fn url_through(&self, proxy: &Proxy) -> String {
        self.url().replacen(
            &format!("127.0.0.1:{}", self.port()),
            &format!("127.0.0.1:{}", proxy.port()),
            1,
        )
    }

    fn kill(&mut self) {
        tokio::task::block_in_place(|| match self {
            Self::Redis(s) => s.kill(),
            Self::Postgres(s) => s.kill(),
        });
    }

    fn restart(&mut self) {
        tokio::task::block_in_place(|| match self {
            Self::Redis(s) => s.restart(),
            Self::Postgres(s) => s.restart(),
        })
        .expect("the server restarts");
    }

    async fn token_store(&self, url: &str, options: PostgresOptions) -> Arc<dyn TokenStore> {
        match self {
            Self::Redis(_) => Arc::new(RedisStore::connect(url).await.expect("redis store")),
            Self::Postgres(_) => Arc::new(
                PostgresStore::connect_with(url, options)
                    .await
                    .expect("postgres store"),
            ),
        }
    }

    async fn seen_store(&self) -> Arc<dyn SeenStore> {
        match self {
            Self::Redis(_) => Arc::new(
                RedisSeenStore::connect(&self.url())
                    .await
                    .expect("redis seen-store"),
            ),
            Self::Postgres(_) => Arc::new(
                PostgresSeenStore::connect(&self.url())
                    .await
                    .expect("postgres seen-store"),
            ),
        }
    }
}

/// OAuth calls and webhook checks before, during and after the server is killed (with a
/// refresh in flight at that moment) and restarted [`OUTAGE`] later.
async fn killed_and_restarted(mut server: Server, scenario: &str) {
    let sandbox = Sandbox::builder()
        .access_token_ttl(TOKEN_TTL)
        .without_rate_limits()
        .serve()
        .await
        .expect("sandbox");
    // HighLevel behind a proxy, to hold a refresh until the store is down.
    let front = Proxy::start(sandbox.address()).await.expect("proxy");
    let store = server
        .token_store(&server.url(), PostgresOptions::new())
        .await;
    let hl = HighLevel::builder()
        .base_url(format!("http://{}", front.address()))
        .oauth_app(
            app_config(&sandbox)
                .shared_store(Arc::clone(&store))
                .refresh_skew(REFRESH_SKEW),
        )
        .build()
        .expect("handle");
    install(&hl, UserType::Location).await.expect("installed");
    let location = sandbox.location_id().to_owned();
    let seen = server.seen_store().await;
    let delivered = "delivered-before-the-kill";
    assert_eq!(seen.first_sighting(delivered, SEEN_TTL).await, Ok(true));

    // Before: calls, and refreshes as tokens come due.
    let load = Load::start(hl.clone(), location.clone());
    eventually("a refresh before the kill", Duration::from_secs(10), || {
        sandbox.oauth_stats().refreshes >= 1
    })
    .await;

    // A refresh in flight when the store dies: held at HighLevel's door until then.
    let refresh = front.hold_next(b"=refresh_token");
    tokio::time::timeout(Duration::from_secs(10), refresh.reached())
        .await
        .expect("a refresh comes due within the tokens' lifetime");
    let refreshes_at_kill = sandbox.oauth_stats().refreshes;
    let killed = Instant::now();
    server.kill();
    refresh.release();

    // During: webhook checks (a replay of the id delivered before, and a new id) while down.
    let mut checks = Vec::new();
    let mut n = 0;
    while killed.elapsed() < OUTAGE {
        n += 1;
        for replay in [true, false] {
            let seen = Arc::clone(&seen);
            let id = if replay {
                delivered.to_owned()
            } else {
                format!("delivered-during-{n}")
            };
            checks.push((
                replay,
                tokio::spawn(async move {
                    let answer =
                        tokio::time::timeout(CALL_BOUND, seen.first_sighting(&id, SEEN_TTL)).await;
                    (answer, Instant::now())
                }),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let refreshes_while_down = sandbox.oauth_stats().refreshes - refreshes_at_kill;
    server.restart();
    let restarted = Instant::now();

    // After: the same handle and stores resume by themselves.
    let (_, failed_attempts) = recovered("OAuth calls on the same handle", || {
        list_contacts(&hl, &location)
    })
    .await;
    let back = Instant::now();
    let (replayed, _) = recovered("the seen-store", || {
        seen.first_sighting(delivered, SEEN_TTL)
    })
    .await;
    assert!(
        !replayed,
        "an id delivered before the kill is still refused as seen"
    );
    assert_eq!(
        seen.first_sighting("delivered-after-the-restart", SEEN_TTL)
            .await,
        Ok(true)
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let outcomes = load.finish().await;

    let mut calls = Row::new(&format!("{scenario}: OAuth calls"));
    for (started, ended, outcome) in &outcomes {
        calls.record(outcome);
        if *ended < killed || *started > back {
            assert!(
                matches!(outcome, Outcome::Ok),
                "calls before the kill and after the recovery succeed: {outcome:?}"
            );
        }
    }
    for e in &failed_attempts {
        calls.record(&Outcome::Failed(call_kind(e)));
    }
    let stats = sandbox.oauth_stats();
    assert!(
        refreshes_while_down >= 1,
        "the held refresh completed while the store was down: {stats:?}"
    );
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
    assert!(
        outcomes.iter().any(|(started, _, _)| *started > back),
        "calls ran after the recovery"
    );
    (calls.wrongly_marked, calls.lost) = stored_session_fate(&sandbox, store, &location).await;
    eprintln!(
        "{scenario}: down {:?}, calls back {:?} after the restart; {} refreshes, {} while down",
        restarted - killed,
        back - restarted,
        stats.refreshes,
        refreshes_while_down
    );
    calls.finish(outage_kind);

    let mut webhooks = Row::new(&format!("{scenario}: webhook checks"));
    let mut failed_while_down = 0;
    for (replay, check) in checks {
        let joined = check.await;
        let ended = joined.as_ref().map_or(restarted, |(_, ended)| *ended);
        let joined = joined.map(|(answer, _)| answer);
        if let Ok(Ok(Ok(true))) = &joined
            && replay
        {
            webhooks.lost += 1;
        }
        let outcome = outcome(joined.map(|a| a.map(|r| r.map(drop))), |e: &String| {
            seen_kind(e)
        });
        if matches!(outcome, Outcome::Failed(_)) && ended < restarted {
            failed_while_down += 1;
        }
        webhooks.record(&outcome);
    }
    webhooks.finish(outage_kind);
    assert!(
        failed_while_down > 0,
        "checks fail (typed) while the server is down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server: run through `cargo xtask test`"]
async fn redis_killed_and_restarted_mid_run() {
    killed_and_restarted(Server::start_redis(), "redis killed 3 s mid-run").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HIGHLEVEL_TEST_POSTGRES_BIN): run through `cargo xtask test`"]
async fn postgres_killed_and_restarted_mid_run() {
    killed_and_restarted(Server::start_postgres(), "postgres killed 3 s mid-run").await;
}

// ---- A stalled store write, through a proxy ----

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The write of the rotated tokens reaches the server this late.
    Stall(Duration),
    /// The write never arrives: every connection is cut and new ones refused this long.
    Cut(Duration),
}

/// Two processes (handles with their own lifecycles and lease holders, 100 ms leases) share
/// a store holding an expired session; the slow one reaches the store through a proxy. The
/// slow one refreshes, its write of the rotated tokens meets `fault`, and meanwhile the fast
/// one finds the lease expired and refreshes too (with the refresh token the slow one
/// spent). Then each calls again.
async fn stalled_write(server: Server, scenario: &str, pattern: &[u8], fault: Fault) {
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], server.port())))
        .await
        .expect("proxy");
    let sandbox = Sandbox::start().await.expect("sandbox");
    // The slow process's statements time out (past the lease) before a 1.5 s stall ends;
    // Redis's response timeout is 500 ms.
    let options = || PostgresOptions::new().statement_timeout(Duration::from_millis(500));
    let direct = server.token_store(&server.url(), options()).await;
    let proxied = server
        .token_store(&server.url_through(&proxy), options())
        .await;
    let location = sandbox.location_id().to_owned();
    let resource = Resource::Location(location.clone());
    let installer = handle(
        &sandbox,
        app_config(&sandbox).shared_store(Arc::clone(&direct)),
    )
    .expect("handle");
    install(&installer, UserType::Location)
        .await
        .expect("installed");
    age_session(&installer, resource.clone())
        .await
        .expect("aged");
    let lease = Duration::from_millis(100);
    let config = |store: &Arc<dyn TokenStore>| -> OAuthConfig {
        app_config(&sandbox)
            .shared_store(Arc::clone(store))
            .lease_ttl(lease)
    };
    let slow = handle(&sandbox, config(&proxied)).expect("handle");
    let fast = handle(&sandbox, config(&direct)).expect("handle");

    let write = match fault {
        Fault::Stall(stall) => proxy.hold_next_for(pattern, stall),
        Fault::Cut(_) => proxy.hold_next(pattern),
    };
    let slow_call = tokio::spawn({
        let (slow, location) = (slow.clone(), location.clone());
        async move { tokio::time::timeout(CALL_BOUND, list_contacts(&slow, &location)).await }
    });
    tokio::time::timeout(Duration::from_secs(10), write.reached())
        .await
        .expect("the slow process refreshed and is writing the rotated tokens");
    assert_eq!(sandbox.oauth_stats().refreshes, 1, "the slow one refreshed");
    if let Fault::Cut(_) = fault {
        proxy.refuse(true);
        proxy.drop_connections();
    }
    let mut row = Row::new(scenario);
    // The fast process waits out the slow one's lease, then refreshes.
    let fast_first = tokio::time::timeout(CALL_BOUND, list_contacts(&fast, &location)).await;
    row.record(&outcome(Ok(fast_first), call_kind));
    row.record(&outcome(slow_call.await, call_kind));
    match fault {
        Fault::Stall(_) => write.released().await,
        Fault::Cut(refused) => {
            tokio::time::sleep(refused).await;
            assert!(proxy.refused() > 0, "the slow process tried to reconnect");
            proxy.pass();
        }
    }
    // The slow process's next call writes the tokens it kept, once its store answers again
    // (PostgreSQL's reconnect backoff may still be running).
    let since = Instant::now();
    loop {
        let call = tokio::time::timeout(CALL_BOUND, list_contacts(&slow, &location)).await;
        let outcome = outcome(Ok(call), call_kind);
        row.record(&outcome);
        match outcome {
            Outcome::Failed(kind) if outage_kind(&kind) && since.elapsed() < RECOVERY_BOUND => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Back, or failing for good: what the store holds tells which.
            _ => break,
        }
    }
    // Then both processes call, and succeed.
    let mut after = Vec::new();
    for _ in 0..2 {
        for (name, hl) in [("slow", &slow), ("fast", &fast)] {
            let call = tokio::time::timeout(CALL_BOUND, list_contacts(hl, &location)).await;
            let outcome = outcome(Ok(call), call_kind);
            row.record(&outcome);
            after.push((name, outcome));
        }
    }
    let stats = sandbox.oauth_stats();
    assert_eq!(
        stats.refresh_token_reuses, 1,
        "{scenario}: the fast process presented the refresh token the slow one had spent \
         (the race happened): {stats:?}"
    );
    (row.wrongly_marked, row.lost) = stored_session_fate(&sandbox, direct, &location).await;
    drop(server);
    // The fast process's refresh token was spent by the slow one, so HighLevel refuses it:
    // that call may fail as needing re-authorization, but the mark must not last.
    row.finish(|kind| outage_kind(kind) || kind == "ReauthorizationNeeded");
    for (name, outcome) in after {
        assert!(
            matches!(outcome, Outcome::Ok),
            "{scenario}: the {name} process calls again: {outcome:?}"
        );
    }
}

const REDIS_PUT: &[u8] = b"EVALSHA";
const POSTGRES_PUT: &[u8] = b"UPDATE highlevel_oauth_sessions";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server: run through `cargo xtask test`"]
async fn redis_write_stalled_past_the_lease() {
    stalled_write(
        Server::start_redis(),
        "redis write stalled 400 ms (lease 100 ms)",
        REDIS_PUT,
        Fault::Stall(Duration::from_millis(400)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server: run through `cargo xtask test`"]
async fn redis_write_stalled_past_the_response_timeout() {
    stalled_write(
        Server::start_redis(),
        "redis write stalled 1.5 s (lease 100 ms, response timeout 500 ms)",
        REDIS_PUT,
        Fault::Stall(Duration::from_millis(1500)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server: run through `cargo xtask test`"]
async fn redis_connections_cut_during_the_write() {
    stalled_write(
        Server::start_redis(),
        "redis connections cut during the write, refused 1 s (lease 100 ms)",
        REDIS_PUT,
        Fault::Cut(Duration::from_secs(1)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HIGHLEVEL_TEST_POSTGRES_BIN): run through `cargo xtask test`"]
async fn postgres_write_stalled_past_the_lease() {
    stalled_write(
        Server::start_postgres(),
        "postgres write stalled 400 ms (lease 100 ms)",
        POSTGRES_PUT,
        Fault::Stall(Duration::from_millis(400)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HIGHLEVEL_TEST_POSTGRES_BIN): run through `cargo xtask test`"]
async fn postgres_write_stalled_past_the_statement_timeout() {
    stalled_write(
        Server::start_postgres(),
        "postgres write stalled 1.5 s (lease 100 ms, statement timeout 500 ms)",
        POSTGRES_PUT,
        Fault::Stall(Duration::from_millis(1500)),
    )
    .await;
}

// ---- The proxy itself ----

/// An echo server on loopback: what the proxy's controls are checked against.
async fn echo_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    address
}

/// Sends `bytes` and reads as many back, within `bound`.
async fn round_trip(
    stream: &mut tokio::net::TcpStream,
    bytes: &[u8],
    bound: Duration,
) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(bytes).await.map_err(|e| e.to_string())?;
    let mut back = vec![0u8; bytes.len()];
    tokio::time::timeout(bound, stream.read_exact(&mut back))
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(back)
}

#[tokio::test]
async fn the_proxy_passes_delays_holds_cuts_and_refuses() {
    use tokio::io::AsyncReadExt;
    let proxy = Proxy::start(echo_server().await).await.expect("proxy");
    let connect = || tokio::net::TcpStream::connect(proxy.address());
    let second = Duration::from_secs(1);
    let mut stream = connect().await.expect("connect");
    assert_eq!(
        round_trip(&mut stream, b"ping", second).await,
        Ok(b"ping".to_vec())
    );

    proxy.delay(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(
        round_trip(&mut stream, b"slow", second).await,
        Ok(b"slow".to_vec())
    );
    assert!(started.elapsed() >= Duration::from_millis(300), "delayed");
    proxy.pass();

    // A hold matches across chunks and holds only from the chunk that completes it.
    let hold = proxy.hold_next(b"EVALSHA");
    assert_eq!(
        round_trip(&mut stream, b"EVAL", second).await,
        Ok(b"EVAL".to_vec())
    );
    assert!(!hold.is_reached());
    assert_eq!(
        round_trip(&mut stream, b"SHA 1", Duration::from_millis(300)).await,
        Err("no answer in time".to_owned())
    );
    tokio::time::timeout(second, hold.reached())
        .await
        .expect("reached");
    hold.release();
    let mut back = [0u8; 5];
    tokio::time::timeout(second, stream.read_exact(&mut back))
        .await
        .expect("released")
        .expect("read");
    assert_eq!(&back, b"SHA 1");
    hold.released().await;

    // A timed hold lets go by itself.
    let timed = proxy.hold_next_for(b"x", Duration::from_millis(200));
    assert_eq!(
        round_trip(&mut stream, b"x", second).await,
        Ok(b"x".to_vec())
    );
    assert!(timed.is_reached());

    // Cut: open connections end; refused: new ones are closed on arrival.
    proxy.drop_connections();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(second, stream.read_to_end(&mut rest))
        .await
        .expect("closed, not hanging");
    assert!(read.is_err() || rest.is_empty(), "{read:?}");
    proxy.refuse(true);
    let mut refused = connect().await.expect("connect");
    let read = tokio::time::timeout(second, refused.read_to_end(&mut rest))
        .await
        .expect("closed, not hanging");
    assert!(read.is_err() || rest.is_empty(), "{read:?}");
    assert_eq!(proxy.refused(), 1);
    proxy.refuse(false);
    let mut again = connect().await.expect("connect");
    assert_eq!(
        round_trip(&mut again, b"back", second).await,
        Ok(b"back".to_vec())
    );
    assert_eq!(proxy.accepted(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HIGHLEVEL_TEST_POSTGRES_BIN): run through `cargo xtask test`"]
async fn postgres_connections_cut_during_the_write() {
    stalled_write(
        Server::start_postgres(),
        "postgres connections cut during the write, refused 1 s (lease 100 ms)",
        POSTGRES_PUT,
        Fault::Cut(Duration::from_secs(1)),
    )
    .await;
}
