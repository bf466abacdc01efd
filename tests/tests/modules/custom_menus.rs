use highlevel::custom_menus::types::{CustomMenuSchemaOpenMode, CustomMenuSchemaUserRole};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_custom_menus_sends_integer_paging_and_keeps_an_unknown_open_mode() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/custom-menus/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "customMenus": [
                {
                    "id": "cm_1",
                    "title": "Help desk",
                    "url": "https://help.example.com",
                    "icon": { "name": "headset", "fontFamily": "fas" },
                    "openMode": "iframe",
                    "userRole": "admin",
                    "showOnCompany": true,
                    "showOnLocation": true,
                    "showToAllLocations": false,
                    "locations": ["loc-7Hq2"],
                    "order": 1
                },
                {
                    "id": "cm_2",
                    "title": "Reports",
                    "url": "https://reports.example.com",
                    "openMode": "side_panel",
                    "userRole": "billing",
                    "badge": "new"
                }
            ],
            "totalLinks": 2
        })))
        .mount(&h.server)
        .await;

    let menus =
        h.hl.custom_menus()
            .get_custom_menus()
            .location_id("loc-7Hq2")
            .skip(40_u64)
            .limit(20_u64)
            .show_on_company(true)
            .send()
            .await
            .expect("custom menus decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/custom-menus/");
    assert_eq!(
        query(&request),
        "limit=20&locationId=loc-7Hq2&showOnCompany=true&skip=40"
    );

    assert_eq!(menus.total_links, Some(2.0));
    let list = menus.custom_menus.expect("custom menus");
    assert_eq!(list[0].open_mode, Some(CustomMenuSchemaOpenMode::Iframe));
    assert_eq!(list[0].user_role, Some(CustomMenuSchemaUserRole::Admin));
    assert_eq!(list[0].order, Some(1.0));
    assert_eq!(
        list[1].open_mode,
        Some(CustomMenuSchemaOpenMode::Unrecognized("side_panel".into()))
    );
    assert_eq!(
        list[1].user_role,
        Some(CustomMenuSchemaUserRole::Unrecognized("billing".into()))
    );
    assert_eq!(
        list[1].locations, None,
        "a declared field the server left out is None"
    );
    assert!(list[1].icon.is_none());
}
