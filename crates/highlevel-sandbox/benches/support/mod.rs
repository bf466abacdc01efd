//! What both benchmarks need: a handle on the sandbox's OAuth app, and an install through
//! the sandbox's authorization page (played as the admin's browser).

use highlevel::auth::{AuthorizationHost, OAuthConfig, UserType};
use highlevel::{HighLevel, RateLimitConfig};
use highlevel_sandbox::RunningSandbox;

pub fn handle(sandbox: &RunningSandbox, rate_limit: RateLimitConfig) -> HighLevel {
    HighLevel::builder()
        .base_url(sandbox.url())
        .oauth_app(
            OAuthConfig::new(sandbox.client_id(), sandbox.client_secret())
                .authorization_host(AuthorizationHost::Custom(sandbox.url().to_owned())),
        )
        .rate_limit(rate_limit)
        .build()
        .expect("handle")
}

pub async fn install(hl: &HighLevel, user_type: UserType) {
    let app = hl.oauth_app().expect("oauth");
    let mut builder = app.authorize("http://127.0.0.1:1/cb");
    if user_type == UserType::Company {
        builder = builder.agency();
    }
    let request = builder.build().expect("url");
    let mut url = request.url.clone();
    if user_type == UserType::Company {
        url.query_pairs_mut().append_pair("user_type", "Company");
    }
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser")
        .get(url)
        .send()
        .await
        .expect("page");
    let callback = page.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    app.complete_authorization(&callback, &request.pending)
        .await
        .expect("installed");
}
