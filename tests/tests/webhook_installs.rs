//! INSTALL and UNINSTALL against the sandbox's OAuth endpoints over real HTTP: an install
//! is never lost, whether its webhook arrives before or after the agency's (or the
//! location's own) code exchange, and completing an agency's pending installs goes past a
//! location that fails. The Redis and PostgreSQL ones are ignored by plain `cargo test`
//! and need `HIGHLEVEL_TEST_REDIS_URL` / `HIGHLEVEL_TEST_POSTGRES_URL` (`cargo xtask
//! services` starts both for a shell).

use std::sync::Arc;

use highlevel::HighLevel;
use highlevel::auth::{OAuthApp, Resource, UserType};
use highlevel::webhooks::events::Event;
use highlevel::webhooks::installs::{
    InstallError, InstallOutcome, Installs, MemoryPendingInstalls, PendingFuture, PendingInstalls,
    PostgresPendingInstalls, RedisPendingInstalls,
};
use highlevel_sandbox::{RunningSandbox, Sandbox};
use highlevel_tests::oauth;
use serde_json::json;

const LOCATION: &str = "sbxInstalled00000001";

async fn sandbox() -> (RunningSandbox, HighLevel) {
    let sandbox = Sandbox::builder()
        .installed_locations(2)
        .serve()
        .await
        .expect("sandbox");
    let hl = oauth::handle(&sandbox, oauth::app_config(&sandbox)).expect("handle");
    (sandbox, hl)
}

fn event(value: serde_json::Value) -> Event {
    Event::from_value(value)
}

fn install(sandbox: &RunningSandbox, location: &str) -> Event {
    event(json!({
        "type": "INSTALL", "appId": "sbxapp", "companyId": sandbox.company_id(),
        "locationId": location, "userId": "u1", "companyName": "Sandbox Company"
    }))
}

fn uninstall(sandbox: &RunningSandbox, location: &str) -> Event {
    event(json!({
        "type": "UNINSTALL", "appId": "sbxapp", "companyId": sandbox.company_id(),
        "locationId": location
    }))
}

/// The agency admin consents on the sandbox's page; the callback goes through `installs`.
async fn agency_code_exchange(hl: &HighLevel, installs: &Installs) {
    let (callback, pending) = oauth::authorize(hl, UserType::Company)
        .await
        .expect("authorization page");
    let installed = installs
        .complete_authorization(&callback, &pending)
        .await
        .expect("code exchanged");
    assert!(matches!(installed.resource, Resource::Company(_)));
}

async fn has_session(app: &OAuthApp, location: &str) -> bool {
    app.session(Resource::Location(location.to_owned()))
        .await
        .expect("store")
        .is_some()
}

#[tokio::test]
async fn an_install_before_the_code_exchange_is_kept_and_completed_by_it() {
    let (sandbox, hl) = sandbox().await;
    let app = hl.oauth_app().expect("oauth app");
    let installs = Installs::new(app.clone());
    let outcome = installs
        .handle(&install(&sandbox, LOCATION))
        .await
        .expect("handled");
    assert_eq!(
        outcome,
        InstallOutcome::Pending {
            company: sandbox.company_id(),
            location: LOCATION.into()
        }
    );
    assert!(
        !has_session(app, LOCATION).await,
        "nothing to mint it from yet"
    );
    agency_code_exchange(&hl, &installs).await;
    assert!(
        has_session(app, LOCATION).await,
        "completed by the code exchange"
    );
    // HighLevel redelivers: handling it again is harmless.
    let again = installs
        .handle(&install(&sandbox, LOCATION))
        .await
        .expect("handled");
    assert!(
        matches!(again, InstallOutcome::LocationTokenStored { .. }),
        "{again:?}"
    );
}

#[tokio::test]
async fn an_install_after_the_code_exchange_mints_at_once_and_uninstall_forgets() {
    let (sandbox, hl) = sandbox().await;
    let app = hl.oauth_app().expect("oauth app");
    let installs = Installs::new(app.clone());
    agency_code_exchange(&hl, &installs).await;
    let outcome = installs
        .handle(&install(&sandbox, LOCATION))
        .await
        .expect("handled");
    assert_eq!(
        outcome,
        InstallOutcome::LocationTokenStored {
            company: sandbox.company_id(),
            location: LOCATION.into()
        }
    );
    assert!(has_session(app, LOCATION).await);
    for _ in 0..2 {
        let outcome = installs
            .handle(&uninstall(&sandbox, LOCATION))
            .await
            .expect("handled");
        assert_eq!(
            outcome,
            InstallOutcome::Forgotten(Resource::Location(LOCATION.into()))
        );
        assert!(!has_session(app, LOCATION).await);
    }
}

