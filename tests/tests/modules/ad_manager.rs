//! ad-manager: upstream documents no success body for any operation (`"200": {"description":
//! ""}`), so every response is the untyped `serde_json::Value` and there is no response enum to
//! check; the module's string enums are all request-side. These tests check the request on the
//! wire and that the JSON the server sent comes back untouched.

use highlevel::ad_manager::types::LocationIdBodyDto;
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn fb_get_ad_accounts_sends_the_query_and_returns_the_json() {
    let h = Harness::start().await;
    let body = json!({
        "adAccounts": [{ "id": "act_1234567890", "name": "Acme Ads", "currency": "USD", "accountStatus": 1 }],
        "next": "cursor_def"
    });
    Mock::given(method("GET"))
        .and(path("/ad-publishing/facebook/ad-accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
        .mount(&h.server)
        .await;

    let accounts =
        h.hl.ad_manager()
            .fb_get_ad_accounts()
            .location_id("loc_abc123")
            .type_("AD_MANAGER")
            .next("cursor_abc")
            .limit("20")
            .send()
            .await
            .expect("ad accounts decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/ad-publishing/facebook/ad-accounts");
    assert_eq!(
        query(&request),
        "limit=20&locationId=loc_abc123&next=cursor_abc&type=AD_MANAGER"
    );
    assert_eq!(accounts, body);
}

#[tokio::test]
async fn fb_pause_campaign_posts_the_location_as_json() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/ad-publishing/facebook/campaigns/cmp_120/pause"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "success": true })))
        .mount(&h.server)
        .await;

    let answer =
        h.hl.ad_manager()
            .fb_pause_campaign()
            .campaign_id("cmp_120")
            .body(LocationIdBodyDto::builder().location_id("loc_abc123"))
            .send()
            .await
            .expect("pause succeeds")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request.url.path(),
        "/ad-publishing/facebook/campaigns/cmp_120/pause"
    );
    assert_eq!(query(&request), "");
    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(sent, json!({ "locationId": "loc_abc123" }));
    assert_eq!(answer["success"], true);
}
