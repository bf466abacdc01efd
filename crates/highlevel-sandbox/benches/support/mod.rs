//! What the benchmarks share: a handle on the sandbox's OAuth app, an install through the
//! sandbox's authorization page (played as the admin's browser), and the sandbox program
//! in a process of its own. Not every bench uses every helper.

#![allow(dead_code)]

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
    highlevel::runtime::tls::install_crypto_provider().expect("crypto provider");
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

/// The sandbox as a separate process, so that its work does not share the client's threads.
pub struct SandboxProgram {
    pub url: String,
    _process: tokio::process::Child,
}

impl SandboxProgram {
    /// Starts `highlevel-sandbox` with `args` and waits until it listens.
    pub async fn start(args: &[&str]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_highlevel-sandbox"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the sandbox program starts");
        let stdout = process.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await.expect("sandbox output") {
            if let Some(url) = line.strip_prefix("HighLevel sandbox listening on ") {
                let url = url.trim().to_owned();
                // Keep reading: a closed pipe would fail the program's next print.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Self {
                    url,
                    _process: process,
                };
            }
        }
        panic!("the sandbox program exited before listening");
    }
}
