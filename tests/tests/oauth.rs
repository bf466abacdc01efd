//! The OAuth lifecycle against the sandbox over real HTTP: install, refresh ahead of expiry
//! and after a 401 (one refresh for many callers), invalid_grant, a failing store,
//! agency→location minting, and no secret in any log line; and both OAuth dialects
//! (`OAuthEndpoints::V2`, byte for byte what it always sent, and `V3`) on wiremock and on the
//! sandbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use highlevel::auth::{
    AuthError, Expected, MemoryStore, OAuthEndpoints, Resource, Session, SessionKey, StoreError,
    StoreFuture, TokenStore, UserType, Versioned,
};
use highlevel::secrecy::ExposeSecret;
use highlevel::{Error, HighLevel};
use highlevel_sandbox::{RunningSandbox, Sandbox};
use highlevel_tests::oauth::{age_session, app_config, authorize, handle, install, reopen};

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

/// A handle on a wiremock server whose store holds a session for `resource`, valid for an
/// hour.
async fn seeded_handle(server: &wiremock::MockServer, resource: Resource) -> HighLevel {
    let hl = HighLevel::builder()
        .base_url(server.uri())
        .oauth_app(highlevel::auth::OAuthConfig::new("app1-x", "secret"))
        .build()
        .expect("handle");
    let app = hl.oauth_app().expect("oauth");
    let user_type = resource.user_type();
    let session = Session::new(
        "at-1",
        Some("rt-1".into()),
        std::time::SystemTime::now() + Duration::from_secs(3600),
        user_type,
    );
    app.store()
        .put(&app.key(resource), &session, Expected::Absent)
        .await
        .expect("seeded");
    hl
}

async fn installed_location(sandbox: &RunningSandbox) -> HighLevel {
    let hl = handle(sandbox, app_config(sandbox)).expect("handle");
    let installed = install(&hl, UserType::Location).await.expect("installed");
    assert_eq!(
        installed.resource,
        Resource::Location(sandbox.location_id().to_owned())
    );
    hl
}

#[tokio::test]
async fn install_flow_checks_state_and_stores_the_session() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let hl = handle(&sandbox, app_config(&sandbox)).expect("handle");
    let app = hl.oauth_app().expect("oauth");

    // A callback whose state is not ours is refused before its code is spent.
    let (callback, mut pending) = authorize(&hl, UserType::Location).await.expect("page");
    let real_state = std::mem::replace(&mut pending.state, "forged".into());
    let forged = app.complete_authorization(&callback, &pending).await;
    assert!(
        matches!(forged, Err(AuthError::StateMismatch)),
        "{forged:?}"
    );
    assert_eq!(sandbox.oauth_stats().code_exchanges, 0);

    pending.state = real_state;
    let installed = app
        .complete_authorization(&callback, &pending)
        .await
        .expect("exchanged");
    assert_eq!(
        installed.company_id.as_deref(),
        Some(sandbox.company_id().as_str())
    );
    assert!(installed.scope.contains("contacts.readonly"));
    // The code is single-use.
    let again = app.complete_authorization(&callback, &pending).await;
    assert!(
        matches!(again, Err(AuthError::InvalidCallback(_))),
        "{again:?}"
    );

    list_contacts(&hl, sandbox.location_id())
        .await
        .expect("call with the new session");
    let stored = app
        .session(Resource::Location(sandbox.location_id().to_owned()))
        .await
        .expect("store")
        .expect("stored");
    assert_eq!(stored.version, 1);
    assert!(stored.session.refresh_token.is_some());
}

#[tokio::test]
async fn fifty_concurrent_expired_callers_cause_one_refresh() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let hl = installed_location(&sandbox).await;
    let location = sandbox.location_id().to_owned();
    age_session(&hl, Resource::Location(location.clone()))
        .await
        .expect("aged");
    let hl = reopen(&sandbox, &hl, app_config(&sandbox)).expect("restarted");

    let calls: Vec<_> = (0..50)
        .map(|_| {
            let hl = hl.clone();
            let location = location.clone();
            tokio::spawn(async move { list_contacts(&hl, &location).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("call succeeds");
    }
    let stats = sandbox.oauth_stats();
    assert_eq!(stats.refreshes, 1, "{stats:?}");
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
    println!(
        "50 concurrent expired callers -> {} refresh",
        stats.refreshes
    );
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let hl = installed_location(&sandbox).await;
    let location = sandbox.location_id().to_owned();

    // HighLevel revokes the token early: the SDK still thinks it good for a day.
    sandbox.expire_access_tokens();
    list_contacts(&hl, &location)
        .await
        .expect("retried after refresh");
    let stats = sandbox.oauth_stats();
    assert_eq!(stats.expired_token_rejections, 1, "{stats:?}");
    assert_eq!(stats.refreshes, 1, "{stats:?}");

    // Twenty callers hitting 401 at once still cause one refresh.
    sandbox.expire_access_tokens();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let hl = hl.clone();
            let location = location.clone();
            tokio::spawn(async move { list_contacts(&hl, &location).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("call succeeds");
    }
    let stats = sandbox.oauth_stats();
    assert_eq!(stats.refreshes, 2, "{stats:?}");
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
}

/// A 401 that a refresh does not cure (a missing scope, not an expired token) costs one
/// refresh, then fails as it is for the cooldown instead of rotating tokens on every call.
#[tokio::test]
async fn a_401_that_a_refresh_does_not_cure_is_not_refreshed_again() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let server = highlevel_tests::mock_server().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-2", "refresh_token": "rt-2", "expires_in": 86399,
            "userType": "Location", "locationId": "loc1", "companyId": "co1"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/contacts/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "statusCode": 401, "message": "The token is not authorized for this scope."
        })))
        .mount(&server)
        .await;
    let hl = seeded_handle(&server, Resource::Location("loc1".into())).await;

    let token_calls = || async {
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/oauth/token")
            .count()
    };
    for _ in 0..3 {
        let err = list_contacts(&hl, "loc1").await.expect_err("401");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(401), "{err}");
    }
    assert_eq!(token_calls().await, 1, "one refresh, then the cooldown");
    let contact_calls = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/contacts/")
        .count();
    assert_eq!(
        contact_calls, 4,
        "first call and its retry, then one attempt each"
    );
}

