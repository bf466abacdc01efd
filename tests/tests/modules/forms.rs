//! forms: no response schema of this module has a string enum (`grep -c Unrecognized` on the
//! crate is 0), so leniency is checked with an undeclared field (ignored) and declared fields
//! left out (`None`).

use highlevel::forms::multipart::{FilePart, UploadToCustomFieldsForm};
use highlevel_tests::{Harness, contains, multipart_boundary, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_forms_sends_integer_paging_and_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/forms/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "forms": [
                { "id": "frm_1", "name": "Contact us", "locationId": "loc-7Hq2", "submissions": 31 },
                { "id": "frm_2", "name": "Quote request" }
            ],
            "total": 2
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.forms()
            .get_forms()
            .location_id("loc-7Hq2")
            .skip(40)
            .limit(20)
            .type_("folder")
            .send()
            .await
            .expect("forms decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/forms/");
    assert_eq!(
        query(&request),
        "limit=20&locationId=loc-7Hq2&skip=40&type=folder"
    );

    assert_eq!(found.total, Some(2.0));
    let forms = found.forms.expect("forms");
    assert_eq!(forms[0].name.as_deref(), Some("Contact us"));
    assert_eq!(forms[1].id.as_deref(), Some("frm_2"));
    assert_eq!(
        forms[1].location_id, None,
        "a declared field the server left out is None"
    );
}

#[tokio::test]
async fn upload_to_custom_fields_sends_the_files_as_multipart() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/forms/upload-custom-files"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "contact": { "id": "dtEv6KtI27yF92YPm3Zz" }
        })))
        .mount(&h.server)
        .await;

    let pdf: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
    let form = UploadToCustomFieldsForm {
        files: vec![(
            "cf_7JkL2_3f9a1c".into(),
            FilePart::new("contract.pdf", pdf.to_vec()).with_content_type("application/pdf"),
        )],
    };
    let answer =
        h.hl.forms()
            .upload_to_custom_fields()
            .contact_id("dtEv6KtI27yF92YPm3Zz")
            .location_id("quXmPY59n1zgGBabY1bZ")
            .body(form)
            .send()
            .await
            .expect("upload succeeds")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/forms/upload-custom-files");
    assert_eq!(
        query(&request),
        "contactId=dtEv6KtI27yF92YPm3Zz&locationId=quXmPY59n1zgGBabY1bZ"
    );

    multipart_boundary(&request);
    let body = &request.body;
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"cf_7JkL2_3f9a1c\"; filename=\"contract.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    ));
    assert!(contains(body, pdf), "the file bytes are in the body");

    assert_eq!(answer["contact"]["id"], "dtEv6KtI27yF92YPm3Zz");
}
