//! The shared stores over TLS: Redis (`rediss://`) and PostgreSQL, each a server of the
//! test's own that accepts TLS only, on certificates the test generates with `openssl`.
//!
//! Run through `cargo xtask test`, or by hand:
//! `HIGHLEVEL_TEST_POSTGRES_BIN=/usr/lib/postgresql/15/bin cargo test -p highlevel-tests
//! --test integration -- --ignored store_tls::` (needs `redis-server` built with TLS,
//! PostgreSQL and `openssl`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use highlevel::auth::{
    Expected, PostgresStore, RedisStore, Resource, Session, SessionKey, StoreError, TokenStore,
    UserType,
};
use highlevel::runtime::postgres::{PostgresError, PostgresOptions, PostgresTls, Reconnecting};
use highlevel::runtime::redis::{RedisConnectError, RedisOptions};
use highlevel::runtime::tls::TrustedRoots;
use highlevel::secrecy::ExposeSecret;
use highlevel::webhooks::SeenStore;
use highlevel::webhooks::seen::{PostgresSeenStore, RedisSeenStore};
use highlevel_sandbox::Sandbox;
use highlevel_tests::oauth::{app_config, handle, install};
use highlevel_tests::servers::{Certificates, PostgresServer, RedisServer};

/// Nothing here may hang: a failing connect must fail, typed, well within this.
const BOUND: Duration = Duration::from_secs(30);

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}{nanos:x}{:x}", std::process::id())
}

fn roots(certs: &Certificates) -> TrustedRoots {
    TrustedRoots::from_pem(certs.ca_pem().expect("ca pem")).expect("the CA parses")
}

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish in {BOUND:?}"))
}

/// A put, a get of what was put, a compare-and-swap conflict, a delete.
async fn round_trip(store: &dyn TokenStore) {
    let key = SessionKey::new(unique("app"), Resource::Location(unique("loc")));
    let session = Session::new(
        "tls-access",
        Some("tls-refresh".to_owned()),
        SystemTime::now() + Duration::from_secs(3600),
        UserType::Location,
    );
    assert_eq!(
        store
            .put(&key, &session, Expected::Absent)
            .await
            .expect("put"),
        1
    );
    let read = store.get(&key).await.expect("get").expect("stored");
    assert_eq!(read.version, 1);
    assert_eq!(read.session.access_token.expose_secret(), "tls-access");
    assert!(matches!(
        store.put(&key, &session, Expected::Absent).await,
        Err(StoreError::Conflict { .. })
    ));
    store.delete(&key).await.expect("delete");
    assert!(store.get(&key).await.expect("get").is_none());
}

fn redis_cause(error: &StoreError) -> &RedisConnectError {
    match error {
        StoreError::Backend { store, source } => {
            assert_eq!(*store, "redis");
            source
                .downcast_ref::<RedisConnectError>()
                .unwrap_or_else(|| panic!("not a RedisConnectError: {source:?}"))
        }
        other => panic!("not a backend error: {other:?}"),
    }
}

fn postgres_cause(error: &StoreError) -> &PostgresError {
    match error {
        StoreError::Backend { store, source } => {
            assert_eq!(*store, "postgres");
            source
                .downcast_ref::<PostgresError>()
                .unwrap_or_else(|| panic!("not a PostgresError: {source:?}"))
        }
        other => panic!("not a backend error: {other:?}"),
    }
}

// --- Redis -------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs redis-server with TLS and openssl: run through `cargo xtask test`"]
async fn redis_token_store_over_rediss_trusting_the_ca() {
    let certs = Certificates::generate().expect("certificates");
    let server = RedisServer::start(Some(&certs)).expect("redis over TLS");
    let url = server.url();
    assert!(url.starts_with("rediss://"), "{url}");

    let options = RedisOptions::new().trust(roots(&certs));
    let store = bounded("connect", RedisStore::connect_with(&url, options))
        .await
        .expect("rediss:// trusting the CA connects");
    round_trip(&store).await;

    // A full install and an API call through the sandbox, the session kept in Redis over TLS.
    let sandbox = Sandbox::start().await.expect("sandbox");
    let store: Arc<dyn TokenStore> = Arc::new(store);
    let app_id = unique("app");
    let config = app_config(&sandbox)
        .app_id(&app_id)
        .shared_store(Arc::clone(&store));
    let hl = handle(&sandbox, config).expect("handle");
    install(&hl, UserType::Location).await.expect("installed");
    let key = SessionKey::new(
        app_id.clone(),
        Resource::Location(sandbox.location_id().to_owned()),
    );
    let stored = store
        .get(&key)
        .await
        .expect("get")
        .expect("installed session");
    assert!(!stored.session.access_token.expose_secret().is_empty());
}

