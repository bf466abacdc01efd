//! blogs: the module's string enums are request-side only (post `status` on create/update and
//! the `status` query filter); no response has one, so leniency is checked with an undeclared
//! field (ignored) and declared fields left out (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_blogs_sends_integer_paging_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/blogs/site/all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                { "_id": "blog_5f2a", "name": "Company news", "postCount": 12 },
                { "_id": "blog_5f2b" }
            ],
            "total": 2
        })))
        .mount(&h.server)
        .await;

    let blogs =
        h.hl.blogs()
            .get_blogs()
            .location_id("loc-7Hq2")
            .skip(0)
            .limit(20)
            .search_term("news")
            .send()
            .await
            .expect("blogs decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/blogs/site/all");
    assert_eq!(
        query(&request),
        "limit=20&locationId=loc-7Hq2&searchTerm=news&skip=0"
    );

    let data = blogs.data.expect("data");
    assert_eq!(data.len(), 2);
    assert_eq!(data[0].id.as_deref(), Some("blog_5f2a"));
    assert_eq!(data[0].name.as_deref(), Some("Company news"));
    assert_eq!(
        data[1].name, None,
        "a declared field the server left out is None"
    );
}
