//! Every token store keeps the same contract (versions compare-and-swap, one lease holder),
//! and several processes sharing one store refresh an expired session exactly once.
//!
//! Memory and file stores run everywhere. Redis and PostgreSQL need servers: `cargo xtask
//! test` installs and starts both on loopback and runs the ignored tests here with
//! `HIGHLEVEL_TEST_REDIS_URL` and `HIGHLEVEL_TEST_POSTGRES_URL` set (`cargo xtask services`
//! does the same for a shell).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use highlevel::auth::{
    Expected, FileStore, MemoryStore, PostgresStore, RedisStore, Resource, Session, SessionKey,
    StoreError, TokenStore, UserType,
};
use highlevel::secrecy::ExposeSecret;
use highlevel_sandbox::Sandbox;
use highlevel_tests::oauth::{age_session, app_config, handle, install};

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid_like())
}

fn uuid_like() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}{:x}", std::process::id())
}

fn session(token: &str) -> Session {
    Session::new(
        token,
        Some(format!("{token}-refresh")),
        SystemTime::now() + Duration::from_secs(3600),
        UserType::Location,
    )
}

/// The contract every store keeps.
async fn contract(store: Arc<dyn TokenStore>) {
    let key = SessionKey::new(unique("app"), Resource::Location("loc/1 ü".into()));
    let other = SessionKey::new(key.app.clone(), Resource::Company("loc/1 ü".into()));
    assert!(store.get(&key).await.expect("get").is_none());

    assert_eq!(
        store
            .put(&key, &session("a1"), Expected::Absent)
            .await
            .expect("first"),
        1
    );
    assert!(matches!(
        store.put(&key, &session("a2"), Expected::Absent).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store
            .put(&key, &session("a2"), Expected::Version(1))
            .await
            .expect("cas"),
        2
    );
    assert!(matches!(
        store.put(&key, &session("a3"), Expected::Version(1)).await,
        Err(StoreError::Conflict { .. })
    ));
    let stored = store.get(&key).await.expect("get").expect("stored");
    assert_eq!(stored.version, 2);
    assert_eq!(stored.session.access_token.expose_secret(), "a2");
    assert_eq!(
        stored
            .session
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret()),
        Some("a2-refresh")
    );
    assert!(
        store.get(&other).await.expect("get").is_none(),
        "a company and a location with the same id are different keys"
    );

    // Twenty writers racing on one version: exactly one wins.
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .put(&key, &session(&format!("r{i}")), Expected::Version(2))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.expect("task") {
            Ok(3) => won += 1,
            Err(StoreError::Conflict { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);

    // Leases: one holder at a time, re-entrant for the holder, released only by it, and
    // free again once expired.
    let ttl = Duration::from_millis(400);
    assert!(store.try_lease(&key, "p1", ttl).await.expect("lease"));
    assert!(!store.try_lease(&key, "p2", ttl).await.expect("lease"));
    assert!(store.try_lease(&key, "p1", ttl).await.expect("lease"));
    store.release(&key, "p2").await.expect("release");
    assert!(!store.try_lease(&key, "p2", ttl).await.expect("lease"));
    store.release(&key, "p1").await.expect("release");
    assert!(store.try_lease(&key, "p2", ttl).await.expect("lease"));
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert!(
        store.try_lease(&key, "p3", ttl).await.expect("lease"),
        "an expired lease is free"
    );

    store.delete(&key).await.expect("delete");
    assert!(store.get(&key).await.expect("get").is_none());
    store.delete(&key).await.expect("deleting nothing is fine");
}

fn env_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through `cargo xtask test` or `cargo xtask services`")
    })
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique(&format!("highlevel-{name}-")));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    contract(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn file_store_keeps_the_contract_with_private_files() {
    let dir = scratch_dir("store");
    contract(Arc::new(FileStore::new(&dir))).await;
    let store = FileStore::new(&dir);
    // Ids that would name a file outside the directory if used as paths.
    let marker = unique("escaped-");
    let hostile = [
        format!("../{marker}"),
        format!("../../{marker}"),
        format!("/tmp/{marker}"),
        format!("..\\{marker}"),
        format!("sub/../../{marker}"),
    ];
    let outside_before = walk_named(&std::env::temp_dir(), &marker, &dir);
    for (i, id) in hostile.iter().enumerate() {
        let key = SessionKey::new("app", Resource::Location(id.clone()));
        store
            .put(&key, &session(&format!("f{i}")), Expected::Absent)
            .await
            .expect("put");
        let back = store.get(&key).await.expect("get").expect("stored");
        assert_eq!(back.session.access_token.expose_secret(), format!("f{i}"));
    }
    assert!(outside_before.is_empty());
    let outside = walk_named(&std::env::temp_dir(), &marker, &dir);
    assert!(outside.is_empty(), "files outside the store: {outside:?}");
    assert!(
        !std::path::Path::new("/tmp").join(&marker).exists(),
        "an absolute id escaped the store"
    );
    let files: Vec<_> = walk(&dir);
    let sessions = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
        .count();
    assert!(
        sessions >= hostile.len(),
        "each hostile id has its own file inside the store: {files:?}"
    );
    #[cfg(unix)]
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Paths under `root`, outside `inside`, whose name holds `marker` (one level deep and the
/// directories of `root` itself: where a `..` in an id would land).
fn walk_named(
    root: &std::path::Path,
    marker: &str,
    inside: &std::path::Path,
) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.starts_with(inside) {
            continue;
        }
        if path.to_string_lossy().contains(marker) {
            found.push(path.clone());
        }
        if path.is_dir()
            && path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("highlevel-"))
        {
            found.extend(
                walk(&path)
                    .into_iter()
                    .filter(|p| p.to_string_lossy().contains(marker)),
            );
        }
    }
    found
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
#[ignore = "needs Redis: run through `cargo xtask test`"]
async fn redis_store_keeps_the_contract() {
    let store = RedisStore::connect(&env_url("HIGHLEVEL_TEST_REDIS_URL"))
        .await
        .expect("redis");
    contract(Arc::new(store)).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn postgres_store_keeps_the_contract() {
    let store = PostgresStore::connect(&env_url("HIGHLEVEL_TEST_POSTGRES_URL"))
        .await
        .expect("postgres");
    contract(Arc::new(store)).await;
}

const PROCESSES: usize = 4;
const CALLERS: usize = 50;

/// Installs a location on a fresh sandbox through `store`, ages its session, then lets
/// [`PROCESSES`] worker processes with [`CALLERS`] concurrent calls each loose on it at one
/// instant. Exactly one refresh may reach the sandbox, and no refresh token may be reused.
async fn processes_share_one_refresh(store: Arc<dyn TokenStore>, store_arg: &str) {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let app_id = unique("app");
    let config = app_config(&sandbox)
        .app_id(&app_id)
        .shared_store(Arc::clone(&store));
    let hl = handle(&sandbox, config).expect("handle");
    install(&hl, UserType::Location).await.expect("installed");
    let location = sandbox.location_id().to_owned();
    age_session(&hl, Resource::Location(location.clone()))
        .await
        .expect("aged");

    let start_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 1_500;
    let started = Instant::now();
    let workers: Vec<_> = (0..PROCESSES)
        .map(|_| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_oauth_worker"))
                .args(["--sandbox", sandbox.url()])
                .args(["--client-id", &sandbox.client_id()])
                .args(["--client-secret", &sandbox.client_secret()])
                .args(["--app-id", &app_id])
                .args(["--store", store_arg])
                .args(["--location", &location])
                .args(["--callers", &CALLERS.to_string()])
                .args(["--start-at-ms", &start_at.to_string()])
                .output()
        })
        .collect();
    let mut succeeded = 0;
    for worker in workers {
        let output = worker.await.expect("worker runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "worker failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
        succeeded += stdout
            .trim()
            .strip_prefix("ok ")
            .and_then(|n| n.parse::<usize>().ok())
            .expect("ok N");
    }
    let stats = sandbox.oauth_stats();
    println!(
        "{PROCESSES} processes x {CALLERS} expired callers via {}: {} refresh(es), {} reuse(s), {succeeded} calls ok, {:.2?}",
        store_arg.split(':').next().unwrap_or("file"),
        stats.refreshes,
        stats.refresh_token_reuses,
        started.elapsed()
    );
    assert_eq!(succeeded, PROCESSES * CALLERS);
    assert_eq!(stats.refreshes, 1, "{stats:?}");
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn processes_sharing_a_file_store_refresh_once() {
    let dir = scratch_dir("shared");
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(&dir));
    processes_share_one_refresh(store, &dir.display().to_string()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Redis: run through `cargo xtask test`"]
async fn processes_sharing_redis_refresh_once() {
    let url = env_url("HIGHLEVEL_TEST_REDIS_URL");
    let store = RedisStore::connect(&url).await.expect("redis");
    processes_share_one_refresh(Arc::new(store), &url).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn processes_sharing_postgres_refresh_once() {
    let url = env_url("HIGHLEVEL_TEST_POSTGRES_URL");
    let store = PostgresStore::connect(&url).await.expect("postgres");
    processes_share_one_refresh(Arc::new(store), &url).await;
}

/// Set in the child processes of [`file_store_stale_lock_is_broken_by_one_process`]: the
/// store directory they race in.
const STALE_LOCK_CHILD_DIR: &str = "HIGHLEVEL_TEST_STALE_LOCK_DIR";
/// Set with [`STALE_LOCK_CHILD_DIR`]: the instant (ms since the epoch) round 0 starts.
const STALE_LOCK_CHILD_START: &str = "HIGHLEVEL_TEST_STALE_LOCK_START";
const STALE_LOCK_PROCESSES: usize = 4;
const STALE_LOCK_ROUNDS: usize = 100;
/// Keys raced on at once in each round, for more races per round.
const STALE_LOCK_KEYS: usize = 8;
const STALE_LOCK_ROUND_MS: u128 = 50;

fn stale_lock_key(round: usize, k: usize) -> SessionKey {
    SessionKey::new("app", Resource::Location(format!("loc{round}_{k}")))
}

fn epoch_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// [`STALE_LOCK_PROCESSES`] processes find the same stale `.lock` at one instant, in each
/// round: all try to break it and to write version 2 over version 1. The lock may go to one
/// of them at a time, so exactly one write wins and the others are conflicts. (When two break
/// the lock, both read version 1 and both "win".)
#[tokio::test]
async fn file_store_stale_lock_is_broken_by_one_process() {
    let dir = scratch_dir("stale-lock");
    let store = FileStore::new(&dir);
    for round in 0..STALE_LOCK_ROUNDS {
        for k in 0..STALE_LOCK_KEYS {
            let key = stale_lock_key(round, k);
            store
                .put(&key, &session("v1"), Expected::Absent)
                .await
                .expect("version 1");
            // What a process that died holding the lock leaves behind.
            let lock = dir
                .join("app")
                .join(format!("location-loc{round}_{k}.lock"));
            let file = std::fs::File::create(&lock).expect("stale lock");
            file.set_modified(SystemTime::now() - Duration::from_secs(60))
                .expect("aged");
        }
    }
    let start = epoch_millis() + 1_500;
    let exe = std::env::current_exe().expect("test binary");
    let child_test = crate::test_name(module_path!(), "stale_lock_race_child");
    let children: Vec<_> = (0..STALE_LOCK_PROCESSES)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([child_test.as_str(), "--exact", "--nocapture"])
                .env(STALE_LOCK_CHILD_DIR, &dir)
                .env(STALE_LOCK_CHILD_START, start.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("child")
        })
        .collect();
    let mut wins = vec![0; STALE_LOCK_ROUNDS * STALE_LOCK_KEYS];
    let mut conflicts = vec![0; STALE_LOCK_ROUNDS * STALE_LOCK_KEYS];
    for child in children {
        let out = child.wait_with_output().expect("child ran");
        assert!(out.status.success(), "child failed: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("ROUND") {
                continue;
            }
            let race: usize = words.next().and_then(|r| r.parse().ok()).expect("race");
            match words.next() {
                Some("won") => wins[race] += 1,
                Some("conflict") => conflicts[race] += 1,
                other => panic!("race {race}: {other:?}"),
            }
        }
    }
    let races = STALE_LOCK_ROUNDS * STALE_LOCK_KEYS;
    let broken_twice: Vec<_> = (0..races).filter(|&r| wins[r] > 1).collect();
    assert!(
        broken_twice.is_empty(),
        "two processes held the lock at once in {} of {races} races: {broken_twice:?}",
        broken_twice.len()
    );
    for race in 0..races {
        assert_eq!(
            (wins[race], conflicts[race]),
            (1, STALE_LOCK_PROCESSES - 1),
            "race {race}: one write wins, the others conflict"
        );
        let key = stale_lock_key(race / STALE_LOCK_KEYS, race % STALE_LOCK_KEYS);
        let stored = store.get(&key).await.expect("get").expect("stored");
        assert_eq!(stored.version, 2);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child side of [`file_store_stale_lock_is_broken_by_one_process`]; does nothing
/// unless that test started this process.
#[tokio::test]
async fn stale_lock_race_child() {
    let Ok(dir) = std::env::var(STALE_LOCK_CHILD_DIR) else {
        return;
    };
    let start: u128 = std::env::var(STALE_LOCK_CHILD_START)
        .expect("start")
        .parse()
        .expect("start is a number");
    let store = FileStore::new(dir);
    let me = std::process::id();
    for round in 0..STALE_LOCK_ROUNDS {
        let at = start + round as u128 * STALE_LOCK_ROUND_MS;
        // Spinning, not sleeping: both processes must reach the lock within microseconds.
        while epoch_millis() < at {
            std::hint::spin_loop();
        }
        let puts = (0..STALE_LOCK_KEYS).map(|k| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = stale_lock_key(round, k);
                let result = store
                    .put(&key, &session(&format!("p{me}")), Expected::Version(1))
                    .await;
                (k, result)
            })
        });
        for put in futures_util::future::join_all(puts).await {
            let (k, result) = put.expect("task");
            let race = round * STALE_LOCK_KEYS + k;
            match result {
                Ok(2) => println!("ROUND {race} won"),
                Err(StoreError::Conflict { .. }) => println!("ROUND {race} conflict"),
                other => println!("ROUND {race} unexpected {other:?}"),
            }
        }
    }
}

/// Set when [`file_store_unwritable_directory_is_a_typed_error`] runs itself again as an
/// unprivileged user.
const UNWRITABLE_CHILD: &str = "HIGHLEVEL_TEST_UNWRITABLE_CHILD";
/// Printed when the chmod did stop writes, so the parent knows the child tested that.
const UNWRITABLE_BLOCKED: &str = "UNWRITABLE chmod 0500 blocks writes";

/// As root, where chmod 0500 does not stop writes: the test again as `nobody` (uid 65534),
/// where it does. Skipped, with a note, where this process may not change its user.
#[cfg(unix)]
fn unwritable_as_nobody() {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().expect("test binary");
    let test = crate::test_name(
        module_path!(),
        "file_store_unwritable_directory_is_a_typed_error",
    );
    let child = std::process::Command::new(exe)
        .args([test.as_str(), "--exact", "--nocapture"])
        .env(UNWRITABLE_CHILD, "1")
        .env("TMPDIR", "/tmp")
        .uid(65534)
        .gid(65534)
        .output();
    match child {
        Ok(out) => {
            assert!(out.status.success(), "as nobody: {out:?}");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(UNWRITABLE_BLOCKED),
                "as nobody the chmod did not stop writes: {out:?}"
            );
        }
        Err(e) => eprintln!("cannot run the test as nobody ({e}): tested as root only"),
    }
}

/// A store whose directory cannot be written: put and try_lease are a typed error (an I/O
/// error from the backend, not a panic caught by the blocking pool), and the session stored
/// before still reads back.
#[tokio::test]
async fn file_store_unwritable_directory_is_a_typed_error() {
    fn io_backend_error(result: Result<impl std::fmt::Debug, StoreError>, what: &str) {
        match result {
            Err(StoreError::Backend { store, source }) => {
                assert_eq!(store, "file");
                assert!(
                    source.downcast_ref::<std::io::Error>().is_some(),
                    "{what}: not an I/O error: {source}"
                );
            }
            other => panic!("{what}: expected a backend error, got {other:?}"),
        }
    }
    let dir = scratch_dir("unwritable");
    let store = FileStore::new(&dir);
    let key = SessionKey::new("app", Resource::Location("loc1".into()));
    store
        .put(&key, &session("kept"), Expected::Absent)
        .await
        .expect("version 1");
    let folder = dir.join("app");
    let unwritable = {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o500))
                .expect("chmod");
            // root writes through a 0500 directory: probe before relying on the chmod.
            let probe = folder.join("probe");
            let blocked = std::fs::File::create(&probe).is_err();
            let _ = std::fs::remove_file(&probe);
            blocked
        }
        #[cfg(not(unix))]
        {
            false
        }
    };
    if unwritable {
        println!("{UNWRITABLE_BLOCKED}");
        io_backend_error(
            store
                .put(&key, &session("lost"), Expected::Version(1))
                .await,
            "put",
        );
        io_backend_error(
            store
                .try_lease(&key, "holder", Duration::from_secs(5))
                .await,
            "try_lease",
        );
    } else {
        // Running as root (or without Unix modes): a store whose directory cannot be
        // created, because its parent is a regular file, fails the same way.
        let file = dir.join("not-a-directory");
        std::fs::write(&file, b"").expect("file");
        let blocked = FileStore::new(file.join("store"));
        io_backend_error(
            blocked.put(&key, &session("lost"), Expected::Absent).await,
            "put",
        );
        io_backend_error(
            blocked
                .try_lease(&key, "holder", Duration::from_secs(5))
                .await,
            "try_lease",
        );
        #[cfg(unix)]
        if std::env::var_os(UNWRITABLE_CHILD).is_none() {
            unwritable_as_nobody();
        }
    }
    let kept = store.get(&key).await.expect("get").expect("still stored");
    assert_eq!(kept.version, 1);
    assert_eq!(kept.session.access_token.expose_secret(), "kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700));
    }
    let _ = std::fs::remove_dir_all(&dir);
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