#[tokio::test]
#[ignore = "needs redis-server with TLS and openssl: run through `cargo xtask test`"]
async fn redis_untrusted_ca_and_plain_url_fail_typed() {
    let certs = Certificates::generate().expect("certificates");
    let server = RedisServer::start(Some(&certs)).expect("redis over TLS");

    // The system's authorities do not include the test's: the handshake fails, typed.
    let error = bounded("connect", RedisStore::connect(&server.url()))
        .await
        .expect_err("an untrusted CA is refused");
    let cause = redis_cause(&error);
    assert!(
        matches!(cause, RedisConnectError::Tls(_)),
        "not a TLS failure: {cause:?}"
    );

    // Clear text to the TLS port: no connection that works.
    let plain = format!("redis://127.0.0.1:{}/", server.port());
    let options = RedisOptions::new().response_timeout(Duration::from_millis(300));
    match bounded("connect", RedisStore::connect_with(&plain, options)).await {
        Err(error) => {
            let cause = redis_cause(&error);
            assert!(
                matches!(cause, RedisConnectError::Connect(_)),
                "not a connect failure: {cause:?}"
            );
        }
        // Connecting sends nothing the server must answer; the first command then fails.
        Ok(store) => {
            let key = SessionKey::new(unique("app"), Resource::Location(unique("loc")));
            let error = bounded("get", store.get(&key))
                .await
                .expect_err("clear text to a TLS port fails");
            assert!(
                matches!(error, StoreError::Backend { store: "redis", .. }),
                "{error:?}"
            );
        }
    }

    // Roots for a URL that is not rediss:// are refused rather than silently unused.
    let options = RedisOptions::new().trust(roots(&certs));
    let error = bounded("connect", RedisStore::connect_with(&plain, options))
        .await
        .expect_err("roots need rediss://");
    assert!(matches!(redis_cause(&error), RedisConnectError::Config(_)));
}

#[tokio::test]
#[ignore = "needs redis-server with TLS and openssl: run through `cargo xtask test`"]
async fn webhook_redis_stores_over_rediss() {
    let certs = Certificates::generate().expect("certificates");
    let server = RedisServer::start(Some(&certs)).expect("redis over TLS");
    let options = RedisOptions::new().trust(roots(&certs));

    let seen = bounded(
        "connect",
        RedisSeenStore::connect_with(&server.url(), options.clone()),
    )
    .await
    .expect("seen-store over TLS");
    let id = unique("wh");
    let ttl = Duration::from_secs(60);
    assert!(seen.first_sighting(&id, ttl).await.expect("first"));
    assert!(!seen.first_sighting(&id, ttl).await.expect("repeat"));
    assert!(seen.seen(&id).await.expect("seen"));

    let pending = bounded(
        "connect",
        highlevel::webhooks::installs::RedisPendingInstalls::connect_with(
            &server.url(),
            options.clone(),
        ),
    )
    .await
    .expect("pending installs over TLS");
    use highlevel::webhooks::installs::PendingInstalls as _;
    let company = unique("co");
    pending.add(&company, "loc-1").await.expect("add");
    assert_eq!(
        pending.list(&company).await.expect("list"),
        vec!["loc-1".to_owned()]
    );

    let error = bounded("connect", RedisSeenStore::connect(&server.url()))
        .await
        .expect_err("an untrusted CA is refused");
    assert!(error.contains("TLS"), "{error}");
}

// --- PostgreSQL --------------------------------------------------------------------------

fn with_sslmode(url: &str, mode: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    format!("{base}?sslmode={mode}")
}

/// Whether the session of a connection made with `url` and `options` is encrypted, as the
/// server sees it.
async fn session_is_encrypted(url: &str, options: PostgresOptions) -> Result<bool, PostgresError> {
    let connection = Reconnecting::connect(url, "SELECT 1", "tls probe", options).await?;
    connection
        .run(|client| async move {
            client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .map(|row| row.get::<_, bool>(0))
        })
        .await
}

