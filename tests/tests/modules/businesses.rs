//! businesses: no response schema of this module has a string enum (`grep -c Unrecognized`
//! on the crate is 0), so leniency is checked with an undeclared field (ignored) and declared
//! fields left out (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_businesses_by_location_sends_paging_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/businesses/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "businesses": [{
                "id": "63771dcac1116f0e21de8e12",
                "name": "Microsoft",
                "phone": "+18832327657",
                "email": "john@deo.com",
                "website": "www.xyz.com",
                "locationId": "loc-7Hq2",
                "createdBy": { "source": "WEB_USER", "channel": "APP" },
                "createdAt": "2019-08-24T14:15:22Z",
                "employeeCount": 221000
            }]
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.businesses()
            .get_businesses_by_location()
            .location_id("loc-7Hq2")
            .limit("20")
            .skip("40")
            .send()
            .await
            .expect("businesses decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/businesses/");
    assert_eq!(query(&request), "limit=20&locationId=loc-7Hq2&skip=40");

    let businesses = found.businesses.expect("businesses");
    let business = &businesses[0];
    assert_eq!(business.id.as_deref(), Some("63771dcac1116f0e21de8e12"));
    assert_eq!(business.name.as_deref(), Some("Microsoft"));
    assert_eq!(
        business.created_by.as_ref().map(|c| c.0["source"].clone()),
        Some(json!("WEB_USER"))
    );
    assert_eq!(
        business.address, None,
        "a declared field the server left out is None"
    );
    assert!(business.updated_by.is_none());
}