#[tokio::test]
async fn invalid_grant_needs_reauthorization_and_keeps_the_session() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let hl = installed_location(&sandbox).await;
    let location = Resource::Location(sandbox.location_id().to_owned());
    let app = hl.oauth_app().expect("oauth");

    // Someone else spends the stored refresh token (the way a second, uncoordinated client
    // would), so the SDK's copy is dead.
    let stored = app
        .session(location.clone())
        .await
        .expect("store")
        .expect("stored");
    let refresh = stored.session.refresh_token.expect("refresh token");
    let spent = highlevel_tests::http_client()
        .post(format!("{}/oauth/token", sandbox.url()))
        .form(&[
            ("client_id", sandbox.client_id().as_str()),
            ("client_secret", sandbox.client_secret().as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose_secret()),
        ])
        .send()
        .await
        .expect("sent");
    assert!(spent.status().is_success());
    age_session(&hl, location.clone()).await.expect("aged");
    let hl = reopen(&sandbox, &hl, app_config(&sandbox)).expect("restarted");
    let app = hl.oauth_app().expect("oauth");

    let err = list_contacts(&hl, sandbox.location_id())
        .await
        .expect_err("no usable token");
    let auth = err.as_auth().expect("an auth error");
    assert!(auth.needs_reauthorization(), "{auth}");
    assert_eq!(auth.resource(), Some(&location));
    let kept = app
        .session(location.clone())
        .await
        .expect("store")
        .expect("kept");
    assert!(kept.session.needs_reauthorization(), "{:?}", kept.session);

    // Later calls fail the same way without spending anything at HighLevel.
    let refreshes = sandbox.oauth_stats();
    let again = list_contacts(&hl, sandbox.location_id()).await;
    assert!(again.is_err_and(|e| e.as_auth().is_some_and(AuthError::needs_reauthorization)));
    assert_eq!(sandbox.oauth_stats(), refreshes);
}

/// A real memory store whose writes can be made to fail, as a database outage would.
#[derive(Debug, Default)]
struct FlakyStore {
    inner: MemoryStore,
    failing: AtomicBool,
}

impl TokenStore for FlakyStore {
    fn get<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<Versioned>> {
        self.inner.get(key)
    }
    fn put<'a>(
        &'a self,
        key: &'a SessionKey,
        session: &'a Session,
        expected: Expected,
    ) -> StoreFuture<'a, u64> {
        if self.failing.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(StoreError::Backend {
                    store: "flaky",
                    source: "disk full".into(),
                })
            });
        }
        self.inner.put(key, session, expected)
    }
    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, ()> {
        self.inner.delete(key)
    }
    fn try_lease<'a>(
        &'a self,
        key: &'a SessionKey,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        self.inner.try_lease(key, holder, ttl)
    }
    fn release<'a>(&'a self, key: &'a SessionKey, holder: &'a str) -> StoreFuture<'a, ()> {
        self.inner.release(key, holder)
    }
}

