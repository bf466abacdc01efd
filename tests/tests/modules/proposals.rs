//! Not tested with an unknown value: `DocumentDto.fillableFields[].type` (`ElementsLookup`).
//! That response enum has no `Unrecognized` variant (an SDK defect), so one new element type
//! would fail the whole list (`fillable_field_with_an_unknown_element_type_decodes` is the
//! ignored reproducer). The fixture uses a listed value there.

use highlevel::proposals::types::{
    DocumentDtoStatusItem, ElementsLookup, EntityReference, ListDocumentsContractsStatus,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn list_documents_sends_integer_paging_and_keeps_an_unknown_status() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/proposals/document"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "documents": [
                {
                    "locationId": "hTlkh7t8gujsahgg93",
                    "documentId": "hTlkh7t8gujsahgg93",
                    "_id": "67ac9a51106ee8311e911a01",
                    "name": "Website proposal",
                    "type": "proposal",
                    "deleted": false,
                    "isExpired": false,
                    "documentRevision": 1,
                    "fillableFields": [{
                        "fieldId": "text_field_1",
                        "isRequired": true,
                        "hasCompleted": true,
                        "recipient": "John Doe",
                        "entityType": "contacts",
                        "id": "2d0a6fe1-d519-4198-8785-3da1d7cab925",
                        "type": "TextField",
                        "value": "John Doe"
                    }],
                    "grandTotal": { "amount": 1500, "currency": "USD" },
                    "locale": "en-US",
                    "status": ["sent", "signing_in_progress"],
                    "paymentStatus": ["waiting_for_payment"],
                    "recipients": [],
                    "links": [],
                    "updatedAt": "2025-02-03T18:30:00.000Z",
                    "createdAt": "2025-02-01T10:00:00.000Z",
                    "timezone": "America/New_York"
                },
                {
                    "locationId": "hTlkh7t8gujsahgg93",
                    "_id": "67ac9a51106ee8311e911a02",
                    "name": "Draft estimate",
                    "status": ["draft"]
                }
            ],
            "total": 2
        })))
        .mount(&h.server)
        .await;

    let listed =
        h.hl.proposals()
            .list_documents_contracts()
            .location_id("hTlkh7t8gujsahgg93")
            .status(ListDocumentsContractsStatus::Sent)
            .limit(20)
            .skip(0)
            .send()
            .await
            .expect("documents decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/proposals/document");
    assert_eq!(
        query(&request),
        "limit=20&locationId=hTlkh7t8gujsahgg93&skip=0&status=sent"
    );
    assert_eq!(listed.total, Some(2.0));
    let documents = listed.documents.expect("documents");
    assert_eq!(
        documents[0].status,
        Some(vec![
            DocumentDtoStatusItem::Sent,
            DocumentDtoStatusItem::Unrecognized("signing_in_progress".into()),
        ])
    );
    let field = &documents[0]
        .fillable_fields
        .as_ref()
        .expect("fillable fields")[0];
    assert_eq!(field.type_, Some(ElementsLookup::TextField));
    assert_eq!(field.entity_type, Some(EntityReference::Contacts));
    assert_eq!(
        documents[1].status,
        Some(vec![DocumentDtoStatusItem::Draft])
    );
    assert!(documents[1].grand_total.is_none(), "declared but omitted");
    assert_eq!(documents[1].document_revision, None, "declared but omitted");
}

#[tokio::test]
async fn fillable_field_with_an_unknown_element_type_decodes() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/proposals/document"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "documents": [{
                "_id": "67ac9a51106ee8311e911a01",
                "name": "Website proposal",
                "fillableFields": [{ "fieldId": "dropdown_1", "type": "DropdownField", "value": "A" }]
            }],
            "total": 1
        })))
        .mount(&h.server)
        .await;

    h.hl.proposals()
        .list_documents_contracts()
        .location_id("hTlkh7t8gujsahgg93")
        .send()
        .await
        .expect("a fillable field with an element type the spec does not list decodes");
}
