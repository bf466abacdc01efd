//! campaigns: no response schema of this module has a string enum (`grep -c Unrecognized`
//! on the crate is 0; `status` is a plain string), so leniency is checked with an undeclared
//! field (ignored) and declared fields left out (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_campaigns_sends_the_filters_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/campaigns/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "campaigns": [
                { "id": "cmp_1", "name": "Welcome drip", "status": "published", "locationId": "loc-7Hq2" },
                { "id": "cmp_2", "name": "Winback", "status": "draft", "stepCount": 4 }
            ]
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.campaigns()
            .get_campaigns()
            .location_id("loc-7Hq2")
            .status("published")
            .send()
            .await
            .expect("campaigns decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/campaigns/");
    assert_eq!(query(&request), "locationId=loc-7Hq2&status=published");

    let campaigns = found.campaigns.expect("campaigns");
    assert_eq!(campaigns.len(), 2);
    assert_eq!(campaigns[0].name.as_deref(), Some("Welcome drip"));
    assert_eq!(campaigns[0].status.as_deref(), Some("published"));
    assert_eq!(
        campaigns[1].location_id, None,
        "a declared field the server left out is None"
    );
}
