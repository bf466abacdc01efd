//! Webhook stores on real Redis and PostgreSQL: a `webhookId` is accepted once across every
//! process sharing the seen-store, and a pending install is completed exactly once. Ignored by plain `cargo test`; `cargo xtask test` starts
//! both servers and runs these with `HIGHLEVEL_TEST_REDIS_URL` and
//! `HIGHLEVEL_TEST_POSTGRES_URL` set (`cargo xtask services` does the same for a shell).

use std::sync::Arc;
use std::time::Duration;

use highlevel::webhooks::SeenStore;
use highlevel::webhooks::installs::{
    PendingInstalls, PostgresPendingInstalls, RedisPendingInstalls,
};
use highlevel::webhooks::seen::{PostgresSeenStore, RedisSeenStore};

fn env_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run `cargo xtask test`"))
}

/// Two stores (two connections, as two processes have) race 32 times for each of 10 ids:
/// exactly one sighting of each is first; after the time to live the id is new again. Asking
/// whether an id was seen records nothing and sees what the other connection recorded. Leaves
/// 10 expired ids (`run`-1 to -9 and the probe) and one live (`run`-0).
async fn once_across_connections(a: Arc<dyn SeenStore>, b: Arc<dyn SeenStore>, run: &str) {
    let ttl = Duration::from_secs(2);
    let probe = format!("{run}-probe");
    assert_eq!(a.seen(&probe).await, Ok(false));
    assert_eq!(b.seen(&probe).await, Ok(false));
    assert_eq!(
        b.first_sighting(&probe, ttl).await,
        Ok(true),
        "asking recorded nothing"
    );
    assert_eq!(
        a.seen(&probe).await,
        Ok(true),
        "seen from the other connection"
    );
    assert_eq!(b.seen(&probe).await, Ok(true));
    let mut tasks = Vec::new();
    for id in 0..10 {
        for attempt in 0..32 {
            let store = if attempt % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            let id = format!("{run}-{id}");
            tasks.push(tokio::spawn(async move {
                store.first_sighting(&id, ttl).await.expect("store answers")
            }));
        }
    }
    let mut first = 0;
    for task in tasks {
        first += usize::from(task.await.expect("task"));
    }
    assert_eq!(first, 10, "each id is first exactly once");
    let id = format!("{run}-0");
    assert_eq!(a.first_sighting(&id, ttl).await, Ok(false));
    assert_eq!(b.seen(&id).await, Ok(true));
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    assert_eq!(a.seen(&id).await, Ok(false), "expired, so not seen");
    assert_eq!(a.seen(&probe).await, Ok(false));
    assert_eq!(
        b.first_sighting(&id, ttl).await,
        Ok(true),
        "expired, so new again"
    );
    assert_eq!(a.seen(&id).await, Ok(true));
    assert_eq!(a.seen(&format!("{run}-1")).await, Ok(false));
}

#[tokio::test]
#[ignore = "needs Redis: run through `cargo xtask test`"]
async fn redis_accepts_each_webhook_id_once_across_processes() {
    let url = env_url("HIGHLEVEL_TEST_REDIS_URL");
    let a = RedisSeenStore::connect(&url).await.expect("redis");
    let b = RedisSeenStore::connect(&url).await.expect("redis");
    let run = format!("redis-{}", std::process::id());
    once_across_connections(Arc::new(a), Arc::new(b), &run).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn postgres_accepts_each_webhook_id_once_across_processes() {
    let url = env_url("HIGHLEVEL_TEST_POSTGRES_URL");
    let (a, b) = tokio::join!(
        PostgresSeenStore::connect(&url),
        PostgresSeenStore::connect(&url)
    );
    let (a, b) = (a.expect("postgres"), b.expect("postgres"));
    let run = format!("postgres-{}", std::process::id());
    // Whatever earlier runs left expired goes first, so that what is swept below is this run's.
    a.sweep().await.expect("sweep");
    once_across_connections(Arc::new(a.clone()), Arc::new(b.clone()), &run).await;
    assert_eq!(
        a.sweep().await,
        Ok(10),
        "the 10 expired ids, not the live one"
    );
    assert_eq!(b.sweep().await, Ok(0), "nothing left to sweep");
    assert_eq!(
        b.seen(&format!("{run}-0")).await,
        Ok(true),
        "the live id stays"
    );
}

#[tokio::test]
#[ignore = "needs Redis: run through `cargo xtask test`"]
async fn a_verifier_on_redis_refuses_a_replay_seen_by_another_verifier() {
    use base64::Engine as _;
    let url = env_url("HIGHLEVEL_TEST_REDIS_URL");
    let pair = aws_lc_rs::signature::Ed25519KeyPair::generate().expect("key");
    let public = {
        use aws_lc_rs::signature::KeyPair as _;
        base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref())
    };
    let verifier = |store: RedisSeenStore| {
        highlevel::webhooks::WebhookVerifier::new()
            .ed25519_key(&public)
            .expect("key")
            .seen_store(store)
    };
    let first = verifier(RedisSeenStore::connect(&url).await.expect("redis"));
    let second = verifier(RedisSeenStore::connect(&url).await.expect("redis"));
    let body = serde_json::to_vec(&serde_json::json!({
        "type": "ContactDelete",
        "webhookId": format!("replayed-{}", std::process::id()),
        "timestamp": now_millis(),
    }))
    .expect("json");
    let signature = base64::engine::general_purpose::STANDARD.encode(pair.sign(&body).as_ref());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-ghl-signature",
        http::HeaderValue::from_str(&signature).expect("header"),
    );
    first.verify(&headers, &body).await.expect("first delivery");
    let error = second.verify(&headers, &body).await.expect_err("replay");
    assert!(
        matches!(error, highlevel::webhooks::WebhookError::Duplicate { .. }),
        "{error}"
    );
}

