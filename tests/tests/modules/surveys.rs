//! surveys: the module's responses declare no string enum (`grep -c Unrecognized` is 0), so the
//! test checks an undeclared field (ignored) and an omitted declared one (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_surveys_sends_integer_paging_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/surveys/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "surveys": [
                { "id": "0JlWOBpcYSDCvqxrAxHJ", "name": "NPS Q3", "locationId": "ve9EPM428h8vShlRW1KT",
                  "isQuiz": false },
                { "id": "8bQ4a1EoHk0xE2pmmD3c", "locationId": "ve9EPM428h8vShlRW1KT" }
            ],
            "total": 2,
            "traceId": "b2c1f0e4-7f39-4f55-8a0d-1b8c0f6a9d11"
        })))
        .mount(&h.server)
        .await;

    let page =
        h.hl.surveys()
            .get_surveys()
            .location_id("ve9EPM428h8vShlRW1KT")
            .skip(0)
            .limit(20)
            .type_("folder")
            .send()
            .await
            .expect("surveys decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/surveys/");
    assert_eq!(
        query(&request),
        "limit=20&locationId=ve9EPM428h8vShlRW1KT&skip=0&type=folder"
    );
    assert_eq!(page.total, Some(2.0));
    let surveys = page.surveys.expect("surveys");
    assert_eq!(surveys[0].name.as_deref(), Some("NPS Q3"));
    assert_eq!(surveys[1].id.as_deref(), Some("8bQ4a1EoHk0xE2pmmD3c"));
    assert_eq!(surveys[1].name, None, "declared but omitted");
}
