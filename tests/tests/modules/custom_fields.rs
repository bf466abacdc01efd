use highlevel::custom_fields::types::{ICustomFieldAcceptedFormats, ICustomFieldDataType};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_custom_fields_by_object_key_keeps_an_unknown_data_type() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/custom-fields/object-key/custom_objects.pet"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "fields": [
                {
                    "id": "cf_1",
                    "name": "Pet name",
                    "fieldKey": "custom_objects.pet.name",
                    "objectKey": "custom_objects.pet",
                    "dataType": "TEXT",
                    "locationId": "loc-7Hq2",
                    "parentId": "fld_1",
                    "showInForms": true,
                    "dateAdded": "2025-01-10T08:00:00.000Z"
                },
                {
                    "id": "cf_2",
                    "name": "Vaccination card",
                    "fieldKey": "custom_objects.pet.vaccination_card",
                    "dataType": "SIGNATURE",
                    "acceptedFormats": ".heic",
                    "maxFileLimit": 2,
                    "isSearchable": true
                }
            ],
            "folders": [{ "id": "fld_1", "name": "General" }]
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.custom_fields()
            .get_custom_fields_by_object_key()
            .object_key("custom_objects.pet")
            .location_id("loc-7Hq2")
            .send()
            .await
            .expect("custom fields decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/custom-fields/object-key/custom_objects.pet"
    );
    assert_eq!(query(&request), "locationId=loc-7Hq2");

    let fields = found.fields.expect("fields");
    assert_eq!(fields[0].data_type, Some(ICustomFieldDataType::Text));
    assert_eq!(fields[0].show_in_forms, Some(true));
    assert_eq!(
        fields[1].data_type,
        Some(ICustomFieldDataType::Unrecognized("SIGNATURE".into()))
    );
    assert_eq!(
        fields[1].accepted_formats,
        Some(ICustomFieldAcceptedFormats::Unrecognized(".heic".into()))
    );
    assert_eq!(fields[1].max_file_limit, Some(2.0));
    assert_eq!(
        fields[1].location_id, None,
        "a declared field the server left out is None"
    );
    assert!(fields[1].options.is_none());
    let folders = found.folders.expect("folders");
    assert_eq!(folders[0].name.as_deref(), Some("General"));
    assert_eq!(folders[0].data_type, None);
}