/// Now in epoch milliseconds, which the verifier reads as it reads RFC 3339 dates.
fn now_millis() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
        .to_string()
}

/// Adds, re-adds and removes; then two stores (two processes) race to take 20 locations:
/// each is taken exactly once.
async fn pending_installs_once(
    a: Arc<dyn PendingInstalls>,
    b: Arc<dyn PendingInstalls>,
    run: &str,
) {
    let company = format!("company-{run}");
    a.add(&company, "l1").await.expect("add");
    b.add(&company, "l2").await.expect("add");
    a.add(&company, "l1").await.expect("add again");
    b.remove(&company, "l2").await.expect("remove");
    assert_eq!(a.take_all(&company).await.expect("take"), ["l1"]);
    assert!(b.take_all(&company).await.expect("take").is_empty());
    for i in 0..20 {
        a.add(&company, &format!("loc{i:02}")).await.expect("add");
    }
    let (x, y) = tokio::join!(a.take_all(&company), b.take_all(&company));
    let mut all = x.expect("take");
    all.extend(y.expect("take"));
    all.sort();
    let expected: Vec<String> = (0..20).map(|i| format!("loc{i:02}")).collect();
    assert_eq!(all, expected, "every location taken exactly once");
}

#[tokio::test]
#[ignore = "needs Redis: run through `cargo xtask test`"]
async fn redis_pending_installs_are_completed_once() {
    let url = env_url("HIGHLEVEL_TEST_REDIS_URL");
    let a = RedisPendingInstalls::connect(&url).await.expect("redis");
    let b = RedisPendingInstalls::connect(&url).await.expect("redis");
    pending_installs_once(
        Arc::new(a),
        Arc::new(b),
        &format!("redis-{}", std::process::id()),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn postgres_pending_installs_are_completed_once() {
    let url = env_url("HIGHLEVEL_TEST_POSTGRES_URL");
    let (a, b) = tokio::join!(
        PostgresPendingInstalls::connect(&url),
        PostgresPendingInstalls::connect(&url)
    );
    let (a, b) = (a.expect("postgres"), b.expect("postgres"));
    pending_installs_once(
        Arc::new(a),
        Arc::new(b),
        &format!("pg-{}", std::process::id()),
    )
    .await;
}

/// Long enough that no id recorded here expires during another test's sweep (which
/// counts what it deletes); the ids are deleted by [`pg_forget`] instead.
const PG_LIVE: Duration = Duration::from_secs(24 * 60 * 60);

/// Deletes the seen ids starting with `prefix`.
async fn pg_forget(admin: &highlevel::runtime::postgres::Reconnecting, prefix: &str) {
    let pattern = format!("{prefix}%");
    admin
        .run(|client| async move {
            client
                .execute(
                    "DELETE FROM highlevel_webhooks_seen WHERE webhook_id LIKE $1",
                    &[&pattern],
                )
                .await
        })
        .await
        .expect("forget");
}

/// A second connection to PostgreSQL, for what a test does to a store's from outside.
async fn pg_admin(url: &str) -> highlevel::runtime::postgres::Reconnecting {
    highlevel::runtime::postgres::Reconnecting::connect(
        url,
        "SELECT 1",
        "test admin",
        highlevel::runtime::postgres::PostgresOptions::new(),
    )
    .await
    .expect("postgres admin")
}

/// `url` with an `application_name`, so that the admin connection can find its backend.
fn pg_named(url: &str, name: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={name}")
}

/// Ends every backend named `name` from the server side, as a database restart does; how
/// many.
async fn pg_terminate(admin: &highlevel::runtime::postgres::Reconnecting, name: &str) -> usize {
    let name = name.to_owned();
    admin
        .run(|client| async move {
            client
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    &[&name],
                )
                .await
        })
        .await
        .expect("terminate")
        .len()
}

/// Runs `statement` (with `$1` bound to `arg`) in a transaction left open on `admin`, holding
/// the row locks it takes until [`pg_rollback`].
async fn pg_lock(
    admin: &highlevel::runtime::postgres::Reconnecting,
    statement: &'static str,
    arg: &str,
) {
    let arg = arg.to_owned();
    admin
        .run(|client| async move {
            client.batch_execute("BEGIN").await?;
            client.query(statement, &[&arg]).await
        })
        .await
        .expect("lock");
}

async fn pg_rollback(admin: &highlevel::runtime::postgres::Reconnecting) {
    admin
        .run(|client| async move { client.batch_execute("ROLLBACK").await })
        .await
        .expect("rollback");
}

/// The call that finds the connection gone may fail; the next must not, within `bound`.
async fn pg_recovered<T: std::fmt::Debug>(
    first: Result<T, String>,
    next: impl std::future::Future<Output = Result<T, String>>,
) -> T {
    if let Err(e) = first {
        assert!(e.contains("postgres"), "{e}");
    }
    tokio::time::timeout(Duration::from_secs(3), next)
        .await
        .expect("no hang")
        .expect("the store reconnected")
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn postgres_seen_store_reconnects_after_the_server_drops_its_connection() {
    let url = env_url("HIGHLEVEL_TEST_POSTGRES_URL");
    let name = format!("hl-seen-drop-{}", now_millis());
    let store = PostgresSeenStore::connect(&pg_named(&url, &name))
        .await
        .expect("postgres");
    let admin = pg_admin(&url).await;
    let ttl = PG_LIVE;
    for round in 0..2 {
        let id = format!("{name}-{round}");
        assert_eq!(store.first_sighting(&id, ttl).await, Ok(true));
        assert_eq!(pg_terminate(&admin, &name).await, 1, "round {round}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = pg_recovered(store.seen(&id).await, store.seen(&id)).await;
        assert!(seen, "round {round}: recorded before the drop");
        assert_eq!(store.first_sighting(&id, ttl).await, Ok(false));
    }
    pg_forget(&admin, &name).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn postgres_pending_installs_reconnect_after_the_server_drops_their_connection() {
    let url = env_url("HIGHLEVEL_TEST_POSTGRES_URL");
    let name = format!("hl-pending-drop-{}", now_millis());
    let store = PostgresPendingInstalls::connect(&pg_named(&url, &name))
        .await
        .expect("postgres");
    let admin = pg_admin(&url).await;
    let company = format!("company-{name}");
    for round in 0..2 {
        store
            .add(&company, &format!("l{round}"))
            .await
            .expect("add");
        assert_eq!(pg_terminate(&admin, &name).await, 1, "round {round}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let listed = pg_recovered(store.list(&company).await, store.list(&company)).await;
        assert_eq!(listed.len(), round + 1, "round {round}: {listed:?}");
    }
    assert_eq!(store.take_all(&company).await.expect("take"), ["l0", "l1"]);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn postgres_webhook_stores_time_out_on_a_locked_row() {
    use highlevel::runtime::postgres::PostgresOptions;

    let url = env_url("HIGHLEVEL_TEST_POSTGRES_URL");
    let options = PostgresOptions::new().statement_timeout(Duration::from_millis(300));
    let seen = PostgresSeenStore::connect_with(&url, options.clone())
        .await
        .expect("postgres");
    let pending = PostgresPendingInstalls::connect_with(&url, options)
        .await
        .expect("postgres");
    let admin = pg_admin(&url).await;
    let run = format!("lock-{}", now_millis());
    let ttl = PG_LIVE;

    assert_eq!(seen.first_sighting(&run, ttl).await, Ok(true));
    pg_lock(
        &admin,
        "SELECT 1 FROM highlevel_webhooks_seen WHERE webhook_id = $1 FOR UPDATE",
        &run,
    )
    .await;
    let started = std::time::Instant::now();
    // ON CONFLICT DO UPDATE waits for the row's lock.
    let blocked = tokio::time::timeout(Duration::from_secs(3), seen.first_sighting(&run, ttl))
        .await
        .expect("an error, not a hang");
    assert!(
        blocked.as_ref().is_err_and(|e| e.contains("timed out")),
        "{blocked:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    pg_rollback(&admin).await;
    assert_eq!(seen.first_sighting(&run, ttl).await, Ok(false));
    pg_forget(&admin, &run).await;

    pending.add(&run, "l1").await.expect("add");
    pg_lock(
        &admin,
        "SELECT 1 FROM highlevel_pending_installs WHERE company_id = $1 FOR UPDATE",
        &run,
    )
    .await;
    let started = std::time::Instant::now();
    let blocked = tokio::time::timeout(Duration::from_secs(3), pending.remove(&run, "l1"))
        .await
        .expect("an error, not a hang");
    assert!(
        blocked.as_ref().is_err_and(|e| e.contains("timed out")),
        "{blocked:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    pg_rollback(&admin).await;
    assert_eq!(pending.take_all(&run).await.expect("take"), ["l1"]);
}
