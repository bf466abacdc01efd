use highlevel::locations::multipart::{FilePart, UploadFileCustomFieldsForm};
use highlevel::locations::types::{CustomFieldSchemaModel, GetCustomFieldsModel};
use highlevel_tests::{Harness, contains, multipart_boundary, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_custom_fields_sends_the_model_and_keeps_an_unknown_model() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/locations/ve9EPM428h8vShlRW1KT/customFields"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "customFields": [
                {
                    "id": "3sv6UEo51C9Bmpo1cKTq",
                    "name": "pincode",
                    "fieldKey": "contact.pincode",
                    "placeholder": "Pin code",
                    "dataType": "TEXT",
                    "position": 0,
                    "picklistOptions": [],
                    "isAllowedCustomOption": false,
                    "locationId": "ve9EPM428h8vShlRW1KT",
                    "model": "contact",
                    "parentId": "folder-2"
                },
                {
                    "id": "Qj1mIFd3qGKzhA0y0r2v",
                    "name": "Company size",
                    "fieldKey": "company.size",
                    "dataType": "NUMERICAL",
                    "model": "company"
                }
            ]
        })))
        .mount(&h.server)
        .await;

    let fields =
        h.hl.locations()
            .get_custom_fields()
            .location_id("ve9EPM428h8vShlRW1KT")
            .model(GetCustomFieldsModel::All)
            .send()
            .await
            .expect("custom fields decode")
            .into_inner()
            .custom_fields
            .expect("customFields");

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/locations/ve9EPM428h8vShlRW1KT/customFields"
    );
    assert_eq!(query(&request), "model=all");
    assert_eq!(fields[0].model, Some(CustomFieldSchemaModel::Contact));
    assert_eq!(fields[0].position, Some(0.0));
    assert_eq!(
        fields[1].model,
        Some(CustomFieldSchemaModel::Unrecognized("company".into()))
    );
    assert_eq!(fields[1].placeholder, None, "declared but omitted");
    assert_eq!(fields[1].position, None, "declared but omitted");
}

#[tokio::test]
async fn upload_file_custom_fields_sends_a_multipart_form() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/locations/ve9EPM428h8vShlRW1KT/customFields/upload"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "uploadedFiles": {
                "contract.pdf": "https://storage.googleapis.com/location/ve9EPM428h8vShlRW1KT/custom-Field/contract.pdf"
            }
        })))
        .mount(&h.server)
        .await;

    let pdf = b"%PDF-1.7\n\x00\x01\x02binary\r\n--not-a-boundary".to_vec();
    let form = UploadFileCustomFieldsForm {
        id: Some("aWdODOBVOlH1RUFKWQke".into()),
        max_files: Some("15".into()),
        files: vec![(
            "aWdODOBVOlH1RUFKWQke_contract".into(),
            FilePart::new("contract.pdf", pdf.clone()).with_content_type("application/pdf"),
        )],
    };
    let uploaded =
        h.hl.locations()
            .upload_file_custom_fields()
            .location_id("ve9EPM428h8vShlRW1KT")
            .body(form)
            .send()
            .await
            .expect("upload decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request.url.path(),
        "/locations/ve9EPM428h8vShlRW1KT/customFields/upload"
    );
    assert_eq!(query(&request), "");
    let boundary = multipart_boundary(&request);
    let body = &request.body;
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"id\"\r\n\r\naWdODOBVOlH1RUFKWQke\r\n"
    ));
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"maxFiles\"\r\n\r\n15\r\n"
    ));
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"aWdODOBVOlH1RUFKWQke_contract\"; filename=\"contract.pdf\""
    ));
    assert!(contains(body, b"Content-Type: application/pdf"));
    assert!(contains(body, &pdf));
    assert!(body.ends_with(format!("--{boundary}--\r\n").as_bytes()));
    assert_eq!(
        uploaded.uploaded_files["contract.pdf"],
        "https://storage.googleapis.com/location/ve9EPM428h8vShlRW1KT/custom-Field/contract.pdf"
    );
    assert_eq!(uploaded.meta, None, "declared but omitted");
}
