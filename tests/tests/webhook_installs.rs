//! INSTALL and UNINSTALL against the sandbox's OAuth endpoints over real HTTP: an install
//! is never lost, whether its webhook arrives before or after the agency's code exchange.

use highlevel::HighLevel;
use highlevel::auth::{OAuthApp, Resource, UserType};
use highlevel::webhooks::events::Event;
use highlevel::webhooks::installs::{InstallOutcome, Installs};
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
