//! The sandbox over real HTTP: through the SDK facade where a user would call it, and with raw
//! requests for what the SDK never sends (missing headers, malformed bodies).

use std::collections::BTreeSet;

use highlevel::HighLevel;
use highlevel::contacts::types::{CreateContactDto, SearchBodyV2dto, UpdateContactDto};
use highlevel_sandbox::{RunningSandbox, Sandbox, TRACE_HEADER};
use serde_json::{Value, json};

async fn sandbox() -> (RunningSandbox, HighLevel) {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let hl = HighLevel::builder()
        .private_integration_token(sandbox.token())
        .base_url(sandbox.url())
        .build()
        .expect("client");
    (sandbox, hl)
}

fn contact(location: &str, first: &str, email: &str) -> CreateContactDto {
    CreateContactDto::builder()
        .location_id(location.to_owned())
        .first_name(Some(first.to_owned()))
        .email(Some(email.to_owned()))
        .try_into()
        .expect("valid contact")
}

async fn create(hl: &HighLevel, location: &str, first: &str, email: &str) -> String {
    hl.contacts()
        .create_contact()
        .body(contact(location, first, email))
        .send()
        .await
        .expect("created")
        .into_inner()
        .contact
        .and_then(|c| c.id)
        .expect("an id")
}

/// A raw request with the sandbox's token and the contacts `Version`.
fn raw(sandbox: &RunningSandbox, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    raw_url(sandbox, method, &format!("{}{path}", sandbox.url()))
}

/// Like [`raw`], for an absolute URL the sandbox handed out (`nextPageUrl`).
fn raw_url(
    sandbox: &RunningSandbox,
    method: reqwest::Method,
    url: &str,
) -> reqwest::RequestBuilder {
    highlevel_tests::http_client()
        .request(method, url)
        .bearer_auth(sandbox.token())
        .header("Version", "2021-07-28")
}

/// Checks HighLevel's error shape and returns the body.
async fn shaped_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let header_trace = response
        .headers()
        .get(TRACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("traceid header");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["statusCode"], status, "{body}");
    assert!(
        body["message"].is_string() || body["message"].is_array(),
        "{body}"
    );
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(body["traceId"], header_trace.as_str(), "{body}");
    body
}

#[tokio::test]
async fn contacts_round_trip_through_the_sdk() {
    let (sandbox, hl) = sandbox().await;
    let location = sandbox.location_id();
    let ada = create(&hl, location, "Ada", "Ada@Example.com").await;
    let grace = create(&hl, location, "Grace", "grace@example.com").await;

    let read = hl
        .contacts()
        .get_contact()
        .contact_id(ada.as_str())
        .send()
        .await
        .expect("read")
        .into_inner()
        .contact
        .expect("contact");
    assert_eq!(read.first_name.as_deref(), Some("Ada"));
    assert_eq!(
        read.email.as_deref(),
        Some("ada@example.com"),
        "stored lowercased"
    );
    assert_eq!(read.location_id.as_deref(), Some(location));

    let updated = hl
        .contacts()
        .update_contact()
        .contact_id(ada.as_str())
        .body(UpdateContactDto {
            tags: vec!["vip".into()],
            last_name: Some("Lovelace".into()),
            ..UpdateContactDto::default()
        })
        .send()
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.succeded, Some(true));
    let after = updated.contact.expect("updated contact");
    assert_eq!(after.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(after.tags.as_deref(), Some(&["vip".to_owned()][..]));

    let found = hl
        .contacts()
        .search_contacts_advanced()
        .body(SearchBodyV2dto::from(
            json!({ "locationId": location, "query": "LOVELACE" })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ))
        .send()
        .await
        .expect("search")
        .into_inner();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["contacts"][0]["id"], ada.as_str(), "{found}");

    hl.contacts()
        .delete_contact()
        .contact_id(grace.as_str())
        .send()
        .await
        .expect("delete");
    let gone = hl
        .contacts()
        .get_contact()
        .contact_id(grace.as_str())
        .send()
        .await
        .expect_err("deleted");
    let api = gone.as_api().expect("typed API error");
    assert_eq!(api.status().as_u16(), 404);
    assert!(api.trace_id().is_some());
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
async fn page_all(hl: &HighLevel, location: &str, limit: i64) -> (Vec<usize>, Vec<String>) {
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    let mut cursor: Option<(String, f64)> = None;
    let client = hl.contacts();
    for _ in 0..20 {
        let mut request = client.get_contacts().location_id(location).limit(limit);
        if let Some((id, at)) = &cursor {
            request = request.start_after_id(id.as_str()).start_after(*at as i64);
        }
        let page = request.send().await.expect("page").into_inner();
        let contacts = page.contacts.unwrap_or_default();
        sizes.push(contacts.len());
        ids.extend(contacts.into_iter().filter_map(|c| c.id));
        let meta = page.meta.expect("meta envelope");
        match (meta.next_page_url, meta.start_after_id, meta.start_after) {
            (Some(_), Some(id), Some(at)) => cursor = Some((id, at)),
            (None, None, None) => return (sizes, ids),
            other => panic!("inconsistent paging meta: {other:?}"),
        }
    }
    panic!("paging did not end");
}