#[tokio::test]
async fn a_failed_store_write_surfaces_and_loses_nothing() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let store = Arc::new(FlakyStore::default());
    let config = app_config(&sandbox).shared_store(store.clone());
    let hl = handle(&sandbox, config).expect("handle");
    install(&hl, UserType::Location).await.expect("installed");
    let location = Resource::Location(sandbox.location_id().to_owned());
    age_session(&hl, location.clone()).await.expect("aged");
    let hl = reopen(&sandbox, &hl, app_config(&sandbox)).expect("restarted");

    store.failing.store(true, Ordering::SeqCst);
    let err = list_contacts(&hl, sandbox.location_id())
        .await
        .expect_err("the rotated tokens were not saved");
    assert!(
        matches!(err.as_auth(), Some(AuthError::RotatedTokensNotSaved { .. })),
        "{err}"
    );
    assert_eq!(sandbox.oauth_stats().refreshes, 1);
    let again = list_contacts(&hl, sandbox.location_id())
        .await
        .expect_err("no call runs on unsaved tokens");
    assert!(
        matches!(
            again.as_auth(),
            Some(AuthError::RotatedTokensNotSaved { .. })
        ),
        "the same failure, not some other one: {again}"
    );
    assert_eq!(
        sandbox.oauth_stats().refreshes,
        1,
        "and nothing refreshes twice"
    );

    // The store recovers: the tokens kept in memory are written, then used.
    store.failing.store(false, Ordering::SeqCst);
    list_contacts(&hl, sandbox.location_id())
        .await
        .expect("works again");
    let stored = hl
        .oauth_app()
        .expect("oauth")
        .session(location.clone())
        .await
        .expect("store")
        .expect("stored");
    assert_eq!(stored.version, 3, "install, aged, rotated");
    // The rotated refresh token is the live one: refreshing with it works.
    age_session(&hl, location).await.expect("aged");
    let hl = reopen(&sandbox, &hl, app_config(&sandbox)).expect("restarted");
    list_contacts(&hl, sandbox.location_id())
        .await
        .expect("refreshed again");
    let stats = sandbox.oauth_stats();
    assert_eq!(
        (stats.refreshes, stats.refresh_token_reuses),
        (2, 0),
        "{stats:?}"
    );
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
#[tokio::test]
async fn agency_tokens_mint_location_tokens_once_and_serve_agency_operations() {
    let sandbox = Sandbox::builder()
        .installed_locations(3)
        .serve()
        .await
        .expect("sandbox");
    let hl = handle(&sandbox, app_config(&sandbox)).expect("handle");
    let installed = install(&hl, UserType::Company)
        .await
        .expect("agency install");
    let company = sandbox.company_id();
    assert_eq!(installed.resource, Resource::Company(company.clone()));
    assert_eq!(installed.approved_locations.len(), 4);

    let agency = hl.agency(&company);
    let location = sandbox.location_id();
    for _ in 0..3 {
        agency
            .location(location)
            .contacts()
            .get_contacts()
            .location_id(location)
            .send()
            .await
            .expect("call with a minted location token");
    }
    assert_eq!(
        sandbox.oauth_stats().location_tokens,
        1,
        "minted once, then reused"
    );
    let minted = hl
        .oauth_app()
        .expect("oauth")
        .session(Resource::Location(location.to_owned()))
        .await
        .expect("store")
        .expect("stored");
    assert!(minted.session.minted_from_agency);

    // An agency-only operation from a location-scoped handle uses the agency's token.
    let listed = agency
        .location(location)
        .oauth()
        .get_installed_location()
        .company_id(company.as_str())
        .app_id("sbxapp00000000000001")
        .send()
        .await
        .expect("agency operation");
    assert_eq!(listed.into_inner().count, Some(4.0));

    // A location-only operation from an agency handle says what is missing.
    let err = agency
        .agent_studio()
        .get_agents()
        .limit("10")
        .offset("0")
        .location_id(location)
        .send()
        .await
        .expect_err("needs a location");
    assert!(
        matches!(
            err.as_auth(),
            Some(AuthError::NoLocationForOperation { .. })
        ),
        "{err}"
    );
    let unscoped = hl
        .contacts()
        .get_contacts()
        .location_id(location)
        .send()
        .await;
    assert!(unscoped.is_err_and(|e| matches!(e.as_auth(), Some(AuthError::NotScoped))),);

    // The minted location session refreshes like any other.
    age_session(&hl, Resource::Location(location.to_owned()))
        .await
        .expect("aged");
    let hl = reopen(&sandbox, &hl, app_config(&sandbox)).expect("restarted");
    hl.agency(&company)
        .location(location)
        .contacts()
        .get_contacts()
        .location_id(location)
        .send()
        .await
        .expect("refreshed");
    let stats = sandbox.oauth_stats();
    assert_eq!(
        (stats.refreshes, stats.location_tokens),
        (1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn every_installed_location_is_minted_with_bounded_concurrency() {
    let sandbox = Sandbox::builder()
        .installed_locations(120)
        .serve()
        .await
        .expect("sandbox");
    let hl = handle(&sandbox, app_config(&sandbox)).expect("handle");
    install(&hl, UserType::Company)
        .await
        .expect("agency install");
    let app = hl.oauth_app().expect("oauth");
    let report = app
        .mint_installed_locations(&sandbox.company_id(), 8)
        .await
        .expect("listed");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let mut expected = sandbox.installed_location_ids();
    expected.sort();
    assert_eq!(report.minted, expected, "all 121 across pages");
    assert_eq!(sandbox.oauth_stats().location_tokens, 121);
    // Again: every location already has a usable session, nothing is minted.
    app.mint_installed_locations(&sandbox.company_id(), 8)
        .await
        .expect("listed");
    assert_eq!(sandbox.oauth_stats().location_tokens, 121);
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_typed_endpoint_error() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let config = highlevel::auth::OAuthConfig::new(sandbox.client_id(), "not-the-secret")
        .authorization_host(highlevel::auth::AuthorizationHost::Custom(
            sandbox.url().to_owned(),
        ));
    let hl = handle(&sandbox, config).expect("handle");
    let (callback, pending) = authorize(&hl, UserType::Location).await.expect("page");
    let err = hl
        .oauth_app()
        .expect("oauth")
        .complete_authorization(&callback, &pending)
        .await
        .expect_err("refused");
    let AuthError::Endpoint(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status().as_u16(), 401);
    assert!(!format!("{err} {err:?}").contains("not-the-secret"));
}

/// A server that serves 30 locations per page whatever `limit` asks, one of them malformed.
struct ThirtyPerPage;

impl wiremock::Respond for ThirtyPerPage {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let skip: usize = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "skip")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let locations: Vec<serde_json::Value> = (skip..(skip + 30).min(75))
            .map(|i| {
                if i == 40 {
                    serde_json::json!({ "name": "no id" })
                } else {
                    serde_json::json!({ "_id": format!("loc{i}"), "name": "x", "address": "y" })
                }
            })
            .collect();
        wiremock::ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({ "locations": locations, "count": 75 }))
    }
}

#[tokio::test]
async fn installed_locations_follow_the_count_across_short_pages() {
    use wiremock::Mock;
    use wiremock::matchers::{method, path};

    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .and(path("/oauth/installedLocations"))
        .respond_with(ThirtyPerPage)
        .mount(&server)
        .await;
    let hl = seeded_handle(&server, Resource::Company("co1".into())).await;
    let app = hl.oauth_app().expect("oauth");
    let locations = app.installed_locations("co1").await.expect("listed");
    assert_eq!(
        locations.len(),
        74,
        "75 listed, the one without an id skipped"
    );
    assert!(locations.iter().all(|l| l.id != "loc40"));
    assert_eq!(locations.last().map(|l| l.id.as_str()), Some("loc74"));
    let pages = server.received_requests().await.unwrap_or_default().len();
    assert_eq!(pages, 3, "skip 0, 30, 60");
}

// ---- The two OAuth dialects (`OAuthConfig::endpoints`) ----

/// A handle on `server` calling the OAuth endpoints of `endpoints`, with `store` (fresh
/// when `None`).
fn dialect_handle(
    server: &wiremock::MockServer,
    endpoints: OAuthEndpoints,
    store: Option<Arc<dyn TokenStore>>,
) -> HighLevel {
    let mut config = highlevel::auth::OAuthConfig::new("app1-x", "secret").endpoints(endpoints);
    if let Some(store) = store {
        config = config.shared_store(store);
    }
    HighLevel::builder()
        .base_url(server.uri())
        .oauth_app(config)
        .build()
        .expect("handle")
}

/// The requests `server` received on `path`, in order.
async fn requests_to(server: &wiremock::MockServer, path: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == path)
        .collect()
}

fn header<'a>(request: &'a wiremock::Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn body_text(request: &wiremock::Request) -> &str {
    std::str::from_utf8(&request.body).unwrap_or_default()
}