#[tokio::test]
#[ignore = "needs PostgreSQL and openssl: run through `cargo xtask test`"]
async fn postgres_token_store_over_tls_trusting_the_ca() {
    let certs = Certificates::generate().expect("certificates");
    let server = PostgresServer::start(Some(&certs)).expect("postgres over TLS");
    let url = server.url();
    assert!(url.ends_with("sslmode=require"), "{url}");
    let tls = PostgresTls::Trust(roots(&certs));

    let store = bounded(
        "connect",
        PostgresStore::connect_with(&url, PostgresOptions::new().tls(tls.clone())),
    )
    .await
    .expect("TLS trusting the CA connects");
    round_trip(&store).await;

    // The server says the session is encrypted: with `require`, and with `prefer` (the
    // default) once a TLS setting is given.
    let encrypted = bounded(
        "probe",
        session_is_encrypted(&url, PostgresOptions::new().tls(tls.clone())),
    )
    .await
    .expect("probe over TLS");
    assert!(encrypted, "sslmode=require gave a plain session");
    let encrypted = bounded(
        "probe",
        session_is_encrypted(
            &with_sslmode(&url, "prefer"),
            PostgresOptions::new().tls(tls),
        ),
    )
    .await
    .expect("probe with prefer");
    assert!(
        encrypted,
        "sslmode=prefer with a TLS setting gave a plain session"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL and openssl: run through `cargo xtask test`"]
async fn postgres_plain_and_untrusted_fail_typed() {
    let certs = Certificates::generate().expect("certificates");
    let server = PostgresServer::start(Some(&certs)).expect("postgres over TLS");
    let url = server.url();
    let tls = PostgresTls::Trust(roots(&certs));

    // `sslmode=disable` stays plain, with or without a TLS setting: the hostssl-only server
    // refuses it (no pg_hba.conf entry for an unencrypted connection).
    for options in [PostgresOptions::new(), PostgresOptions::new().tls(tls)] {
        let error = bounded(
            "connect",
            PostgresStore::connect_with(&with_sslmode(&url, "disable"), options.clone()),
        )
        .await
        .expect_err("a plain session is refused");
        let cause = postgres_cause(&error);
        match cause {
            PostgresError::Backend(e) => assert_eq!(
                e.code().map(|c| c.code()),
                Some("28000"),
                "not refused by pg_hba: {e}"
            ),
            other => panic!("not the server's refusal ({options:?}): {other:?}"),
        }
    }

    // `prefer` without a TLS setting stays plain, as before: refused too.
    let error = bounded(
        "connect",
        PostgresStore::connect(&with_sslmode(&url, "prefer")),
    )
    .await
    .expect_err("plain is refused");
    assert!(matches!(postgres_cause(&error), PostgresError::Backend(_)));

    // `sslmode=require` without a setting speaks TLS with the system's authorities, which do
    // not include the test's: the handshake fails, typed, and the store says so.
    let error = bounded("connect", PostgresStore::connect(&url))
        .await
        .expect_err("an untrusted CA is refused");
    let cause = postgres_cause(&error);
    assert!(
        matches!(cause, PostgresError::TlsHandshake(_)),
        "not a TLS failure: {cause:?}"
    );
    assert!(!cause.is_transient());
    let error = bounded(
        "connect",
        PostgresStore::connect_with(&url, PostgresOptions::new().tls(PostgresTls::SystemRoots)),
    )
    .await
    .expect_err("an untrusted CA is refused");
    assert!(matches!(
        postgres_cause(&error),
        PostgresError::TlsHandshake(_)
    ));
}

#[tokio::test]
#[ignore = "needs PostgreSQL and openssl: run through `cargo xtask test`"]
async fn webhook_postgres_stores_over_tls() {
    let certs = Certificates::generate().expect("certificates");
    let server = PostgresServer::start(Some(&certs)).expect("postgres over TLS");
    let options = PostgresOptions::new().tls(PostgresTls::Trust(roots(&certs)));

    let seen = bounded(
        "connect",
        PostgresSeenStore::connect_with(&server.url(), options.clone()),
    )
    .await
    .expect("seen-store over TLS");
    let id = unique("wh");
    let ttl = Duration::from_secs(60);
    assert!(seen.first_sighting(&id, ttl).await.expect("first"));
    assert!(!seen.first_sighting(&id, ttl).await.expect("repeat"));
    assert!(seen.seen(&id).await.expect("seen"));

    let pending = bounded(
        "connect",
        highlevel::webhooks::installs::PostgresPendingInstalls::connect_with(
            &server.url(),
            options,
        ),
    )
    .await
    .expect("pending installs over TLS");
    use highlevel::webhooks::installs::PendingInstalls as _;
    let company = unique("co");
    pending.add(&company, "loc-1").await.expect("add");
    assert_eq!(
        pending.list(&company).await.expect("list"),
        vec!["loc-1".to_owned()]
    );

    let error = bounded("connect", PostgresSeenStore::connect(&server.url()))
        .await
        .expect_err("an untrusted CA is refused");
    assert!(error.contains("TLS handshake failed"), "{error}");
}

#[test]
fn a_pem_without_a_certificate_is_a_typed_error() {
    assert!(matches!(
        TrustedRoots::from_pem(b"not a certificate"),
        Err(highlevel::runtime::tls::TlsError::NoCertificate)
    ));
}
