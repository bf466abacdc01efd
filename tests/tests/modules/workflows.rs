//! workflows: the module's responses declare no string enum (`status` is a plain string in the
//! spec, `grep -c Unrecognized` is 0), so the test checks an undeclared field (ignored) and an
//! omitted declared one (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_workflows_sends_location_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/workflows/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "workflows": [
                {
                    "id": "78559bb3-b920-461e-b010-7b2a2816d2a9",
                    "name": "First Workflow",
                    "status": "draft",
                    "version": 2,
                    "createdAt": "2021-05-07T09:40:44.505Z",
                    "updatedAt": "2021-05-07T09:40:44.505Z",
                    "locationId": "ve9EPM428h8vShlRW1KT",
                    "folderId": "f0a1b2c3"
                },
                {
                    "id": "a2f7c3d1-0b9e-4f7a-9a51-6c1e2d3f4a5b",
                    "name": "Nurture",
                    "status": "published",
                    "locationId": "ve9EPM428h8vShlRW1KT"
                }
            ]
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.workflows()
            .get_workflow()
            .location_id("ve9EPM428h8vShlRW1KT")
            .send()
            .await
            .expect("workflows decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/workflows/");
    assert_eq!(query(&request), "locationId=ve9EPM428h8vShlRW1KT");
    let workflows = found.workflows.expect("workflows");
    assert_eq!(workflows[0].status.as_deref(), Some("draft"));
    assert_eq!(workflows[0].version, Some(2.0));
    assert_eq!(workflows[1].name.as_deref(), Some("Nurture"));
    assert_eq!(workflows[1].version, None, "declared but omitted");
    assert_eq!(workflows[1].created_at, None, "declared but omitted");
}