/// A token answer in snake_case (v2's) or camelCase (v3's), for `user_type`.
fn token_answer(camel: bool, n: u32, user_type: &str) -> serde_json::Value {
    let mut answer = if camel {
        serde_json::json!({
            "accessToken": format!("at-{n}"), "tokenType": "Bearer", "expiresIn": 86399,
            "refreshToken": format!("rt-{n}"), "scope": "contacts.readonly",
        })
    } else {
        serde_json::json!({
            "access_token": format!("at-{n}"), "token_type": "Bearer", "expires_in": 86399,
            "refresh_token": format!("rt-{n}"), "scope": "contacts.readonly",
        })
    };
    let fields = answer.as_object_mut().expect("an object");
    fields.insert("userType".into(), user_type.into());
    fields.insert("companyId".into(), "co1".into());
    fields.insert("userId".into(), "u1".into());
    if user_type == "Location" {
        fields.insert("locationId".into(), "loc1".into());
    }
    answer
}

/// A token endpoint that issues `at-N`/`rt-N` with N counting up, in one casing.
struct Issuing {
    camel: bool,
    issued: std::sync::atomic::AtomicU32,
}

impl wiremock::Respond for Issuing {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let form: Vec<(String, String)> = url_pairs(&request.body);
        let company = form
            .iter()
            .any(|(k, v)| (k == "user_type" || k == "userType") && v == "Company");
        let user_type = if company { "Company" } else { "Location" };
        wiremock::ResponseTemplate::new(200).set_body_json(token_answer(self.camel, n, user_type))
    }
}

fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!(
        "http://x/?{}",
        std::str::from_utf8(body).unwrap_or_default()
    ))
    .map(|u| u.query_pairs().into_owned().collect())
    .unwrap_or_default()
}

async fn mount_token(server: &wiremock::MockServer, camel: bool) {
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/oauth/token"))
        .respond_with(Issuing {
            camel,
            issued: std::sync::atomic::AtomicU32::new(0),
        })
        .mount(server)
        .await;
}

/// Installs loc1 with a code, then refreshes it from a second handle on the same store
/// (the first one's copy is still fresh): what the token endpoint received, as raw bodies.
async fn exchange_then_refresh(
    server: &wiremock::MockServer,
    endpoints: OAuthEndpoints,
) -> Vec<wiremock::Request> {
    let hl = dialect_handle(server, endpoints, None);
    let app = hl.oauth_app().expect("oauth");
    let installed = app
        .exchange_code("code-1", Some("https://cb.example/cb"), UserType::Location)
        .await
        .expect("exchanged");
    assert_eq!(installed.resource, Resource::Location("loc1".into()));
    let location = Resource::Location("loc1".into());
    age_session(&hl, location.clone()).await.expect("aged");
    let hl = dialect_handle(server, endpoints, Some(app.store().clone()));
    let token = hl
        .oauth_app()
        .expect("oauth")
        .access_token(location, None)
        .await
        .expect("refreshed");
    assert_eq!(token.expose_secret(), "at-2");
    requests_to(server, "/oauth/token").await
}

#[tokio::test]
async fn the_v2_dialect_sends_exactly_what_it_always_sent() {
    let server = highlevel_tests::mock_server().await;
    mount_token(&server, false).await;
    let sent = exchange_then_refresh(&server, OAuthEndpoints::V2).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        body_text(&sent[0]),
        "client_id=app1-x&client_secret=secret&grant_type=authorization_code&code=code-1\
         &user_type=Location&redirect_uri=https%3A%2F%2Fcb.example%2Fcb"
    );
    assert_eq!(
        body_text(&sent[1]),
        "client_id=app1-x&client_secret=secret&grant_type=refresh_token&refresh_token=rt-1\
         &user_type=Location"
    );
    for request in &sent {
        assert_eq!(header(request, "version"), None);
        assert_eq!(header(request, "authorization"), None);
        assert_eq!(header(request, "accept"), Some("application/json"));
        assert_eq!(
            header(request, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
    }

    // The agency endpoints: v2 paths, `Version: 2021-07-28`, skip/limit.
    let server = highlevel_tests::mock_server().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/oauth/locationToken"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(token_answer(false, 5, "Location")),
        )
        .mount(&server)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/oauth/installedLocations"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "locations": [{ "_id": "loc1", "name": "One", "address": "x" }], "count": 1
            })),
        )
        .mount(&server)
        .await;
    let hl = seeded_handle(&server, Resource::Company("co1".into())).await;
    let report = hl
        .oauth_app()
        .expect("oauth")
        .mint_installed_locations("co1", 1)
        .await
        .expect("minted");
    assert_eq!(report.minted, ["loc1"]);
    let listed = requests_to(&server, "/oauth/installedLocations").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].url.query(),
        Some("companyId=co1&appId=app1&isInstalled=true&skip=0&limit=100")
    );
    let minted = requests_to(&server, "/oauth/locationToken").await;
    assert_eq!(minted.len(), 1);
    assert_eq!(body_text(&minted[0]), "companyId=co1&locationId=loc1");
    for request in listed.iter().chain(&minted) {
        assert_eq!(header(request, "version"), Some("2021-07-28"));
        assert_eq!(header(request, "authorization"), Some("Bearer at-1"));
    }
}