#[tokio::test]
async fn an_uninstall_before_the_code_exchange_cancels_the_pending_install() {
    let (sandbox, hl) = sandbox().await;
    let app = hl.oauth_app().expect("oauth app");
    let installs = Installs::new(app.clone());
    let other = "sbxInstalled00000002";
    installs
        .handle(&install(&sandbox, LOCATION))
        .await
        .expect("pending");
    installs
        .handle(&install(&sandbox, other))
        .await
        .expect("pending");
    installs
        .handle(&uninstall(&sandbox, LOCATION))
        .await
        .expect("cancelled");
    agency_code_exchange(&hl, &installs).await;
    assert!(
        !has_session(app, LOCATION).await,
        "uninstalled before it was completed"
    );
    assert!(
        has_session(app, other).await,
        "the other install was completed"
    );
    let outcome = installs
        .handle(&event(json!({ "type": "ContactCreate", "id": "c1" })))
        .await
        .expect("handled");
    assert_eq!(outcome, InstallOutcome::NotAnInstall);
}

/// The agency's exchange through `installs`, whose pending ones could not all be completed.
async fn incomplete_agency_code_exchange(
    hl: &HighLevel,
    installs: &Installs,
) -> highlevel::webhooks::installs::AgencyInstallReport {
    let (callback, pending) = oauth::authorize(hl, UserType::Company)
        .await
        .expect("authorization page");
    match installs.complete_authorization(&callback, &pending).await {
        Err(InstallError::Incomplete(report)) => report,
        other => panic!("expected an incomplete completion, got {other:?}"),
    }
}

#[tokio::test]
async fn a_location_installed_on_its_own_is_not_parked() {
    let (sandbox, hl) = sandbox().await;
    let app = hl.oauth_app().expect("oauth app");
    let pending = Arc::new(MemoryPendingInstalls::new());
    let installs = Installs::new(app.clone()).pending_store(pending.clone());
    let location = sandbox.location_id().to_owned();
    let (callback, authorization) = oauth::authorize(&hl, UserType::Location)
        .await
        .expect("authorization page");
    let installed = installs
        .complete_authorization(&callback, &authorization)
        .await
        .expect("code exchanged");
    assert_eq!(installed.resource, Resource::Location(location.clone()));
    assert!(
        app.session(Resource::Company(sandbox.company_id()))
            .await
            .expect("store")
            .is_none()
    );
    for _ in 0..2 {
        let outcome = installs
            .handle(&install(&sandbox, &location))
            .await
            .expect("handled");
        assert_eq!(outcome, InstallOutcome::NothingToMint { completed: 0 });
        assert!(
            pending
                .list(&sandbox.company_id())
                .await
                .expect("list")
                .is_empty(),
            "nothing waits for an agency that may never install"
        );
    }
    assert!(has_session(app, &location).await, "its own session is kept");
}

#[tokio::test]
async fn an_install_before_the_location_s_own_code_exchange_is_cleared_by_it() {
    let (sandbox, hl) = sandbox().await;
    let app = hl.oauth_app().expect("oauth app");
    let pending = Arc::new(MemoryPendingInstalls::new());
    let installs = Installs::new(app.clone()).pending_store(pending.clone());
    let location = sandbox.location_id().to_owned();
    let outcome = installs
        .handle(&install(&sandbox, &location))
        .await
        .expect("handled");
    assert_eq!(
        outcome,
        InstallOutcome::Pending {
            company: sandbox.company_id(),
            location: location.clone()
        }
    );
    let (callback, authorization) = oauth::authorize(&hl, UserType::Location)
        .await
        .expect("authorization page");
    let installed = installs
        .complete_authorization(&callback, &authorization)
        .await
        .expect("code exchanged");
    assert_eq!(installed.resource, Resource::Location(location.clone()));
    assert!(
        pending
            .list(&sandbox.company_id())
            .await
            .expect("list")
            .is_empty(),
        "the location's own exchange completed its install"
    );
    assert!(has_session(app, &location).await);
}

