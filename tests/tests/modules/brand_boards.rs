use highlevel::brand_boards::types::MetaDataSourceType;
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn list_brand_boards_sends_integer_paging_and_keeps_an_unknown_source_type() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/brand-boards/loc-7Hq2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "brandBoards": [
                {
                    "_id": "bb_64a1",
                    "name": "Spring campaign",
                    "updatedAt": "2025-04-02T09:30:00.000Z",
                    "meta": { "sourceType": "template", "sourceId": "tpl_9", "updatedBy": "usr_1" }
                },
                {
                    "_id": "bb_64a2",
                    "name": "Imported",
                    "meta": { "sourceType": "ai_generated", "lastAction": "created" },
                    "palette": ["#112233"]
                }
            ],
            "totalCount": 2
        })))
        .mount(&h.server)
        .await;

    let boards =
        h.hl.brand_boards()
            .get_brand_boards_by_location()
            .location_id("loc-7Hq2")
            .limit(20)
            .offset(40)
            .deleted(false)
            .send()
            .await
            .expect("brand boards decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/brand-boards/loc-7Hq2");
    assert_eq!(query(&request), "deleted=false&limit=20&offset=40");

    assert_eq!(boards.total_count, Some(2.0));
    let list = boards.brand_boards.expect("brand boards");
    let first = list[0].meta.as_ref().expect("meta");
    assert_eq!(first.source_type, Some(MetaDataSourceType::Template));
    let second = list[1].meta.as_ref().expect("meta");
    assert_eq!(
        second.source_type,
        Some(MetaDataSourceType::Unrecognized("ai_generated".into()))
    );
    assert_eq!(
        second.source_id, None,
        "a declared field the server left out is None"
    );
    assert_eq!(list[1].updated_at, None);
}