#[tokio::test]
async fn the_v3_dialect_exchanges_and_refreshes_with_camel_case_fields() {
    let server = highlevel_tests::mock_server().await;
    mount_token(&server, true).await;
    let sent = exchange_then_refresh(&server, OAuthEndpoints::V3).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        body_text(&sent[0]),
        "clientId=app1-x&clientSecret=secret&grantType=authorization_code&code=code-1\
         &userType=Location&redirectUri=https%3A%2F%2Fcb.example%2Fcb"
    );
    assert_eq!(
        body_text(&sent[1]),
        "clientId=app1-x&clientSecret=secret&grantType=refresh_token&refreshToken=rt-1\
         &userType=Location"
    );
    for request in &sent {
        assert_eq!(header(request, "version"), Some("v3"));
        assert_eq!(header(request, "authorization"), None);
        assert_eq!(
            header(request, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
    }
}

#[tokio::test]
async fn token_answers_decode_in_either_casing_in_both_dialects() {
    for endpoints in [OAuthEndpoints::V2, OAuthEndpoints::V3] {
        for camel in [false, true] {
            let server = highlevel_tests::mock_server().await;
            mount_token(&server, camel).await;
            // Exchange (at-1) and refresh (at-2) both read the answer's casing.
            exchange_then_refresh(&server, endpoints).await;
            let hl = dialect_handle(&server, endpoints, None);
            let app = hl.oauth_app().expect("oauth");
            app.exchange_code("code-2", None, UserType::Company)
                .await
                .expect("agency install");
            let stored = app
                .session(Resource::Company("co1".into()))
                .await
                .expect("store")
                .expect("stored");
            let session = &stored.session;
            assert_eq!(session.access_token.expose_secret(), "at-3");
            assert_eq!(
                session.refresh_token.as_ref().map(|t| t.expose_secret()),
                Some("rt-3")
            );
            assert!(
                session
                    .expires_at_unix
                    .is_some_and(|at| at >= session.obtained_at_unix + 86_000),
                "{endpoints:?} camel={camel}: the expiry was read"
            );
            assert_eq!(session.scope, "contacts.readonly");
            assert_eq!(session.user_id.as_deref(), Some("u1"));
        }
    }
}

/// An installed-locations endpoint in v3's shape: 12 locations, 5 per page whatever
/// `pageSize` asks, page tokens `p2`, `p3`; or, with `stuck`, always the same next token.
struct TokenPages {
    stuck: bool,
}

impl wiremock::Respond for TokenPages {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let token = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "pageToken")
            .map(|(_, v)| v.into_owned());
        let start = match token.as_deref() {
            None => 0,
            Some("p2") => 5,
            Some("p3") => 10,
            Some(_) => return wiremock::ResponseTemplate::new(400),
        };
        let end = (start + 5).min(12);
        let items: Vec<serde_json::Value> = (start..end)
            .map(|i| serde_json::json!({ "_id": format!("loc{i}"), "name": "x", "address": "y", "isInstalled": true }))
            .collect();
        let next = if self.stuck {
            Some("p2".to_owned())
        } else {
            (end < 12).then(|| format!("p{}", end / 5 + 1))
        };
        let mut pagination = serde_json::json!({
            "totalRecords": 12, "hasNextPage": next.is_some(), "hasPrevPage": start > 0,
            "currentPageSize": items.len(),
        });
        if let Some(next) = next {
            pagination["nextPageToken"] = next.into();
        }
        wiremock::ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({ "items": items, "pagination": pagination }))
    }
}

#[tokio::test]
async fn the_v3_dialect_mints_location_tokens_and_pages_installed_locations_by_token() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .and(path("/oauth/installed-locations"))
        .respond_with(TokenPages { stuck: false })
        .mount(&server)
        .await;
    // v3's location token answer: camelCase, no userType or companyId.
    Mock::given(method("POST"))
        .and(path("/oauth/location-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "accessToken": "at-loc", "tokenType": "Bearer", "expiresIn": 86399,
            "refreshToken": "rt-loc", "scope": "contacts.readonly", "userId": "u1",
            "appId": "app1",
        })))
        .mount(&server)
        .await;
    let seeded = seeded_handle(&server, Resource::Company("co1".into())).await;
    let store = seeded.oauth_app().expect("oauth").store().clone();
    let hl = dialect_handle(&server, OAuthEndpoints::V3, Some(store));
    let app = hl.oauth_app().expect("oauth");
    assert_eq!(app.oauth_endpoints(), OAuthEndpoints::V3);

    let report = app
        .mint_installed_locations("co1", 4)
        .await
        .expect("listed");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let mut expected: Vec<String> = (0..12).map(|i| format!("loc{i}")).collect();
    expected.sort();
    assert_eq!(report.minted, expected, "all 12 across 3 pages");

    let pages = requests_to(&server, "/oauth/installed-locations").await;
    let queries: Vec<Option<&str>> = pages.iter().map(|r| r.url.query()).collect();
    assert_eq!(
        queries,
        [
            Some("companyId=co1&appId=app1&isInstalled=true&pageSize=100"),
            Some("companyId=co1&appId=app1&isInstalled=true&pageSize=100&pageToken=p2"),
            Some("companyId=co1&appId=app1&isInstalled=true&pageSize=100&pageToken=p3"),
        ]
    );
    let minted = requests_to(&server, "/oauth/location-token").await;
    assert_eq!(minted.len(), 12);
    assert!(
        minted
            .iter()
            .any(|r| body_text(r) == "companyId=co1&locationId=loc7")
    );
    for request in pages.iter().chain(&minted) {
        assert_eq!(header(request, "version"), Some("v3"));
        assert_eq!(header(request, "authorization"), Some("Bearer at-1"));
    }
    assert!(
        requests_to(&server, "/oauth/locationToken")
            .await
            .is_empty()
    );

    // The minted session knows its location and agency though the answer named neither.
    let stored = app
        .session(Resource::Location("loc7".into()))
        .await
        .expect("store")
        .expect("stored");
    assert_eq!(stored.session.location_id.as_deref(), Some("loc7"));
    assert_eq!(stored.session.company_id.as_deref(), Some("co1"));
    assert_eq!(stored.session.user_type, UserType::Location);
    assert!(stored.session.minted_from_agency);
}

