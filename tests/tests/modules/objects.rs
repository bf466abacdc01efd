use highlevel::objects::types::ICustomFieldDataType;
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_object_schema_by_key_keeps_an_unknown_data_type() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/objects/custom_objects.pet"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": {
                "id": "66a1b2c3d4e5f6a7b8c9d0e1",
                "key": "custom_objects.pet",
                "locationId": "ve9EPM428h8vShlRW1KT",
                "labels": { "singular": "Pet", "plural": "Pets" }
            },
            "cache": false,
            "fields": [
                {
                    "id": "fld-name",
                    "locationId": "ve9EPM428h8vShlRW1KT",
                    "name": "Name",
                    "objectKey": "custom_objects.pet",
                    "fieldKey": "custom_objects.pet.name",
                    "dataType": "TEXT",
                    "parentId": "3v34PM428h8vShlRW1KT",
                    "showInForms": true,
                    "dateAdded": "2024-06-01T10:00:00.000Z",
                    "dateUpdated": "2024-06-01T10:00:00.000Z",
                    "standard": true
                },
                {
                    "id": "fld-rating",
                    "locationId": "ve9EPM428h8vShlRW1KT",
                    "objectKey": "custom_objects.pet",
                    "fieldKey": "custom_objects.pet.rating",
                    "dataType": "STAR_RATING",
                    "parentId": "3v34PM428h8vShlRW1KT",
                    "showInForms": false,
                    "dateAdded": "2025-01-15T08:30:00.000Z",
                    "dateUpdated": "2025-01-15T08:30:00.000Z"
                }
            ]
        })))
        .mount(&h.server)
        .await;

    let schema =
        h.hl.objects()
            .get_object_schema_by_key()
            .key("custom_objects.pet")
            .location_id("ve9EPM428h8vShlRW1KT")
            .fetch_properties("true")
            .send()
            .await
            .expect("schema decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/objects/custom_objects.pet");
    assert_eq!(
        query(&request),
        "fetchProperties=true&locationId=ve9EPM428h8vShlRW1KT"
    );
    assert_eq!(schema.cache, Some(false));
    let fields = schema.fields.expect("fields");
    assert_eq!(fields[0].data_type, Some(ICustomFieldDataType::Text));
    assert_eq!(
        fields[1].data_type,
        Some(ICustomFieldDataType::Unrecognized("STAR_RATING".into()))
    );
    assert_eq!(fields[1].name, None, "declared but omitted");
    assert_eq!(fields[1].accepted_formats, None, "declared but omitted");
}