#[tokio::test]
async fn get_contacts_pages_with_start_after_id_until_no_next_page() {
    let (sandbox, hl) = sandbox().await;
    let location = sandbox.location_id();
    let mut created = BTreeSet::new();
    for n in 0..45 {
        created.insert(
            create(
                &hl,
                location,
                &format!("P{n}"),
                &format!("p{n}@example.com"),
            )
            .await,
        );
    }

    let (sizes, ids) = page_all(&hl, location, 20).await;
    assert_eq!(sizes, vec![20, 20, 5]);
    assert_eq!(ids.len(), 45, "no contact twice");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), created);

    // An exact multiple of the page size ends on a full page with no next page.
    let (sizes, _) = page_all(&hl, location, 15).await;
    assert_eq!(sizes, vec![15, 15, 15]);

    // nextPageUrl is absolute and followable as it is.
    let first: Value = raw(
        &sandbox,
        reqwest::Method::GET,
        &format!("/contacts/?locationId={location}&limit=40"),
    )
    .send()
    .await
    .expect("first page")
    .json()
    .await
    .expect("json");
    assert_eq!(first["meta"]["total"], 45);
    assert_eq!(first["meta"]["currentPage"], 1);
    assert_eq!(first["meta"]["nextPage"], 2);
    let next_url = first["meta"]["nextPageUrl"]
        .as_str()
        .expect("next page url");
    let second: Value = raw_url(&sandbox, reqwest::Method::GET, next_url)
        .send()
        .await
        .expect("second page")
        .json()
        .await
        .expect("json");
    assert_eq!(second["contacts"].as_array().map(Vec::len), Some(5));
    assert_eq!(second["meta"]["prevPage"], 1);
    assert_eq!(second["meta"]["nextPageUrl"], Value::Null);
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
#[tokio::test]
async fn validation_and_paging_limits_are_typed_api_errors() {
    let (sandbox, hl) = sandbox().await;
    let location = sandbox.location_id();
    create(&hl, location, "Ada", "ada@example.com").await;

    let err = hl
        .contacts()
        .create_contact()
        .body(contact(location, "Bad", "not-an-email"))
        .send()
        .await
        .expect_err("invalid email");
    let api = err.as_api().expect("typed");
    assert_eq!(api.status().as_u16(), 422);
    assert_eq!(api.messages(), ["email must be an email".to_owned()]);

    let err = hl
        .contacts()
        .create_contact()
        .body(contact(location, "Ada again", "ADA@example.com"))
        .send()
        .await
        .expect_err("duplicate");
    let api = err.as_api().expect("typed");
    assert_eq!(api.status().as_u16(), 400);
    assert_eq!(
        api.message().as_deref(),
        Some("This location does not allow duplicated contacts.")
    );

    let err = hl
        .contacts()
        .create_contact()
        .body(contact("someOtherLocation", "Eve", "eve@example.com"))
        .send()
        .await
        .expect_err("other location");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));

    let err = hl
        .contacts()
        .get_contacts()
        .location_id(location)
        .limit(101)
        .send()
        .await
        .expect_err("limit over 100");
    let api = err.as_api().expect("typed");
    assert_eq!(api.status().as_u16(), 422);
    assert!(api.trace_id().is_some());
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_401_in_highlevels_shape() {
    let (sandbox, _) = sandbox().await;
    let intruder = HighLevel::builder()
        .private_integration_token("pit-not-the-sandbox-token")
        .base_url(sandbox.url())
        .build()
        .expect("client");
    let err = intruder
        .contacts()
        .get_contact()
        .contact_id("x")
        .send()
        .await
        .expect_err("wrong token");
    let api = err.as_api().expect("typed");
    assert_eq!(api.status().as_u16(), 401);
    assert_eq!(api.message().as_deref(), Some("Invalid JWT"));
    assert!(api.trace_id().is_some());
    assert!(
        !String::from_utf8_lossy(api.raw_body()).contains("pit-not-the-sandbox-token"),
        "the presented token is never echoed"
    );

    let missing = highlevel_tests::http_client()
        .get(format!("{}/contacts/x", sandbox.url()))
        .header("Version", "2021-07-28")
        .send()
        .await
        .expect("answer");
    shaped_error(missing, 401).await;
}