#[tokio::test]
async fn a_repeated_page_token_ends_with_a_typed_error_not_a_loop() {
    use wiremock::Mock;
    use wiremock::matchers::{method, path};

    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .and(path("/oauth/installed-locations"))
        .respond_with(TokenPages { stuck: true })
        .mount(&server)
        .await;
    let seeded = seeded_handle(&server, Resource::Company("co1".into())).await;
    let store = seeded.oauth_app().expect("oauth").store().clone();
    let hl = dialect_handle(&server, OAuthEndpoints::V3, Some(store));
    let app = hl.oauth_app().expect("oauth");
    let listed = tokio::time::timeout(Duration::from_secs(10), app.installed_locations("co1"))
        .await
        .expect("ends");
    let err = listed.expect_err("the token repeats");
    assert!(
        matches!(
            err,
            AuthError::RepeatedPageToken {
                endpoint: "GET /oauth/installed-locations",
                pages: 2
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("already followed"), "{err}");
    assert_eq!(
        requests_to(&server, "/oauth/installed-locations")
            .await
            .len(),
        2
    );
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
#[tokio::test]
async fn the_v3_dialect_runs_the_whole_lifecycle_on_the_sandbox() {
    let sandbox = Sandbox::builder()
        .installed_locations(249)
        .serve()
        .await
        .expect("sandbox");
    let config = || app_config(&sandbox).endpoints(OAuthEndpoints::V3);
    let hl = handle(&sandbox, config()).expect("handle");
    let location = sandbox.location_id().to_owned();

    // A location install, refreshed ahead of expiry by 50 concurrent callers: one refresh.
    install(&hl, UserType::Location).await.expect("installed");
    age_session(&hl, Resource::Location(location.clone()))
        .await
        .expect("aged");
    let hl = reopen(&sandbox, &hl, config()).expect("restarted");
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let hl = hl.clone();
            let location = location.clone();
            tokio::spawn(async move { list_contacts(&hl, &location).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("call succeeds");
    }
    // And after a 401.
    sandbox.expire_access_tokens();
    list_contacts(&hl, &location).await.expect("retried");
    let stats = sandbox.oauth_stats();
    assert_eq!(
        (stats.refreshes, stats.refresh_token_reuses),
        (2, 0),
        "{stats:?}"
    );

    // An agency install mints every installed location (250, three pages of 100).
    let company = sandbox.company_id();
    install(&hl, UserType::Company)
        .await
        .expect("agency install");
    hl.oauth_app()
        .expect("oauth")
        .forget(Resource::Location(location.clone()))
        .await
        .expect("forgotten");
    let listed = hl
        .oauth_app()
        .expect("oauth")
        .installed_locations(&company)
        .await
        .expect("listed");
    assert_eq!(listed.len(), 250);
    let report = hl
        .oauth_app()
        .expect("oauth")
        .mint_installed_locations(&company, 8)
        .await
        .expect("minted");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let mut expected = sandbox.installed_location_ids();
    expected.sort();
    assert_eq!(report.minted, expected);
    assert_eq!(sandbox.oauth_stats().location_tokens, 250);

    // A minted session refreshes in v3 too, and calls through the agency handle.
    age_session(&hl, Resource::Location(location.clone()))
        .await
        .expect("aged");
    let hl = reopen(&sandbox, &hl, config()).expect("restarted");
    hl.agency(&company)
        .location(&location)
        .contacts()
        .get_contacts()
        .location_id(location.as_str())
        .send()
        .await
        .expect("refreshed");
    let stats = sandbox.oauth_stats();
    assert_eq!(
        (
            stats.refreshes,
            stats.refresh_token_reuses,
            stats.location_tokens
        ),
        (3, 0, 250),
        "{stats:?}"
    );
}

// ---- Faults and hostile answers of the token endpoint ----

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_refused_and_nothing_is_sent_there() {
    let server = highlevel_tests::mock_server().await;
    let elsewhere = highlevel_tests::mock_server().await;
    let target = format!("{}/oauth/token", elsewhere.uri());
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/oauth/token"))
        .respond_with(
            wiremock::ResponseTemplate::new(307).insert_header("location", target.as_str()),
        )
        .mount(&server)
        .await;
    mount_token(&elsewhere, false).await;
    let location = Resource::Location("loc1".into());
    let hl = seeded_handle(&server, location.clone()).await;
    let app = hl.oauth_app().expect("oauth");
    let redirected = |error: Option<AuthError>| match error {
        Some(AuthError::Redirected {
            status: 307,
            location: Some(to),
            ..
        }) => to == target,
        _ => false,
    };
    let exchanged = app
        .exchange_code("code-1", Some("https://cb.example/cb"), UserType::Location)
        .await
        .err();
    assert!(redirected(exchanged), "the code exchange");
    age_session(&hl, location.clone()).await.expect("aged");
    let refreshed = app.access_token(location.clone(), None).await.err();
    assert!(redirected(refreshed), "the refresh");
    assert!(
        elsewhere
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "neither the code nor the refresh token nor the secret went to the redirect's target"
    );
    assert_eq!(requests_to(&server, "/oauth/token").await.len(), 2);
    let kept = app
        .store()
        .get(&app.key(location))
        .await
        .expect("store")
        .expect("kept");
    assert!(
        !kept.session.needs_reauthorization(),
        "a redirect says nothing about the refresh token"
    );
}

#[tokio::test]
async fn a_client_that_follows_redirects_on_its_own_is_caught() {
    let server = highlevel_tests::mock_server().await;
    let elsewhere = highlevel_tests::mock_server().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/oauth/token"))
        .respond_with(
            wiremock::ResponseTemplate::new(308)
                .insert_header("location", format!("{}/oauth/token", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    mount_token(&elsewhere, false).await;
    let hl = HighLevel::builder()
        .base_url(server.uri())
        .oauth_app(highlevel::auth::OAuthConfig::new("app1-x", "secret"))
        .oauth_http_client(highlevel_tests::http_client())
        .build()
        .expect("handle");
    let app = hl.oauth_app().expect("oauth");
    let error = app
        .exchange_code("code-1", None, UserType::Location)
        .await
        .err();
    assert!(
        matches!(error, Some(AuthError::Redirected { status: 200, .. })),
        "{error:?}"
    );
    assert!(
        app.session(Resource::Location("loc1".into()))
            .await
            .expect("store")
            .is_none(),
        "an answer from a server that was never asked is not stored"
    );
}

/// A token endpoint answering `answer` to every request, counting them.
async fn token_endpoint_answering(server: &wiremock::MockServer, answer: serde_json::Value) {
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/oauth/token"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(answer))
        .mount(server)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/contacts/"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "contacts": [], "meta": { "total": 0 }
            })),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_token_without_a_usable_lifetime_is_renewed_on_401_only() {
    for expires_in in [None, Some(serde_json::json!(1e300))] {
        let server = highlevel_tests::mock_server().await;
        let mut answer = serde_json::json!({
            "access_token": "at-1", "refresh_token": "rt-1", "userType": "Location",
            "locationId": "loc1", "companyId": "co1",
        });
        if let Some(value) = &expires_in {
            answer["expires_in"] = value.clone();
        }
        token_endpoint_answering(&server, answer).await;
        let hl = dialect_handle(&server, OAuthEndpoints::V2, None);
        let app = hl.oauth_app().expect("oauth");
        let installed = app
            .exchange_code("code-1", None, UserType::Location)
            .await
            .expect("exchanged");
        assert_eq!(installed.resource, Resource::Location("loc1".into()));
        let stored = app
            .session(Resource::Location("loc1".into()))
            .await
            .expect("store")
            .expect("stored");
        assert_eq!(stored.session.expires_at(), None, "{expires_in:?}");
        for _ in 0..10 {
            list_contacts(&hl, "loc1").await.expect("listed");
        }
        assert_eq!(
            requests_to(&server, "/oauth/token").await.len(),
            1,
            "expires_in {expires_in:?}: the exchange only; no refresh token spent"
        );
        assert_eq!(requests_to(&server, "/contacts/").await.len(), 10);
    }
}

// ---- Lease fencing: a refresh that outlives its lease ----

/// A real memory store whose next write (or a chosen read) can be held back, as a stalled
/// database connection would hold it: the data is read or written, the answer comes late.
#[derive(Debug)]
struct StallingStore {
    inner: Arc<dyn TokenStore>,
    stall_next_put: std::sync::Mutex<Option<Duration>>,
    /// The next write fails without writing, as a dropped connection would fail it.
    fail_next_put: AtomicBool,
    /// Which read from now (1 = the next) answers late, and how late.
    stall_get: std::sync::Mutex<Option<(usize, Duration)>>,
}

impl StallingStore {
    fn over(inner: Arc<dyn TokenStore>) -> Self {
        Self {
            inner,
            stall_next_put: std::sync::Mutex::new(None),
            fail_next_put: AtomicBool::new(false),
            stall_get: std::sync::Mutex::new(None),
        }
    }

    fn take(slot: &std::sync::Mutex<Option<Duration>>) -> Option<Duration> {
        slot.lock().ok().and_then(|mut s| s.take())
    }
}

impl TokenStore for StallingStore {
    fn get<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<Versioned>> {
        let stall = self.stall_get.lock().ok().and_then(|mut slot| match *slot {
            Some((1, late)) => {
                *slot = None;
                Some(late)
            }
            Some((n, late)) => {
                *slot = Some((n - 1, late));
                None
            }
            None => None,
        });
        Box::pin(async move {
            let read = self.inner.get(key).await;
            if let Some(stall) = stall {
                tokio::time::sleep(stall).await;
            }
            read
        })
    }
    fn put<'a>(
        &'a self,
        key: &'a SessionKey,
        session: &'a Session,
        expected: Expected,
    ) -> StoreFuture<'a, u64> {
        let stall = Self::take(&self.stall_next_put);
        let fail = self.fail_next_put.swap(false, Ordering::SeqCst);
        Box::pin(async move {
            if fail {
                return Err(StoreError::Backend {
                    store: "stalling",
                    source: "connection reset".into(),
                });
            }
            if let Some(stall) = stall {
                tokio::time::sleep(stall).await;
            }
            self.inner.put(key, session, expected).await
        })
    }
    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, ()> {
        self.inner.delete(key)
    }
    fn try_lease<'a>(
        &'a self,
        key: &'a SessionKey,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        self.inner.try_lease(key, holder, ttl)
    }
    fn release<'a>(&'a self, key: &'a SessionKey, holder: &'a str) -> StoreFuture<'a, ()> {
        self.inner.release(key, holder)
    }
}

