//! associations: no response schema of this module has a string enum (`grep -c Unrecognized`
//! on the crate is 0), so leniency is checked with an undeclared field (ignored) and declared
//! fields left out (`None`).

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn find_associations_sends_integer_paging_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/associations/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "ve9EPM428h8vShlRW1KT",
            "key": "student_teacher",
            "firstObjectKey": "custom_objects.children",
            "firstObjectLabel": "student",
            "secondObjectKey": "contact",
            "associationType": "USER_DEFINED",
            "cardinality": "MANY_TO_MANY"
        })))
        .mount(&h.server)
        .await;

    let association =
        h.hl.associations()
            .find_associations()
            .location_id("loc-7Hq2")
            .skip(0)
            .limit(20)
            .send()
            .await
            .expect("association decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/associations/");
    assert_eq!(query(&request), "limit=20&locationId=loc-7Hq2&skip=0");

    assert_eq!(association.id.as_deref(), Some("ve9EPM428h8vShlRW1KT"));
    assert_eq!(association.key.as_deref(), Some("student_teacher"));
    // The spec types these `object` but its examples, like the API, are strings; the
    // generator takes any JSON for such fields, so the string arrives intact.
    assert_eq!(
        association
            .first_object_key
            .as_ref()
            .and_then(serde_json::Value::as_str),
        Some("custom_objects.children")
    );
    assert_eq!(
        association.location_id, None,
        "a declared field the server left out is None"
    );
    assert_eq!(association.second_object_label, None, "omitted");
}