#[tokio::test]
async fn a_missing_or_wrong_version_is_422() {
    let (sandbox, _) = sandbox().await;
    for version in [
        None,
        Some("2021-04-15"),
        Some("nonsense"),
        Some("V3"),
        Some("v2"),
    ] {
        let mut request = highlevel_tests::http_client()
            .get(format!("{}/contacts/x", sandbox.url()))
            .bearer_auth(sandbox.token());
        if let Some(version) = version {
            request = request.header("Version", version);
        }
        let body = shaped_error(request.send().await.expect("answer"), 422).await;
        assert_eq!(
            body["message"],
            json!(["version must be one of the following values: 2021-07-28, v3"]),
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn malformed_input_gets_shaped_errors_never_a_hang() {
    let (sandbox, _) = sandbox().await;
    let post = |path: &str| raw(&sandbox, reqwest::Method::POST, path);

    let broken = post("/contacts/")
        .header("content-type", "application/json")
        .body("{\"locationId\": ")
        .send()
        .await
        .expect("answer");
    shaped_error(broken, 400).await;

    let not_object = post("/contacts/")
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .expect("answer");
    shaped_error(not_object, 400).await;

    let wrong_type = post("/contacts/")
        .header("content-type", "text/plain")
        .body("locationId=x")
        .send()
        .await
        .expect("answer");
    shaped_error(wrong_type, 415).await;

    let huge = format!(
        "{{\"locationId\":\"{}\",\"name\":\"{}\"}}",
        sandbox.location_id(),
        "x".repeat(highlevel_sandbox::BODY_LIMIT + 1)
    );
    let oversized = post("/contacts/")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("answer");
    shaped_error(oversized, 413).await;

    let bad_limit = raw(
        &sandbox,
        reqwest::Method::GET,
        &format!("/contacts/?locationId={}&limit=ten", sandbox.location_id()),
    )
    .send()
    .await
    .expect("answer");
    shaped_error(bad_limit, 422).await;

    let unknown = raw(&sandbox, reqwest::Method::GET, "/no/such/route")
        .send()
        .await
        .expect("answer");
    let body = shaped_error(unknown, 404).await;
    assert_eq!(body["message"], "Cannot GET /no/such/route");

    let wrong_method = raw(&sandbox, reqwest::Method::PATCH, "/contacts/")
        .send()
        .await
        .expect("answer");
    shaped_error(wrong_method, 404).await;
}

#[tokio::test]
async fn every_answer_carries_a_fresh_trace_id() {
    let (sandbox, _) = sandbox().await;
    let mut seen = BTreeSet::new();
    for _ in 0..3 {
        let ok = raw(
            &sandbox,
            reqwest::Method::GET,
            &format!("/contacts/?locationId={}", sandbox.location_id()),
        )
        .send()
        .await
        .expect("answer");
        assert_eq!(ok.status().as_u16(), 200);
        let trace = ok
            .headers()
            .get(TRACE_HEADER)
            .and_then(|v| v.to_str().ok())
            .expect("traceid on a success")
            .to_owned();
        seen.insert(trace);
    }
    assert_eq!(seen.len(), 3, "one trace id per answer");
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
#[tokio::test]
async fn the_next_page_url_keeps_the_query_and_a_stale_cursor_is_refused() {
    let (sandbox, hl) = sandbox().await;
    let location = sandbox.location_id();
    for n in 0..10 {
        let name = if n % 3 == 0 { "Other" } else { "Zed" };
        create(
            &hl,
            location,
            &format!("{name}{n}"),
            &format!("q{n}@example.com"),
        )
        .await;
    }
    let first: Value = raw(
        &sandbox,
        reqwest::Method::GET,
        &format!("/contacts/?locationId={location}&limit=3&query=zed"),
    )
    .send()
    .await
    .expect("first page")
    .json()
    .await
    .expect("json");
    assert_eq!(first["meta"]["total"], 6, "{first}");
    let next_url = first["meta"]["nextPageUrl"].as_str().expect("next page");
    assert!(next_url.contains("query=zed"), "{next_url}");
    let second: Value = raw_url(&sandbox, reqwest::Method::GET, next_url)
        .send()
        .await
        .expect("second page")
        .json()
        .await
        .expect("json");
    assert_eq!(second["meta"]["total"], 6, "{second}");
    assert_eq!(second["meta"]["currentPage"], 2, "{second}");
    assert_eq!(second["meta"]["nextPageUrl"], Value::Null, "{second}");

    // A cursor naming no contact, without the timestamp to place it, is refused: silently
    // starting over would make a paging loop run forever.
    let err = hl
        .contacts()
        .get_contacts()
        .location_id(location)
        .start_after_id("noSuchContact")
        .send()
        .await
        .expect_err("unknown cursor");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422));
}

#[tokio::test]
async fn unknown_properties_and_undecodable_paths_are_shaped_errors() {
    let (sandbox, _) = sandbox().await;
    let unknown = raw(&sandbox, reqwest::Method::POST, "/contacts/")
        .json(&json!({ "locationId": sandbox.location_id(), "bogus": 1, "dnd": "yes" }))
        .send()
        .await
        .expect("answer");
    let body = shaped_error(unknown, 422).await;
    assert_eq!(
        body["message"],
        json!([
            "property bogus should not exist",
            "dnd must be a boolean value"
        ])
    );

    let bad_path = raw(&sandbox, reqwest::Method::GET, "/contacts/%FF")
        .send()
        .await
        .expect("answer");
    shaped_error(bad_path, 400).await;
}

#[tokio::test]
async fn a_client_that_stalls_gets_408_and_never_holds_the_sandbox() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sandbox = Sandbox::builder()
        .body_timeout(std::time::Duration::from_millis(300))
        .serve()
        .await
        .expect("sandbox");
    let mut stalled = tokio::net::TcpStream::connect(sandbox.address())
        .await
        .expect("connect");
    let head = format!(
        "POST /contacts/ HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {}\r\nVersion: 2021-07-28\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"loc",
        sandbox.token()
    );
    stalled.write_all(head.as_bytes()).await.expect("send");
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stalled.read(&mut answer))
        .await
        .expect("answered before the test's own timeout")
        .expect("read");
    let text = String::from_utf8_lossy(&answer[..read]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"statusCode\":408"), "{text}");

    // A second client that stalls and stays: shutdown still returns.
    let mut hanging = tokio::net::TcpStream::connect(sandbox.address())
        .await
        .expect("connect");
    hanging
        .write_all(b"GET /contacts/ HTTP/1.1\r\nHost: s")
        .await
        .expect("send");
    tokio::time::timeout(
        highlevel_sandbox::SHUTDOWN_GRACE + std::time::Duration::from_secs(3),
        sandbox.shutdown(),
    )
    .await
    .expect("shutdown returns despite a stalled connection");
}