/// An installed location whose session is due for refresh, in a store two "processes"
/// (handles with their own lifecycles and lease holders, 200 ms leases) share; the first
/// reaches it through a [`StallingStore`].
async fn two_processes_racing(
    sandbox: &RunningSandbox,
) -> (HighLevel, Arc<StallingStore>, HighLevel, Resource) {
    let shared: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let first = handle(sandbox, app_config(sandbox).shared_store(shared.clone())).expect("handle");
    install(&first, UserType::Location)
        .await
        .expect("installed");
    let location = Resource::Location(sandbox.location_id().to_owned());
    age_session(&first, location.clone()).await.expect("aged");
    let stalling = Arc::new(StallingStore::over(shared.clone()));
    let lease = Duration::from_millis(200);
    let slow = handle(
        sandbox,
        app_config(sandbox)
            .shared_store(stalling.clone())
            .lease_ttl(lease),
    )
    .expect("handle");
    let fast = handle(
        sandbox,
        app_config(sandbox).shared_store(shared).lease_ttl(lease),
    )
    .expect("handle");
    (slow, stalling, fast, location)
}

async fn stored_session(hl: &HighLevel, location: &Resource) -> Versioned {
    let app = hl.oauth_app().expect("oauth");
    app.session(location.clone())
        .await
        .expect("store")
        .expect("stored")
}

