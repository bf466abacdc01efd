//! funnels: the module's string enums are request-side only (redirect `action` on create and
//! update); no response schema has one, so leniency is checked with an undeclared field
//! (ignored) and declared fields left out (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn fetch_redirects_list_sends_integer_paging() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/funnels/lookup/redirect/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {
                "count": 42,
                "data": [{
                    "id": "rd_1",
                    "domain": "example.com",
                    "path": "/old-offer",
                    "target": "https://example.com/new-offer",
                    "action": "url"
                }]
            },
            "traceId": "tr-5"
        })))
        .mount(&h.server)
        .await;

    let list =
        h.hl.funnels()
            .fetch_redirects_list()
            .location_id("loc-7Hq2")
            .limit(20)
            .offset(40)
            .search("offer")
            .send()
            .await
            .expect("redirects decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/funnels/lookup/redirect/list");
    assert_eq!(
        query(&request),
        "limit=20&locationId=loc-7Hq2&offset=40&search=offer"
    );
    assert_eq!(list.data["count"], 42);
    assert_eq!(list.data["data"][0]["path"], "/old-offer");
}

/// `getPagesByFunnelId` declares no `Version` header upstream; the SDK sends `2021-07-28`.
#[tokio::test]
async fn get_pages_by_funnel_id_without_a_declared_version_sends_the_default() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/funnels/page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "_id": "pg_1",
            "locationId": "loc-7Hq2",
            "funnelId": "fn_1",
            "name": "Opt-in",
            "stepId": "st_1",
            "pageVersion": 7
        })))
        .mount(&h.server)
        .await;

    let page =
        h.hl.funnels()
            .get_pages_by_funnel_id()
            .location_id("loc-7Hq2")
            .funnel_id("fn_1")
            .limit(20)
            .offset(0)
            .send()
            .await
            .expect("page decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/funnels/page");
    assert_eq!(
        query(&request),
        "funnelId=fn_1&limit=20&locationId=loc-7Hq2&offset=0"
    );
    assert_eq!(page.id.as_deref(), Some("pg_1"));
    assert_eq!(page.name.as_deref(), Some("Opt-in"));
    assert_eq!(
        page.updated_at, None,
        "a declared field the server left out is None"
    );
    assert_eq!(page.deleted, None);
}
