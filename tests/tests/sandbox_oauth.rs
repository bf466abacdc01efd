//! The sandbox's OAuth endpoints with raw requests, for what the SDK never sends: bad
//! clients and redirects, wrong content types, reused codes and refresh tokens, the wrong
//! token kind, out-of-range paging.

use highlevel_sandbox::{RunningSandbox, Sandbox};
use serde_json::Value;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn code(sandbox: &RunningSandbox, extra: &[(&str, &str)]) -> String {
    let mut query = vec![
        ("response_type", "code".to_owned()),
        ("client_id", sandbox.client_id()),
        ("redirect_uri", "http://127.0.0.1:1/cb?keep=1".to_owned()),
        ("state", "s t&ate".to_owned()),
    ];
    query.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let page = browser()
        .get(format!("{}/v2/oauth/chooselocation", sandbox.url()))
        .query(&query)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 303, "{:?}", page.text().await);
    let location = page.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    let url = reqwest::Url::parse(&location).expect("a URL");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("keep".into(), "1".into())), "{location}");
    assert!(
        pairs.contains(&("state".into(), "s t&ate".into())),
        "{location}"
    );
    pairs
        .into_iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v)
        .expect("a code")
}

async fn token(sandbox: &RunningSandbox, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("client_id", sandbox.client_id()),
        ("client_secret", sandbox.client_secret()),
    ];
    form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let answer = reqwest::Client::new()
        .post(format!("{}/oauth/token", sandbox.url()))
        .form(&form)
        .send()
        .await
        .expect("sent");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

#[tokio::test]
async fn bad_authorization_requests_get_400_never_a_redirect() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let client = sandbox.client_id();
    for query in [
        vec![
            ("response_type", "token"),
            ("client_id", client.as_str()),
            ("redirect_uri", "http://x/cb"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", "someone-else"),
            ("redirect_uri", "http://x/cb"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "/relative"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "http://x/cb"),
            ("location_id", "notInstalled"),
        ],
    ] {
        let page = browser()
            .get(format!("{}/v2/oauth/chooselocation", sandbox.url()))
            .query(&query)
            .send()
            .await
            .expect("page");
        assert_eq!(page.status().as_u16(), 400, "{query:?}");
        assert!(page.headers().get("location").is_none());
    }
    assert_eq!(sandbox.oauth_stats().codes_issued, 0);
}