#[tokio::test]
async fn rotated_tokens_whose_write_outlived_the_lease_are_not_lost() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (slow, stalling, fast, location) = two_processes_racing(&sandbox).await;
    let id = sandbox.location_id().to_owned();
    // The slow process refreshes, then its write of the rotated tokens stalls past its lease.
    *stalling.stall_next_put.lock().expect("lock") = Some(Duration::from_millis(600));
    let slow_call = tokio::spawn({
        let slow = slow.clone();
        let id = id.clone();
        async move { list_contacts(&slow, &id).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The fast one takes the expired lease and spends the same (already spent) refresh token.
    let fast_first = list_contacts(&fast, &id).await;
    let refused = fast_first.as_ref().err().and_then(Error::as_auth);
    assert!(
        matches!(refused, Some(AuthError::ReauthorizationNeeded { .. })),
        "HighLevel refused the spent refresh token: {fast_first:?}"
    );
    slow_call
        .await
        .expect("task")
        .expect("the slow process's call succeeds on its rotated tokens");
    let stored = stored_session(&slow, &location).await;
    assert!(
        !stored.session.needs_reauthorization(),
        "no session is left marked for re-authorization"
    );
    assert_eq!(sandbox.oauth_stats().refreshes, 1, "one refresh succeeded");
    list_contacts(&fast, &id)
        .await
        .expect("the other process uses the rotated tokens");
    // The rotated refresh token is the live one.
    age_session(&fast, location.clone()).await.expect("aged");
    let later = reopen(&sandbox, &fast, app_config(&sandbox)).expect("restarted");
    list_contacts(&later, &id).await.expect("refreshed again");
    assert_eq!(sandbox.oauth_stats().refreshes, 2);
}

#[tokio::test]
async fn tokens_kept_after_a_failed_write_replace_the_mark_of_a_process_refused_their_refresh_token()
 {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (slow, stalling, fast, location) = two_processes_racing(&sandbox).await;
    let id = sandbox.location_id().to_owned();
    // The slow process refreshes, and the write of its rotated tokens fails: it keeps them.
    stalling.fail_next_put.store(true, Ordering::SeqCst);
    let kept = list_contacts(&slow, &id).await;
    assert!(
        matches!(
            kept.as_ref().err().and_then(Error::as_auth),
            Some(AuthError::RotatedTokensNotSaved { .. })
        ),
        "the failed write is reported: {kept:?}"
    );
    // The other process still reads the spent refresh token, is refused it, and marks.
    let refused = list_contacts(&fast, &id).await;
    assert!(
        matches!(
            refused.as_ref().err().and_then(Error::as_auth),
            Some(AuthError::ReauthorizationNeeded { .. })
        ),
        "HighLevel refused the spent refresh token: {refused:?}"
    );
    assert!(
        stored_session(&fast, &location)
            .await
            .session
            .needs_reauthorization()
    );
    // The kept tokens are the only live ones: they replace that mark.
    list_contacts(&slow, &id)
        .await
        .expect("the slow process writes its kept tokens and uses them");
    let stored = stored_session(&fast, &location).await;
    assert!(!stored.session.needs_reauthorization(), "the mark is gone");
    list_contacts(&fast, &id)
        .await
        .expect("the other process uses the kept tokens");
    assert_eq!(sandbox.oauth_stats().refreshes, 1);
    // And their refresh token is the live one.
    age_session(&fast, location.clone()).await.expect("aged");
    let later = reopen(&sandbox, &fast, app_config(&sandbox)).expect("restarted");
    list_contacts(&later, &id).await.expect("refreshed again");
    assert_eq!(sandbox.oauth_stats().refreshes, 2);
}

#[tokio::test]
async fn a_hung_store_fails_the_call_at_the_store_timeout_and_keeps_rotated_tokens() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let shared: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let stalling = Arc::new(StallingStore::over(shared.clone()));
    let timeout = Duration::from_millis(200);
    let installer =
        handle(&sandbox, app_config(&sandbox).shared_store(shared.clone())).expect("handle");
    install(&installer, UserType::Location)
        .await
        .expect("installed");
    let location = Resource::Location(sandbox.location_id().to_owned());
    let id = sandbox.location_id().to_owned();
    age_session(&installer, location.clone())
        .await
        .expect("aged");
    let hl = handle(
        &sandbox,
        app_config(&sandbox)
            .shared_store(stalling.clone())
            .store_timeout(timeout),
    )
    .expect("handle");
    // A read that hangs: the call fails at the timeout, typed, instead of hanging with it.
    *stalling.stall_get.lock().expect("lock") = Some((1, Duration::from_secs(3600)));
    let started = std::time::Instant::now();
    let hung = list_contacts(&hl, &id).await;
    assert!(
        matches!(
            hung.as_ref().err().and_then(Error::as_auth),
            Some(AuthError::Store(StoreError::Timeout {
                operation: "get",
                ..
            }))
        ),
        "a typed timeout: {hung:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // A write of rotated tokens that hangs: they are kept, and written by the next call.
    *stalling.stall_next_put.lock().expect("lock") = Some(Duration::from_secs(3600));
    let unsaved = list_contacts(&hl, &id).await;
    assert!(
        matches!(
            unsaved.as_ref().err().and_then(Error::as_auth),
            Some(AuthError::RotatedTokensNotSaved {
                source: StoreError::Timeout {
                    operation: "put",
                    ..
                },
                ..
            })
        ),
        "the kept tokens are reported: {unsaved:?}"
    );
    assert_eq!(sandbox.oauth_stats().refreshes, 1);
    list_contacts(&hl, &id)
        .await
        .expect("the kept tokens are written and used");
    assert_eq!(sandbox.oauth_stats().refreshes, 1, "no second refresh");
    let stored = shared
        .get(&hl.oauth_app().expect("oauth").key(location))
        .await
        .expect("store")
        .expect("stored");
    assert!(!stored.session.needs_reauthorization());
}

#[tokio::test]
async fn a_refusal_after_another_process_renewed_uses_its_tokens() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (slow, stalling, fast, location) = two_processes_racing(&sandbox).await;
    let id = sandbox.location_id().to_owned();
    // The slow process's third read (the one inside its lease, before it refreshes) answers
    // the due session late: past its lease, after the fast one has refreshed and stored.
    *stalling.stall_get.lock().expect("lock") = Some((3, Duration::from_millis(600)));
    let slow_call = tokio::spawn({
        let slow = slow.clone();
        let id = id.clone();
        async move { list_contacts(&slow, &id).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    list_contacts(&fast, &id)
        .await
        .expect("the fast process refreshes in the expired lease");
    slow_call
        .await
        .expect("task")
        .expect("the slow process's refused refresh ends on the fast one's tokens");
    let stored = stored_session(&fast, &location).await;
    assert!(!stored.session.needs_reauthorization(), "nothing marked");
    assert_eq!(sandbox.oauth_stats().refreshes, 1);
}