/// Two installed locations and, between them (the stores list in order), one HighLevel
/// refuses to mint (`sbxInstalled00000001-gone`, where the app is not installed).
async fn every_pending_location_is_tried(pending: Arc<dyn PendingInstalls>, company: &str) {
    let sandbox = Sandbox::builder()
        .installed_locations(2)
        .company_id(company)
        .serve()
        .await
        .expect("sandbox");
    let hl = oauth::handle(&sandbox, oauth::app_config(&sandbox)).expect("handle");
    let app = hl.oauth_app().expect("oauth app");
    let installs = Installs::new(app.clone()).pending_store(pending.clone());
    let (first, gone, third) = (
        "sbxInstalled00000001",
        "sbxInstalled00000001-gone",
        "sbxInstalled00000002",
    );
    for location in [first, gone, third] {
        let outcome = installs
            .handle(&install(&sandbox, location))
            .await
            .expect("handled");
        assert!(
            matches!(outcome, InstallOutcome::Pending { .. }),
            "{outcome:?}"
        );
    }
    let report = incomplete_agency_code_exchange(&hl, &installs).await;
    assert_eq!(report.company, company);
    assert_eq!(report.stored, [first, third], "past the failure");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, gone);
    assert!(
        matches!(report.failed[0].1, InstallError::Auth(_)),
        "{report:?}"
    );
    assert_eq!(
        pending.list(company).await.expect("list"),
        [gone],
        "only the failed one is still pending"
    );
    assert!(has_session(app, first).await);
    assert!(has_session(app, third).await);
    assert!(!has_session(app, gone).await);
    // The agency INSTALL (or its redelivery) tries the failed one again and answers an
    // error, so that HighLevel delivers it once more.
    let agency_install = event(json!({
        "type": "INSTALL", "appId": "sbxapp", "companyId": company,
        "companyName": "Sandbox Company"
    }));
    let error = installs
        .handle(&agency_install)
        .await
        .expect_err("still incomplete");
    let InstallError::Incomplete(again) = error else {
        panic!("{error:?}");
    };
    assert!(again.stored.is_empty(), "{again:?}");
    assert_eq!(again.failed.len(), 1, "{again:?}");
    assert_eq!(pending.list(company).await.expect("list"), [gone]);
    // Its UNINSTALL ends the wait.
    installs
        .handle(&event(json!({
            "type": "UNINSTALL", "appId": "sbxapp", "companyId": company, "locationId": gone
        })))
        .await
        .expect("uninstalled");
    let outcome = installs.handle(&agency_install).await.expect("complete");
    assert_eq!(outcome, InstallOutcome::NothingToMint { completed: 0 });
    assert!(pending.list(company).await.expect("list").is_empty());
}

#[tokio::test]
async fn completing_an_agency_goes_past_a_location_that_fails() {
    every_pending_location_is_tried(Arc::new(MemoryPendingInstalls::new()), "sbxCompany0001").await;
}

fn env_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run `cargo xtask services`"))
}

#[tokio::test]
#[ignore = "needs Redis: HIGHLEVEL_TEST_REDIS_URL"]
async fn completing_an_agency_on_redis_goes_past_a_location_that_fails() {
    let store = RedisPendingInstalls::connect(&env_url("HIGHLEVEL_TEST_REDIS_URL"))
        .await
        .expect("redis");
    let company = format!("redis-installs-{}", std::process::id());
    every_pending_location_is_tried(Arc::new(store), &company).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: HIGHLEVEL_TEST_POSTGRES_URL"]
async fn completing_an_agency_on_postgres_goes_past_a_location_that_fails() {
    let store = PostgresPendingInstalls::connect(&env_url("HIGHLEVEL_TEST_POSTGRES_URL"))
        .await
        .expect("postgres");
    let company = format!("pg-installs-{}", std::process::id());
    every_pending_location_is_tried(Arc::new(store), &company).await;
}

/// Pending installs in memory whose store fails to drop one location.
#[derive(Debug)]
struct FailsToDrop {
    inner: MemoryPendingInstalls,
    location: &'static str,
}

impl PendingInstalls for FailsToDrop {
    fn add<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        self.inner.add(company, location)
    }

    fn list<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        self.inner.list(company)
    }

    fn take_all<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        self.inner.take_all(company)
    }

    fn remove<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        if location == self.location {
            return Box::pin(async { Err("connection reset".to_owned()) });
        }
        self.inner.remove(company, location)
    }
}

#[tokio::test]
async fn a_pending_store_failure_while_completing_is_reported_and_loses_nothing() {
    let (sandbox, hl) = sandbox().await;
    let app = hl.oauth_app().expect("oauth app");
    let (first, second) = ("sbxInstalled00000001", "sbxInstalled00000002");
    let pending = Arc::new(FailsToDrop {
        inner: MemoryPendingInstalls::new(),
        location: first,
    });
    let installs = Installs::new(app.clone()).pending_store(pending.clone());
    for location in [first, second] {
        installs
            .handle(&install(&sandbox, location))
            .await
            .expect("pending");
    }
    let report = incomplete_agency_code_exchange(&hl, &installs).await;
    assert_eq!(report.stored, [second]);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, first);
    assert!(
        matches!(&report.failed[0].1, InstallError::Pending(e) if e == "connection reset"),
        "{report:?}"
    );
    assert!(has_session(app, first).await, "its token was stored");
    assert_eq!(
        pending.list(&sandbox.company_id()).await.expect("list"),
        [first],
        "still pending, so completing it again is what happens next"
    );
}