#[tokio::test]
async fn codes_and_refresh_tokens_are_single_use() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let code = code(&sandbox, &[]).await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:1/cb?keep=1"),
        ("user_type", "Location"),
    ];
    let (status, first) = token(&sandbox, &exchange).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(text(&first, "userType"), "Location");
    assert_eq!(text(&first, "locationId"), sandbox.location_id());
    assert_eq!(first["expires_in"], 86_399);
    let (status, again) = token(&sandbox, &exchange).await;
    assert_eq!((status, text(&again, "error")), (400, "invalid_grant"));

    let old = text(&first, "refresh_token").to_owned();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", old.as_str()),
    ];
    let (status, rotated) = token(&sandbox, &refresh).await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(text(&rotated, "refresh_token"), old);
    let (status, reused) = token(&sandbox, &refresh).await;
    assert_eq!((status, text(&reused, "error")), (400, "invalid_grant"));
    let stats = sandbox.oauth_stats();
    assert_eq!(
        (stats.refreshes, stats.refresh_token_reuses),
        (1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn the_token_endpoint_checks_client_grant_and_content_type() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let wrong = reqwest::Client::new()
        .post(format!("{}/oauth/token", sandbox.url()))
        .form(&[
            ("client_id", sandbox.client_id().as_str()),
            ("client_secret", "nope"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status().as_u16(), 401);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(text(&body, "error"), "invalid_client");
    assert!(!body.to_string().contains("nope"));

    let json = reqwest::Client::new()
        .post(format!("{}/oauth/token", sandbox.url()))
        .json(&serde_json::json!({ "client_id": sandbox.client_id() }))
        .send()
        .await
        .expect("sent");
    assert_eq!(json.status().as_u16(), 415);

    let (status, body) = token(&sandbox, &[("grant_type", "password")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = token(&sandbox, &[("grant_type", "refresh_token")]).await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn agency_endpoints_want_an_agency_token_of_that_company() {
    let sandbox = Sandbox::builder()
        .installed_locations(25)
        .serve()
        .await
        .expect("sandbox");
    let company_code = code(&sandbox, &[("user_type", "Company")]).await;
    let (_, agency) = token(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", company_code.as_str()),
        ],
    )
    .await;
    assert_eq!(text(&agency, "userType"), "Company");
    let location_code = code(&sandbox, &[]).await;
    let (_, location) = token(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", location_code.as_str()),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let mint = |bearer: String, location_id: &str| {
        http.post(format!("{}/oauth/locationToken", sandbox.url()))
            .header("Version", "2021-07-28")
            .bearer_auth(bearer)
            .form(&[
                ("companyId", sandbox.company_id()),
                ("locationId", location_id.to_owned()),
            ])
            .send()
    };
    let minted = mint(text(&agency, "access_token").into(), "sbxInstalled00000007")
        .await
        .expect("sent");
    assert_eq!(minted.status().as_u16(), 200);
    let minted: Value = minted.json().await.expect("json");
    assert_eq!(text(&minted, "locationId"), "sbxInstalled00000007");
    assert!(!text(&minted, "refresh_token").is_empty());
    let as_location = mint(
        text(&location, "access_token").into(),
        "sbxInstalled00000007",
    )
    .await
    .expect("sent");
    assert_eq!(as_location.status().as_u16(), 401);
    let unknown = mint(text(&agency, "access_token").into(), "elsewhere")
        .await
        .expect("sent");
    assert_eq!(unknown.status().as_u16(), 400);

    let list = |skip: &str, limit: &str| {
        http.get(format!("{}/oauth/installedLocations", sandbox.url()))
            .header("Version", "2021-07-28")
            .bearer_auth(text(&agency, "access_token"))
            .query(&[
                ("companyId", sandbox.company_id().as_str()),
                ("appId", "sbxapp00000000000001"),
                ("skip", skip),
                ("limit", limit),
            ])
            .send()
    };
    let page: Value = list("20", "10")
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(page["count"], 26);
    let ids: Vec<&str> = page["locations"]
        .as_array()
        .map(|l| l.iter().filter_map(|x| x["_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids.len(), 6);
    assert_eq!(ids.first(), Some(&"sbxInstalled00000020"));
    assert_eq!(list("0", "0").await.expect("sent").status().as_u16(), 422);
    assert_eq!(list("x", "5").await.expect("sent").status().as_u16(), 422);
    assert_eq!(sandbox.oauth_stats().location_tokens, 1);
}

#[tokio::test]
async fn expired_access_tokens_get_401_and_are_counted() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let code = code(&sandbox, &[]).await;
    let (_, session) = token(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ],
    )
    .await;
    let list = || {
        reqwest::Client::new()
            .get(format!("{}/contacts/", sandbox.url()))
            .header("Version", "2021-07-28")
            .bearer_auth(text(&session, "access_token"))
            .query(&[("locationId", sandbox.location_id())])
            .send()
    };
    assert_eq!(list().await.expect("sent").status().as_u16(), 200);
    sandbox.expire_access_tokens();
    let refused = list().await.expect("sent");
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(sandbox.oauth_stats().expired_token_rejections, 1);
    // The private integration token is not an OAuth token and never expires.
    let private = reqwest::Client::new()
        .get(format!("{}/contacts/", sandbox.url()))
        .header("Version", "2021-07-28")
        .bearer_auth(sandbox.token())
        .query(&[("locationId", sandbox.location_id())])
        .send()
        .await
        .expect("sent");
    assert_eq!(private.status().as_u16(), 200);
}
