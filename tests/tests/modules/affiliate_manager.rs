//! affiliate-manager: no response schema of this module has a string enum (`grep -c
//! Unrecognized` on the crate is 0), so leniency is checked with an undeclared field (ignored)
//! and declared fields left out (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn list_affiliates_sends_integer_paging_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/affiliate-manager/loc-7Hq2/affiliates"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "affiliates": [{
                "_id": "aff_65f1c2",
                "firstName": "Dana",
                "lastName": "Reyes",
                "email": "dana@example.com",
                "active": true,
                "campaignIds": ["camp_1", "camp_2"],
                "clickCount": 412,
                "revenue": 1299.5,
                "currency": "USD",
                "tierLevel": { "name": "gold" }
            }],
            "meta": { "count": 1 },
            "nextCursor": "opaque"
        })))
        .mount(&h.server)
        .await;

    let page =
        h.hl.affiliate_manager()
            .list_affiliates()
            .location_id("loc-7Hq2")
            .active("true")
            .skip(40)
            .limit(20)
            .send()
            .await
            .expect("affiliate page decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/affiliate-manager/loc-7Hq2/affiliates");
    assert_eq!(query(&request), "active=true&limit=20&skip=40");

    let affiliates = page.affiliates.expect("affiliates");
    assert_eq!(affiliates.len(), 1);
    let first = &affiliates[0];
    assert_eq!(first.id.as_deref(), Some("aff_65f1c2"));
    assert_eq!(first.first_name.as_deref(), Some("Dana"));
    assert_eq!(first.active, Some(true));
    assert_eq!(
        first.campaign_ids.as_deref(),
        Some(&["camp_1".to_owned(), "camp_2".to_owned()][..])
    );
    assert_eq!(first.click_count, Some(412.0));
    assert_eq!(first.revenue, Some(1299.5));
    assert_eq!(
        first.phone, None,
        "a declared field the server left out is None"
    );
    assert_eq!(first.location_id, None);
    assert_eq!(page.meta.and_then(|m| m.count), Some(1.0));
}
