//! OAuth against the sandbox: a handle configured as the sandbox's marketplace app, and the
//! install flow driven as a browser would (follow the authorization page's redirect, hand
//! the callback URL to the SDK).

use highlevel::HighLevel;
use highlevel::auth::{AuthorizationHost, Installed, OAuthConfig, UserType};
use highlevel_sandbox::RunningSandbox;

/// The sandbox's app, authorizing on the sandbox's own authorization page.
pub fn app_config(sandbox: &RunningSandbox) -> OAuthConfig {
    OAuthConfig::new(sandbox.client_id(), sandbox.client_secret())
        .authorization_host(AuthorizationHost::Custom(sandbox.url().to_owned()))
}

/// A handle on the sandbox authenticating as `config`'s app.
///
/// # Errors
///
/// When the handle cannot be built.
pub fn handle(sandbox: &RunningSandbox, config: OAuthConfig) -> Result<HighLevel, String> {
    HighLevel::builder()
        .base_url(sandbox.url())
        .oauth_app(config)
        .build()
        .map_err(|e| e.to_string())
}

/// Where the sandbox's authorization page redirects to, for `user_type` (the sandbox's
/// extension parameter picks an agency install).
///
/// # Errors
///
/// When the URL cannot be built or the page does not redirect.
pub async fn authorize(
    hl: &HighLevel,
    user_type: UserType,
) -> Result<(String, highlevel::auth::PendingAuthorization), String> {
    let app = hl.oauth_app().ok_or("not an OAuth handle")?;
    let mut builder = app
        .authorize("http://127.0.0.1:1/oauth/callback")
        .scope(highlevel::Scope::from("contacts.readonly"))
        .scope(highlevel::Scope::from("contacts.write"));
    if user_type == UserType::Company {
        builder = builder.agency();
    }
    let request = builder.build().map_err(|e| e.to_string())?;
    let mut url = request.url.clone();
    if user_type == UserType::Company {
        url.query_pairs_mut().append_pair("user_type", "Company");
    }
    highlevel::runtime::tls::install_crypto_provider().map_err(|e| e.to_string())?;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let page = browser.get(url).send().await.map_err(|e| e.to_string())?;
    let callback = page
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("the authorization page answered {}", page.status()))?
        .to_owned();
    Ok((callback, request.pending))
}

/// Installs the app (location or agency) through the full authorization flow.
///
/// # Errors
///
/// Any step's failure, as text.
pub async fn install(hl: &HighLevel, user_type: UserType) -> Result<Installed, String> {
    let (callback, pending) = authorize(hl, user_type).await?;
    let app = hl.oauth_app().ok_or("not an OAuth handle")?;
    app.complete_authorization(&callback, &pending)
        .await
        .map_err(|e| e.to_string())
}

/// Makes the stored session of `resource` look expired (HighLevel still accepts its access
/// token), as a process starting a day later finds it. Handles already running keep their
/// in-memory copy until it expires: give the aged store to a new handle.
///
/// # Errors
///
/// When there is no session or the store fails.
pub async fn age_session(
    hl: &HighLevel,
    resource: highlevel::auth::Resource,
) -> Result<(), String> {
    let app = hl.oauth_app().ok_or("not an OAuth handle")?;
    let key = app.key(resource);
    let stored = app
        .store()
        .get(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no session")?;
    let mut session = stored.session;
    session.expires_at_unix = Some(1);
    session.obtained_at_unix = 0;
    app.store()
        .put(
            &key,
            &session,
            highlevel::auth::Expected::Version(stored.version),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// A second handle on the same app and store, as a restarted (or another) process has.
///
/// # Errors
///
/// When the handle cannot be built.
pub fn reopen(
    sandbox: &RunningSandbox,
    hl: &HighLevel,
    config: OAuthConfig,
) -> Result<HighLevel, String> {
    let app = hl.oauth_app().ok_or("not an OAuth handle")?;
    handle(sandbox, config.shared_store(app.store().clone()))
}
