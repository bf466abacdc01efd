//! The sandbox's OAuth endpoints with raw requests, for what the SDK never sends: bad
//! clients and redirects, wrong content types, reused codes and refresh tokens, the wrong
//! token kind, out-of-range paging; and API v3's side: camelCase token requests and answers,
//! `/oauth/location-token` and `/oauth/installed-locations` with page tokens.

use std::time::Duration;

use highlevel_sandbox::{RunningSandbox, Sandbox};
use serde_json::Value;

const CALLBACK: &str = "http://127.0.0.1:1/cb?keep=1";
const APP_ID: &str = "sbxapp00000000000001";

fn browser() -> reqwest::Client {
    highlevel_tests::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Opens the authorization page with `extra` parameters and returns the code it redirects
/// with, after checking the redirect keeps the callback's query and echoes the state.
async fn code(sandbox: &RunningSandbox, extra: &[(&str, &str)]) -> String {
    let mut query = vec![
        ("response_type", "code".to_owned()),
        ("client_id", sandbox.client_id()),
        ("redirect_uri", CALLBACK.to_owned()),
        ("scope", "contacts.readonly contacts.write".to_owned()),
        ("state", "s t&ate=/é".to_owned()),
        ("loginWindowOpenMode", "self".to_owned()),
    ];
    query.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let page = browser()
        .get(format!("{}/v2/oauth/chooselocation", sandbox.url()))
        .query(&query)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 302, "{:?}", page.text().await);
    let location = page.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(location.starts_with("http://127.0.0.1:1/cb?keep=1&code="));
    let url = reqwest::Url::parse(&location).expect("a URL");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("keep".into(), "1".into())), "{location}");
    assert!(
        pairs.contains(&("state".into(), "s t&ate=/é".into())),
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
    let answer = highlevel_tests::http_client()
        .post(format!("{}/oauth/token", sandbox.url()))
        .form(&form)
        .send()
        .await
        .expect("sent");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// A session from a fresh code: `extra` goes to the authorization page.
async fn install(sandbox: &RunningSandbox, extra: &[(&str, &str)]) -> Value {
    let code = code(sandbox, extra).await;
    let (status, session) = token(
        sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_eq!(status, 200, "{session}");
    session
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

async fn list_contacts(sandbox: &RunningSandbox, bearer: &str) -> u16 {
    highlevel_tests::http_client()
        .get(format!("{}/contacts/", sandbox.url()))
        .header("Version", "2021-07-28")
        .bearer_auth(bearer)
        .query(&[("locationId", sandbox.location_id())])
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

/// `invalid_grant` with the RFC's fields and HighLevel's beside them.
fn assert_invalid_grant(status: u16, body: &Value) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(text(body, "error"), "invalid_grant", "{body}");
    assert!(!text(body, "error_description").is_empty(), "{body}");
    assert_eq!(text(body, "message"), text(body, "error_description"));
    assert_eq!(body["statusCode"], 400);
    assert!(!text(body, "traceId").is_empty(), "{body}");
}

#[tokio::test]
async fn the_authorization_page_redirects_with_code_and_state() {
    let sandbox = Sandbox::builder()
        .installed_locations(2)
        .serve()
        .await
        .expect("sandbox");
    let session = install(&sandbox, &[]).await;
    assert_eq!(text(&session, "userType"), "Location");
    assert_eq!(text(&session, "locationId"), sandbox.location_id());
    assert_eq!(text(&session, "scope"), "contacts.readonly contacts.write");
    let picked = install(&sandbox, &[("location_id", "sbxInstalled00000002")]).await;
    assert_eq!(text(&picked, "locationId"), "sbxInstalled00000002");
    assert_ne!(
        text(&picked, "access_token"),
        text(&session, "access_token")
    );
    let agency = install(&sandbox, &[("user_type", "Company")]).await;
    assert_eq!(text(&agency, "userType"), "Company");
    assert_eq!(text(&agency, "companyId"), sandbox.company_id());
    assert!(agency.get("locationId").is_none(), "{agency}");
    assert_eq!(
        agency["approvedLocations"],
        serde_json::json!(sandbox.installed_location_ids())
    );
    assert_eq!(agency["isBulkInstallation"], false);
    let stats = sandbox.oauth_stats();
    assert_eq!((stats.codes_issued, stats.code_exchanges), (3, 3));
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
            ("client_id", client.as_str()),
            ("redirect_uri", "http://x/cb"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", "someone-else"),
            ("redirect_uri", "http://x/cb"),
        ],
        vec![("response_type", "code"), ("redirect_uri", "http://x/cb")],
        vec![
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "/relative"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "javascript:alert(1)"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "http://x/cb#frag"),
        ],
        vec![("response_type", "code"), ("client_id", client.as_str())],
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
        let body: Value = page.json().await.expect("shaped");
        assert_eq!(body["statusCode"], 400, "{body}");
        assert!(!text(&body, "traceId").is_empty(), "{body}");
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
        ("redirect_uri", CALLBACK),
        ("user_type", "Location"),
    ];
    let (status, first) = token(&sandbox, &exchange).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(text(&first, "token_type"), "Bearer");
    assert_eq!(first["expires_in"], 86_399);
    assert_eq!(text(&first, "userId"), "sbxUser0000000000001");
    let (status, again) = token(&sandbox, &exchange).await;
    assert_invalid_grant(status, &again);

    let old = text(&first, "refresh_token").to_owned();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", old.as_str()),
        ("user_type", "Location"),
    ];
    let (status, rotated) = token(&sandbox, &refresh).await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(text(&rotated, "refresh_token"), old);
    assert_ne!(text(&rotated, "access_token"), text(&first, "access_token"));
    assert_eq!(text(&rotated, "scope"), text(&first, "scope"));
    let (status, reused) = token(&sandbox, &refresh).await;
    assert_invalid_grant(status, &reused);
    assert!(!reused.to_string().contains(&old));
    // The access token of before the refresh lives until its own expiry, as on HighLevel.
    assert_eq!(
        list_contacts(&sandbox, text(&first, "access_token")).await,
        200
    );
    // The rotated refresh token works once more.
    let next = text(&rotated, "refresh_token").to_owned();
    let (status, _) = token(
        &sandbox,
        &[("grant_type", "refresh_token"), ("refresh_token", &next)],
    )
    .await;
    assert_eq!(status, 200);
    let (status, unknown) = token(
        &sandbox,
        &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
    )
    .await;
    assert_invalid_grant(status, &unknown);
    let stats = sandbox.oauth_stats();
    assert_eq!(
        (
            stats.code_exchanges,
            stats.refreshes,
            stats.refresh_token_reuses
        ),
        (1, 2, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn codes_are_bound_to_redirect_uri_and_user_type() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    for (field, value) in [
        ("redirect_uri", "http://127.0.0.1:1/elsewhere"),
        ("user_type", "Company"),
    ] {
        let code = code(&sandbox, &[]).await;
        let (status, body) = token(
            &sandbox,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                (field, value),
            ],
        )
        .await;
        assert_invalid_grant(status, &body);
        // Spent by the failed attempt.
        let (status, body) = token(
            &sandbox,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
            ],
        )
        .await;
        assert_invalid_grant(status, &body);
    }
    // A refresh token of a location session is not a Company one.
    let session = install(&sandbox, &[]).await;
    let (status, body) = token(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", text(&session, "refresh_token")),
            ("user_type", "Company"),
        ],
    )
    .await;
    assert_invalid_grant(status, &body);
    assert_eq!(sandbox.oauth_stats().code_exchanges, 1);
}

