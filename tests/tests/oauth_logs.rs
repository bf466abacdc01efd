//! A TRACE-level log of a whole OAuth session (install, mint, 401 and refresh, restart and
//! refresh ahead of expiry, mint every location) holds no token, secret, code or state.
//! Alone in a process of its own ([`crate::ran_alone`]): it installs the global subscriber.

use highlevel::auth::{Resource, UserType};
use highlevel::secrecy::ExposeSecret;
use highlevel_sandbox::Sandbox;
use highlevel_tests::log::CapturedLog;
use highlevel_tests::oauth::{age_session, app_config, authorize, handle, reopen};

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
#[tokio::test]
async fn a_trace_log_of_a_whole_session_holds_no_secret() {
    if crate::ran_alone(
        module_path!(),
        "a_trace_log_of_a_whole_session_holds_no_secret",
    ) {
        return;
    }
    let captured = CapturedLog::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let sandbox = Sandbox::builder()
        .installed_locations(2)
        .serve()
        .await
        .expect("sandbox");
    let config = app_config(&sandbox);
    let hl = handle(&sandbox, config).expect("handle");
    let app = hl.oauth_app().expect("oauth").clone();

    let (callback, pending) = authorize(&hl, UserType::Company).await.expect("page");
    let code = callback
        .split("code=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("a code")
        .to_owned();
    app.complete_authorization(&callback, &pending)
        .await
        .expect("installed");
    let company = sandbox.company_id();
    let location = sandbox.location_id().to_owned();
    let agency = hl.agency(&company);
    let call = || async {
        agency
            .location(&location)
            .contacts()
            .get_contacts()
            .location_id(location.as_str())
            .send()
            .await
    };
    call().await.expect("minted");
    sandbox.expire_access_tokens();
    call().await.expect("401, refreshed, retried");
    age_session(&hl, Resource::Location(location.clone()))
        .await
        .expect("aged");
    let restarted = reopen(&sandbox, &hl, app_config(&sandbox)).expect("restarted");
    restarted
        .agency(&company)
        .location(&location)
        .contacts()
        .get_contacts()
        .location_id(location.as_str())
        .send()
        .await
        .expect("refreshed ahead of expiry");
    app.mint_installed_locations(&company, 2)
        .await
        .expect("minted all");

    let mut secrets = vec![sandbox.client_secret(), code, pending.state.clone()];
    for resource in [
        Resource::Company(company.clone()),
        Resource::Location(location.clone()),
    ] {
        let stored = app.session(resource).await.expect("store").expect("stored");
        secrets.push(stored.session.access_token.expose_secret().to_owned());
        if let Some(refresh) = &stored.session.refresh_token {
            secrets.push(refresh.expose_secret().to_owned());
        }
    }
    let log = captured.text();
    assert!(
        log.contains("oauth: refreshing"),
        "the log is captured:\n{log}"
    );
    assert!(log.contains("TRACE"), "at TRACE level");
    let shown = format!("{log}\n{hl:?}\n{app:?}");
    for secret in &secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "a secret leaked into the log"
        );
    }
    let stats = sandbox.oauth_stats();
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
}
