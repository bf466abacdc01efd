//! links: the module's responses declare no string enum (`grep -c Unrecognized` is 0), so the
//! test checks an undeclared field (ignored) and an omitted declared one (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn search_trigger_links_sends_integer_paging_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/links/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "links": [
                {
                    "id": "lnk_8f2b1c",
                    "name": "Spring promo",
                    "redirectTo": "https://example.com/spring",
                    "fieldKey": "{{trigger_link.lnk_8f2b1c}}",
                    "locationId": "ve9EPM428h8vShlRW1KT",
                    "clickCount": 42
                },
                {
                    "id": "lnk_91ad0e",
                    "name": "Webinar",
                    "locationId": "ve9EPM428h8vShlRW1KT"
                }
            ]
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.links()
            .search_trigger_links()
            .location_id("ve9EPM428h8vShlRW1KT")
            .query("promo")
            .skip(40)
            .limit(20)
            .send()
            .await
            .expect("links decode")
            .into_inner();

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/links/search");
    assert_eq!(
        query(&request),
        "limit=20&locationId=ve9EPM428h8vShlRW1KT&query=promo&skip=40"
    );
    let links = found.links.expect("links");
    assert_eq!(links.len(), 2);
    assert_eq!(
        links[0].redirect_to.as_deref(),
        Some("https://example.com/spring")
    );
    assert_eq!(links[1].name.as_deref(), Some("Webinar"));
    assert_eq!(links[1].redirect_to, None, "declared but omitted");
    assert_eq!(links[1].field_key, None, "declared but omitted");
}
