//! API v3 through the facade (`hl.v3()`, features `v3-…`): each call sends its own operation's
//! `Version`, v3 answers decode leniently, a v3 list follows `pageToken`s, and where both sets
//! of one module are on, which client answers to which name.

use futures_util::TryStreamExt as _;
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn v3_contacts_send_version_v3_and_decode_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "contact": { "id": "c1", "firstName": "Ada", "fieldFromTheFuture": { "x": 1 } }
        })))
        .mount(&h.server)
        .await;

    let contact =
        h.hl.v3()
            .contacts()
            .get_contact()
            .contact_id("c1")
            .send()
            .await
            .expect("a v3 contact decodes")
            .into_inner()
            .contact
            .expect("contact");

    h.only_request("v3").await;
    assert_eq!(contact.id.as_deref(), Some("c1"));
    assert_eq!(contact.first_name.as_deref(), Some("Ada"));
}

#[tokio::test]
async fn a_v3_operation_declaring_another_version_sends_that_one() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/ad-publishing/facebook/ad-accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "accounts": [] })))
        .mount(&h.server)
        .await;

    h.hl.v3()
        .ad_publishing()
        .fb_get_ad_accounts()
        .location_id("loc-1")
        .send()
        .await
        .expect("answer");

    let request = h.only_request("2021-07-28").await;
    assert_eq!(query(&request), "locationId=loc-1");
}

#[tokio::test]
async fn with_both_sets_of_a_module_on_the_handle_method_is_v2_and_the_trait_or_view_is_v3() {
    for (set, expected) in [
        ("v2 handle", "2021-07-28"),
        ("v3 trait", "v3"),
        ("v3 view", "v3"),
    ] {
        let h = Harness::start().await;
        Mock::given(method("GET"))
            .and(path("/contacts/c1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "contact": {} })))
            .mount(&h.server)
            .await;
        let sent = match set {
            "v2 handle" => {
                h.hl.contacts()
                    .get_contact()
                    .contact_id("c1")
                    .send()
                    .await
                    .map(drop)
            }
            "v3 trait" => highlevel::v3::Api::contacts(&h.hl)
                .get_contact()
                .contact_id("c1")
                .send()
                .await
                .map(drop),
            _ => {
                h.hl.v3()
                    .contacts()
                    .get_contact()
                    .contact_id("c1")
                    .send()
                    .await
                    .map(drop)
            }
        };
        sent.unwrap_or_else(|e| panic!("{set}: {e}"));
        h.only_request(expected).await;
    }
}

#[tokio::test]
async fn v3_installed_locations_stream_follows_page_tokens_until_no_next_page() {
    let h = Harness::start().await;
    let location =
        |id: &str| json!({ "_id": id, "name": format!("Location {id}"), "isInstalled": true });
    Mock::given(method("GET"))
        .and(path("/oauth/installed-locations"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [location("l1"), location("l2")],
            "pagination": { "totalRecords": 3, "hasNextPage": true, "nextPageToken": "t2" }
        })))
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/installed-locations"))
        .and(query_param("pageToken", "t2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [location("l3")],
            "pagination": { "totalRecords": 3, "hasNextPage": false, "nextPageToken": null }
        })))
        .mount(&h.server)
        .await;

    let client = h.hl.v3().oauth();
    let locations: Vec<_> = client
        .get_installed_location()
        .company_id("co-1")
        .app_id("app-1")
        .stream()
        .try_collect()
        .await
        .expect("every page");

    let ids: Vec<_> = locations.iter().map(|l| l.id.as_deref()).collect();
    assert_eq!(ids, [Some("l1"), Some("l2"), Some("l3")]);
    let requests = h.server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(
            request.headers.get("version").and_then(|v| v.to_str().ok()),
            Some("v3")
        );
    }
    assert!(
        query(&requests[1]).contains("pageToken=t2"),
        "{}",
        query(&requests[1])
    );
}