/// A raw request as a v3 caller sends it: the sandbox's token, `Version: v3`.
fn raw_v3(
    sandbox: &RunningSandbox,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    highlevel_tests::http_client()
        .request(method, format!("{}{path}", sandbox.url()))
        .bearer_auth(sandbox.token())
        .header("Version", "v3")
}

#[tokio::test]
async fn contacts_routes_answer_version_v3_callers() {
    let (sandbox, hl) = sandbox().await;
    let location = sandbox.location_id().to_owned();
    let created = raw_v3(&sandbox, reqwest::Method::POST, "/contacts/")
        .json(&json!({ "locationId": location, "firstName": "Ada", "email": "ada@example.com" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status().as_u16(), 201, "v3 create");
    let ada: Value = created.json().await.expect("json");
    let ada = ada["contact"]["id"].as_str().expect("an id").to_owned();
    for n in 1..=4 {
        create(
            &hl,
            &location,
            &format!("Grace{n}"),
            &format!("g{n}@example.com"),
        )
        .await;
    }
    let read = raw_v3(&sandbox, reqwest::Method::GET, &format!("/contacts/{ada}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(read.status().as_u16(), 200);
    let listed = raw_v3(&sandbox, reqwest::Method::GET, "/contacts/")
        .query(&[("locationId", location.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(listed.status().as_u16(), 200);

    // v3 lists contacts with POST /contacts/search: by page, then by searchAfter.
    let search = |body: Value| {
        let request = raw_v3(&sandbox, reqwest::Method::POST, "/contacts/search").json(&body);
        async move {
            let answer = request.send().await.expect("sent");
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["contacts"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|x| x["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (status, all) = search(json!({ "locationId": location, "pageLimit": 100 })).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 5, "{all}");
    let every = ids(&all);
    assert_eq!(every.first(), Some(&ada));
    let (status, found) = search(json!({ "locationId": location, "query": "grace" })).await;
    assert_eq!((status, found["total"].as_u64()), (200, Some(4)), "{found}");
    let (_, second) = search(json!({ "locationId": location, "pageLimit": 2, "page": 2 })).await;
    assert_eq!(ids(&second), every[2..4].to_vec());

    let mut walked = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({ "locationId": location, "pageLimit": 2 });
        if let Some(after) = &after {
            body["searchAfter"] = after.clone();
        }
        let (status, page) = search(body).await;
        assert_eq!(status, 200, "{page}");
        let got = ids(&page);
        if got.is_empty() {
            break;
        }
        walked.extend(got);
        after = page["contacts"]
            .as_array()
            .and_then(|c| c.last())
            .map(|c| c["searchAfter"].clone());
    }
    assert_eq!(
        walked, every,
        "searchAfter walks every contact once, in order"
    );
    for bad in [
        json!({ "locationId": location, "searchAfter": "x" }),
        json!({ "locationId": location, "searchAfter": [1] }),
        json!({ "locationId": location, "searchAfter": [1, "id"], "page": 2 }),
        json!({ "locationId": location, "filters": [{ "field": "email" }] }),
        json!({ "locationId": location, "pageLimit": 0 }),
    ] {
        let (status, body) = search(bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, _) = search(json!({ "locationId": "elsewhere" })).await;
    assert_eq!(status, 403);

    // Still refused: no Version, or one neither API declares.
    for version in [None, Some("v4"), Some("2021-04-15")] {
        let mut request = highlevel_tests::http_client()
            .post(format!("{}/contacts/search", sandbox.url()))
            .bearer_auth(sandbox.token())
            .json(&json!({ "locationId": location }));
        if let Some(version) = version {
            request = request.header("Version", version);
        }
        shaped_error(request.send().await.expect("answer"), 422).await;
    }
    let location_read = raw_v3(
        &sandbox,
        reqwest::Method::GET,
        &format!("/locations/{location}"),
    )
    .send()
    .await
    .expect("sent");
    assert_eq!(location_read.status().as_u16(), 200);
}