#[tokio::test]
async fn the_token_endpoint_checks_client_grant_and_content_type() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    for (client, secret) in [
        (sandbox.client_id(), "nope-secret".to_owned()),
        ("other-client".to_owned(), sandbox.client_secret()),
    ] {
        let wrong = highlevel_tests::http_client()
            .post(format!("{}/oauth/token", sandbox.url()))
            .form(&[
                ("client_id", client.as_str()),
                ("client_secret", secret.as_str()),
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
            ])
            .send()
            .await
            .expect("sent");
        assert_eq!(wrong.status().as_u16(), 401);
        let body: Value = wrong.json().await.expect("json");
        assert_eq!(text(&body, "error"), "invalid_client", "{body}");
        assert!(!text(&body, "error_description").is_empty(), "{body}");
        assert_eq!(body["statusCode"], 401);
        assert!(!text(&body, "traceId").is_empty(), "{body}");
        assert!(!body.to_string().contains("nope-secret"));
        assert!(!body.to_string().contains(&sandbox.client_secret()));
    }

    let json = highlevel_tests::http_client()
        .post(format!("{}/oauth/token", sandbox.url()))
        .json(&serde_json::json!({ "client_id": sandbox.client_id() }))
        .send()
        .await
        .expect("sent");
    assert_eq!(json.status().as_u16(), 415);
    let body: Value = json.json().await.expect("shaped");
    assert_eq!(body["statusCode"], 415);

    let (status, body) = token(&sandbox, &[("grant_type", "password")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = token(&sandbox, &[("grant_type", "refresh_token")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].is_array(), "{body}");
    let (status, body) = token(&sandbox, &[("grant_type", "authorization_code")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = token(&sandbox, &[]).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = token(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("user_type", "Agency"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(sandbox.oauth_stats(), Default::default());
}

#[tokio::test]
async fn expired_access_tokens_get_401_and_are_counted() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let session = install(&sandbox, &[]).await;
    let access = text(&session, "access_token");
    assert_eq!(list_contacts(&sandbox, access).await, 200);
    sandbox.expire_access_tokens();
    let refused = highlevel_tests::http_client()
        .get(format!("{}/contacts/", sandbox.url()))
        .header("Version", "2021-07-28")
        .bearer_auth(access)
        .query(&[("locationId", sandbox.location_id())])
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 401);
    let body: Value = refused.json().await.expect("shaped");
    assert_eq!(text(&body, "message"), "Invalid JWT");
    assert!(!body.to_string().contains(access));
    assert_eq!(sandbox.oauth_stats().expired_token_rejections, 1);
    // An unknown token is refused alike but is no expired one.
    assert_eq!(list_contacts(&sandbox, "sbx-at-unknown").await, 401);
    assert_eq!(sandbox.oauth_stats().expired_token_rejections, 1);
    // The private integration token is not an OAuth token and never expires.
    assert_eq!(list_contacts(&sandbox, sandbox.token()).await, 200);
    // The refresh token still works, and its new access token is live.
    let (status, rotated) = token(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", text(&session, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        list_contacts(&sandbox, text(&rotated, "access_token")).await,
        200
    );
}

#[tokio::test]
async fn access_tokens_expire_on_the_clock() {
    let sandbox = Sandbox::builder()
        .access_token_ttl(Duration::from_secs(1))
        .serve()
        .await
        .expect("sandbox");
    let session = install(&sandbox, &[]).await;
    assert_eq!(session["expires_in"], 1);
    let access = text(&session, "access_token");
    assert_eq!(list_contacts(&sandbox, access).await, 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(list_contacts(&sandbox, access).await, 401);
    assert_eq!(sandbox.oauth_stats().expired_token_rejections, 1);
}

#[tokio::test]
async fn tokens_only_open_their_own_resource() {
    let sandbox = Sandbox::builder()
        .installed_locations(1)
        .serve()
        .await
        .expect("sandbox");
    let other = install(&sandbox, &[("location_id", "sbxInstalled00000001")]).await;
    assert_eq!(
        list_contacts(&sandbox, text(&other, "access_token")).await,
        403
    );
    let agency = install(&sandbox, &[("user_type", "Company")]).await;
    assert_eq!(
        list_contacts(&sandbox, text(&agency, "access_token")).await,
        401
    );
}

async fn mint(
    sandbox: &RunningSandbox,
    bearer: &str,
    company_id: &str,
    location_id: &str,
) -> (u16, Value) {
    let answer = highlevel_tests::http_client()
        .post(format!("{}/oauth/locationToken", sandbox.url()))
        .header("Version", "2021-07-28")
        .bearer_auth(bearer)
        .form(&[("companyId", company_id), ("locationId", location_id)])
        .send()
        .await
        .expect("sent");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn location_tokens_need_an_agency_token_of_that_company() {
    let sandbox = Sandbox::builder()
        .installed_locations(25)
        .serve()
        .await
        .expect("sandbox");
    let company = sandbox.company_id();
    let agency = install(&sandbox, &[("user_type", "Company")]).await;
    let agency_token = text(&agency, "access_token");
    let (status, minted) = mint(&sandbox, agency_token, &company, "sbxInstalled00000007").await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(text(&minted, "locationId"), "sbxInstalled00000007");
    assert_eq!(text(&minted, "userType"), "Location");
    assert_eq!(text(&minted, "companyId"), company);
    assert_eq!(text(&minted, "appId"), APP_ID);
    assert_eq!(text(&minted, "token_type"), "Bearer");
    assert_eq!(text(&minted, "scope"), text(&agency, "scope"));
    assert_eq!(minted["expires_in"], 86_399);
    // The minted refresh token is single-use like every other.
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", text(&minted, "refresh_token")),
        ("user_type", "Location"),
    ];
    let (status, _) = token(&sandbox, &refresh).await;
    assert_eq!(status, 200);
    let (status, body) = token(&sandbox, &refresh).await;
    assert_invalid_grant(status, &body);

    let location = install(&sandbox, &[]).await;
    let (status, body) = mint(
        &sandbox,
        text(&location, "access_token"),
        &company,
        "sbxInstalled00000007",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = mint(
        &sandbox,
        agency_token,
        "otherCompany",
        "sbxInstalled00000007",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = mint(&sandbox, agency_token, &company, "elsewhere").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = mint(&sandbox, agency_token, &company, "").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = mint(&sandbox, "sbx-at-unknown", &company, "sbxInstalled00000007").await;
    assert_eq!((status, text(&body, "message")), (401, "Invalid JWT"));
    let no_version = highlevel_tests::http_client()
        .post(format!("{}/oauth/locationToken", sandbox.url()))
        .bearer_auth(agency_token)
        .form(&[
            ("companyId", company.as_str()),
            ("locationId", "sbxInstalled00000007"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(no_version.status().as_u16(), 422);
    sandbox.expire_access_tokens();
    let (status, _) = mint(&sandbox, agency_token, &company, "sbxInstalled00000007").await;
    assert_eq!(status, 401);
    let stats = sandbox.oauth_stats();
    assert_eq!(
        (stats.location_tokens, stats.expired_token_rejections),
        (1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn installed_locations_are_paged_with_skip_and_limit() {
    let sandbox = Sandbox::builder()
        .installed_locations(25)
        .serve()
        .await
        .expect("sandbox");
    let ids_all = sandbox.installed_location_ids();
    assert_eq!(ids_all.len(), 26);
    assert_eq!(ids_all[0], sandbox.location_id());
    assert_eq!(ids_all[25], "sbxInstalled00000025");
    let company = sandbox.company_id();
    let agency = install(&sandbox, &[("user_type", "Company")]).await;
    let list = |bearer: String, query: Vec<(&'static str, String)>| {
        let url = format!("{}/oauth/installedLocations", sandbox.url());
        async move {
            let answer = highlevel_tests::http_client()
                .get(url)
                .header("Version", "2021-07-28")
                .bearer_auth(bearer)
                .query(&query)
                .send()
                .await
                .expect("sent");
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let bearer = text(&agency, "access_token").to_owned();
    let query = |skip: &str, limit: &str| {
        let mut query = vec![
            ("companyId", company.clone()),
            ("appId", APP_ID.to_owned()),
            ("isInstalled", "true".to_owned()),
        ];
        if !skip.is_empty() {
            query.push(("skip", skip.to_owned()));
        }
        if !limit.is_empty() {
            query.push(("limit", limit.to_owned()));
        }
        query
    };
    let ids = |page: &Value| -> Vec<String> {
        page["locations"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x["_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };

    let (status, first) = list(bearer.clone(), query("", "")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["count"], 26);
    assert_eq!(ids(&first), ids_all[..20].to_vec(), "default limit 20");
    let entry = &first["locations"][0];
    assert_eq!(entry["isInstalled"], true);
    assert!(entry["name"].is_string() && entry["address"].is_string());

    let (_, page) = list(bearer.clone(), query("20", "10")).await;
    assert_eq!(page["count"], 26);
    assert_eq!(ids(&page), ids_all[20..].to_vec());
    let (_, page) = list(bearer.clone(), query("5", "3")).await;
    assert_eq!(ids(&page), ids_all[5..8].to_vec());
    let (_, page) = list(bearer.clone(), query("26", "10")).await;
    assert_eq!((page["count"].as_u64(), ids(&page).len()), (Some(26), 0));
    // Walking the pages the way a client does yields every location once, in order.
    let mut walked = Vec::new();
    loop {
        let (_, page) = list(bearer.clone(), query(&walked.len().to_string(), "7")).await;
        let got = ids(&page);
        if got.is_empty() {
            break;
        }
        walked.extend(got);
    }
    assert_eq!(walked, ids_all);
    let (_, none) = list(
        bearer.clone(),
        vec![
            ("companyId", company.clone()),
            ("appId", APP_ID.to_owned()),
            ("isInstalled", "false".to_owned()),
        ],
    )
    .await;
    assert_eq!((none["count"].as_u64(), ids(&none).len()), (Some(0), 0));

    for (skip, limit) in [("0", "0"), ("x", "5"), ("-1", "5"), ("0", "501")] {
        let (status, body) = list(bearer.clone(), query(skip, limit)).await;
        assert_eq!(status, 422, "{skip} {limit}: {body}");
        assert!(body["message"].is_array(), "{body}");
    }
    let (status, _) = list(bearer.clone(), query("0", "500")).await;
    assert_eq!(status, 200);
    let mut wrong_app = query("", "");
    wrong_app[1].1 = "someOtherApp".into();
    let (status, _) = list(bearer.clone(), wrong_app).await;
    assert_eq!(status, 422);
    let mut no_app = query("", "");
    no_app.remove(1);
    let (status, _) = list(bearer.clone(), no_app).await;
    assert_eq!(status, 422);
    let mut other_company = query("", "");
    other_company[0].1 = "otherCompany".into();
    let (status, _) = list(bearer.clone(), other_company).await;
    assert_eq!(status, 403);
    let location = install(&sandbox, &[]).await;
    let (status, _) = list(text(&location, "access_token").to_owned(), query("", "")).await;
    assert_eq!(status, 403);
    let (status, _) = list("sbx-at-unknown".to_owned(), query("", "")).await;
    assert_eq!(status, 401);
}

// ---- API v3's OAuth: camelCase token requests, the kebab-case agency routes ----

/// A token request in v3's camelCase (`clientId`, `clientSecret` added), `Version: v3`.
async fn token_v3(sandbox: &RunningSandbox, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("clientId", sandbox.client_id()),
        ("clientSecret", sandbox.client_secret()),
    ];
    form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let answer = highlevel_tests::http_client()
        .post(format!("{}/oauth/token", sandbox.url()))
        .header("Version", "v3")
        .form(&form)
        .send()
        .await
        .expect("sent");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn camel_case_token_requests_get_camel_case_answers() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let code = code(&sandbox, &[]).await;
    let (status, session) = token_v3(
        &sandbox,
        &[
            ("grantType", "authorization_code"),
            ("code", code.as_str()),
            ("redirectUri", CALLBACK),
            ("userType", "Location"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{session}");
    for field in ["accessToken", "refreshToken", "tokenType"] {
        assert!(!text(&session, field).is_empty(), "{field}: {session}");
    }
    assert_eq!(session["expiresIn"], 86_399);
    for snake in ["access_token", "refresh_token", "token_type", "expires_in"] {
        assert!(session.get(snake).is_none(), "{snake}: {session}");
    }
    assert_eq!(text(&session, "userType"), "Location");
    assert_eq!(text(&session, "locationId"), sandbox.location_id());
    assert_eq!(
        list_contacts(&sandbox, text(&session, "accessToken")).await,
        200
    );

    // Refresh in camelCase; the old refresh token is spent for either casing.
    let refresh_token = text(&session, "refreshToken").to_owned();
    let refresh = [
        ("grantType", "refresh_token"),
        ("refreshToken", refresh_token.as_str()),
        ("userType", "Location"),
    ];
    let (status, renewed) = token_v3(&sandbox, &refresh).await;
    assert_eq!(status, 200, "{renewed}");
    assert!(!text(&renewed, "accessToken").is_empty(), "{renewed}");
    let (status, body) = token(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
        ],
    )
    .await;
    assert_invalid_grant(status, &body);
    assert_eq!(sandbox.oauth_stats().refresh_token_reuses, 1);

    // A snake_case refresh of the camelCase pair is answered in snake_case.
    let (status, snake) = token(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", text(&renewed, "refreshToken")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{snake}");
    assert!(!text(&snake, "access_token").is_empty(), "{snake}");
    assert!(snake.get("accessToken").is_none(), "{snake}");

    // Fields of the other casing are not read: the camelCase names are reported missing.
    let (status, body) = token_v3(&sandbox, &[("grant_type", "refresh_token")]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        serde_json::json!(["grantType should not be empty"])
    );
    let (status, body) = token_v3(
        &sandbox,
        &[("grantType", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        serde_json::json!(["refreshToken should not be empty"])
    );
    let (status, body) = token_v3(
        &sandbox,
        &[
            ("grantType", "refresh_token"),
            ("refreshToken", "x"),
            ("userType", "Agency"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = token_v3(&sandbox, &[("grantType", "password")]).await;
    assert_eq!(status, 422, "{body}");
}

async fn mint_v3(
    sandbox: &RunningSandbox,
    bearer: &str,
    version: Option<&str>,
    location_id: &str,
) -> (u16, Value) {
    let mut request = highlevel_tests::http_client()
        .post(format!("{}/oauth/location-token", sandbox.url()))
        .bearer_auth(bearer)
        .form(&[
            ("companyId", sandbox.company_id().as_str()),
            ("locationId", location_id),
        ]);
    if let Some(version) = version {
        request = request.header("Version", version);
    }
    let answer = request.send().await.expect("sent");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn v3_location_tokens_take_version_v3_and_answer_in_camel_case() {
    let sandbox = Sandbox::builder()
        .installed_locations(3)
        .serve()
        .await
        .expect("sandbox");
    let agency = install(&sandbox, &[("user_type", "Company")]).await;
    let bearer = text(&agency, "access_token");
    let (status, minted) = mint_v3(&sandbox, bearer, Some("v3"), "sbxInstalled00000002").await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(text(&minted, "locationId"), "sbxInstalled00000002");
    assert_eq!(text(&minted, "tokenType"), "Bearer");
    assert_eq!(text(&minted, "appId"), APP_ID);
    assert_eq!(minted["expiresIn"], 86_399);
    assert!(!text(&minted, "refreshToken").is_empty(), "{minted}");
    // v3's answer declares neither.
    assert!(minted.get("userType").is_none(), "{minted}");
    assert!(minted.get("companyId").is_none(), "{minted}");
    assert!(minted.get("access_token").is_none(), "{minted}");
    assert_eq!(
        list_contacts(&sandbox, text(&minted, "accessToken")).await,
        403,
        "a token of another location than the sandbox's own"
    );
    for version in [None, Some("2021-07-28"), Some("v4")] {
        let (status, body) = mint_v3(&sandbox, bearer, version, "sbxInstalled00000002").await;
        assert_eq!(status, 422, "{version:?}: {body}");
        assert_eq!(
            body["message"],
            serde_json::json!(["version must be one of the following values: v3"])
        );
    }
    // v2's path takes v3's Version too, and answers as it always did.
    let (status, body) = mint(
        &sandbox,
        bearer,
        &sandbox.company_id(),
        "sbxInstalled00000001",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v3_on_v2 = highlevel_tests::http_client()
        .post(format!("{}/oauth/locationToken", sandbox.url()))
        .header("Version", "v3")
        .bearer_auth(bearer)
        .form(&[
            ("companyId", sandbox.company_id().as_str()),
            ("locationId", "sbxInstalled00000003"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(v3_on_v2.status().as_u16(), 200);
    let body: Value = v3_on_v2.json().await.expect("json");
    assert_eq!(text(&body, "userType"), "Location", "{body}");
    assert_eq!(sandbox.oauth_stats().location_tokens, 3);
}

#[tokio::test]
async fn v3_installed_locations_are_paged_with_page_tokens() {
    let sandbox = Sandbox::builder()
        .installed_locations(25)
        .serve()
        .await
        .expect("sandbox");
    let ids_all = sandbox.installed_location_ids();
    let company = sandbox.company_id();
    let agency = install(&sandbox, &[("user_type", "Company")]).await;
    let bearer = text(&agency, "access_token").to_owned();
    let list = |version: &'static str, extra: Vec<(&'static str, String)>| {
        let url = format!("{}/oauth/installed-locations", sandbox.url());
        let mut query = vec![
            ("companyId", company.clone()),
            ("appId", APP_ID.to_owned()),
            ("isInstalled", "true".to_owned()),
        ];
        query.extend(extra);
        let bearer = bearer.clone();
        async move {
            let answer = highlevel_tests::http_client()
                .get(url)
                .header("Version", version)
                .bearer_auth(bearer)
                .query(&query)
                .send()
                .await
                .expect("sent");
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x["_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };

    let (status, first) = list("v3", vec![]).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(ids(&first), ids_all[..20].to_vec(), "default pageSize 20");
    let pagination = &first["pagination"];
    assert_eq!(pagination["totalRecords"], 26);
    assert_eq!(pagination["hasNextPage"], true);
    assert_eq!(pagination["hasPrevPage"], false);
    assert_eq!(pagination["currentPageSize"], 20);
    assert!(pagination["nextPageToken"].is_string(), "{first}");
    assert!(first.get("locations").is_none(), "{first}");
    assert!(first["items"][0]["isInstalled"] == true);

    // Walking the tokens at pageSize 10: three pages, every location once, in order.
    let mut walked = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut extra = vec![("pageSize", "10".to_owned())];
        if let Some(token) = &token {
            extra.push(("pageToken", token.clone()));
        }
        let (status, page) = list("v3", extra).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        walked.extend(ids(&page));
        let pagination = &page["pagination"];
        assert_eq!(pagination["hasPrevPage"], pages > 1, "{page}");
        match pagination["nextPageToken"].as_str() {
            Some(next) => {
                assert_eq!(pagination["hasNextPage"], true);
                token = Some(next.to_owned());
            }
            None => {
                assert_eq!(pagination["hasNextPage"], false);
                break;
            }
        }
    }
    assert_eq!((pages, walked), (3, ids_all.clone()));

    for extra in [
        vec![("pageSize", "0".to_owned())],
        vec![("pageSize", "101".to_owned())],
        vec![("pageSize", "x".to_owned())],
        vec![("pageToken", "not-a-token".to_owned())],
    ] {
        let (status, body) = list("v3", extra.clone()).await;
        assert_eq!(status, 422, "{extra:?}: {body}");
    }
    let (status, _) = list("v3", vec![("pageSize", "100".to_owned())]).await;
    assert_eq!(status, 200);
    let (status, body) = list("2021-07-28", vec![]).await;
    assert_eq!(status, 422, "{body}");
    let location = install(&sandbox, &[]).await;
    let url = format!("{}/oauth/installed-locations", sandbox.url());
    let refused = highlevel_tests::http_client()
        .get(url)
        .header("Version", "v3")
        .bearer_auth(text(&location, "access_token"))
        .query(&[("companyId", company.as_str()), ("appId", APP_ID)])
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 403);

    // v2's route takes v3's Version and keeps its own envelope.
    let v2_route = highlevel_tests::http_client()
        .get(format!("{}/oauth/installedLocations", sandbox.url()))
        .header("Version", "v3")
        .bearer_auth(&bearer)
        .query(&[("companyId", company.as_str()), ("appId", APP_ID)])
        .send()
        .await
        .expect("sent");
    assert_eq!(v2_route.status().as_u16(), 200);
    let body: Value = v2_route.json().await.expect("json");
    assert_eq!(body["count"], 26, "{body}");
}