#[tokio::test]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn postgres_store_reconnects_after_the_server_drops_its_connection() {
    let url = env_url("HIGHLEVEL_TEST_POSTGRES_URL");
    let name = unique("hl-token-drop-");
    let store = PostgresStore::connect(&pg_named(&url, &name))
        .await
        .expect("postgres");
    let admin = pg_admin(&url).await;
    let key = SessionKey::new(unique("app"), Resource::Location("loc-drop".into()));
    assert_eq!(
        store
            .put(&key, &session("d1"), Expected::Absent)
            .await
            .expect("put"),
        1
    );
    for round in 0..2 {
        assert_eq!(pg_terminate(&admin, &name).await, 1, "round {round}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The call that finds the connection gone may fail, transiently; the next reconnects.
        if let Err(e) = store.get(&key).await {
            let source = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<highlevel::runtime::postgres::PostgresError>());
            assert!(
                source.is_some_and(|s| s.is_transient()),
                "round {round}: {e:?}"
            );
        }
        let stored = tokio::time::timeout(Duration::from_secs(3), store.get(&key))
            .await
            .expect("no hang")
            .expect("the store reconnected")
            .expect("the session is still there");
        assert_eq!(stored.version, 1 + round);
        assert_eq!(
            store
                .put(&key, &session("d2"), Expected::Version(1 + round))
                .await
                .expect("put after the reconnect"),
            2 + round
        );
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run through `cargo xtask test`"]
async fn postgres_store_statements_time_out_on_a_locked_row() {
    use highlevel::runtime::postgres::{PostgresError, PostgresOptions};

    let url = env_url("HIGHLEVEL_TEST_POSTGRES_URL");
    let store = PostgresStore::connect_with(
        &url,
        PostgresOptions::new().statement_timeout(Duration::from_millis(300)),
    )
    .await
    .expect("postgres");
    let admin = pg_admin(&url).await;
    let key = SessionKey::new(unique("app"), Resource::Location("loc-lock".into()));
    store
        .put(&key, &session("l1"), Expected::Absent)
        .await
        .expect("put");
    let app = key.app.clone();
    admin
        .run(|client| async move {
            client.batch_execute("BEGIN").await?;
            client
                .query(
                    "SELECT 1 FROM highlevel_oauth_sessions \
                     WHERE app = $1 AND kind = 'location' AND resource = 'loc-lock' FOR UPDATE",
                    &[&app],
                )
                .await
        })
        .await
        .expect("lock the row");

    let started = Instant::now();
    let blocked = tokio::time::timeout(
        Duration::from_secs(3),
        store.put(&key, &session("l2"), Expected::Version(1)),
    )
    .await
    .expect("a typed error, not a hang");
    let elapsed = started.elapsed();
    let Err(StoreError::Backend { source, .. }) = blocked else {
        panic!("expected a backend error, got {blocked:?}");
    };
    let error = source
        .downcast_ref::<PostgresError>()
        .expect("a PostgresError");
    assert!(matches!(error, PostgresError::Timeout { .. }), "{error:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");

    admin
        .run(|client| async move { client.batch_execute("ROLLBACK").await })
        .await
        .expect("unlock");
    assert_eq!(
        store
            .put(&key, &session("l2"), Expected::Version(1))
            .await
            .expect("put once unlocked"),
        2
    );
}

/// A process that died while breaking a stale lock leaves its claim behind as well; the
/// next writer breaks both and gets the lock, instead of waiting out the lock timeout.
#[tokio::test]
async fn file_store_breaks_a_stale_lock_whose_breaker_died() {
    let dir = scratch_dir("stale-claim");
    let store = FileStore::new(&dir);
    let key = SessionKey::new("app", Resource::Location("loc1".into()));
    store
        .put(&key, &session("v1"), Expected::Absent)
        .await
        .expect("version 1");
    let folder = dir.join("app");
    for name in ["location-loc1.lock", "location-loc1.lock.claim-dead"] {
        std::fs::write(folder.join(name), b"dead").expect("left behind");
        let file = std::fs::File::options()
            .write(true)
            .open(folder.join(name))
            .expect("open");
        file.set_modified(SystemTime::now() - Duration::from_secs(60))
            .expect("aged");
    }
    let started = Instant::now();
    assert_eq!(
        store
            .put(&key, &session("v2"), Expected::Version(1))
            .await
            .expect("the stale lock and claim are broken"),
        2
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not wait out the lock"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
