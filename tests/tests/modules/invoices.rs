use highlevel::invoices::types::{
    GetInvoiceResponseDtoAltType, GetInvoiceResponseDtoStatus, ListInvoicesAltType,
    ListInvoicesPaymentMode, ListInvoicesSortField, ListInvoicesSortOrder,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn list_invoices_sends_paging_and_keeps_an_unknown_status() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/invoices/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "invoices": [
                {
                    "_id": "6578278e879ad2646715ba9c",
                    "status": "paid",
                    "liveMode": true,
                    "amountPaid": 250,
                    "altId": "loc-7Hq2",
                    "altType": "location",
                    "name": "Website retainer",
                    "title": "INVOICE",
                    "invoiceNumber": 1042,
                    "currency": "USD",
                    "issueDate": "2025-04-01",
                    "dueDate": "2025-04-15",
                    "total": 250,
                    "amountDue": 0,
                    "totalSummary": { "subTotal": 250, "discount": 0, "tax": 0 },
                    "contactDetails": { "id": "ct_9", "name": "Alex Doe" }
                },
                {
                    "_id": "6578278e879ad2646715ba9d",
                    "status": "scheduled",
                    "altType": "company",
                    "total": 99.5,
                    "collectionAttempts": 2
                }
            ],
            "total": 2
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.invoices()
            .list_invoices()
            .alt_id("loc-7Hq2")
            .alt_type(ListInvoicesAltType::Location)
            .limit("20")
            .offset("40")
            .payment_mode(ListInvoicesPaymentMode::Live)
            .sort_field(ListInvoicesSortField::IssueDate)
            .sort_order(ListInvoicesSortOrder::Descend)
            .send()
            .await
            .expect("invoices decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/invoices/");
    assert_eq!(
        query(&request),
        "altId=loc-7Hq2&altType=location&limit=20&offset=40&paymentMode=live&sortField=issueDate&sortOrder=descend"
    );

    assert_eq!(found.total, Some(2.0));
    let invoices = found.invoices.expect("invoices");
    let first = &invoices[0];
    assert_eq!(first.status, Some(GetInvoiceResponseDtoStatus::Paid));
    assert_eq!(first.alt_type, Some(GetInvoiceResponseDtoAltType::Location));
    assert_eq!(first.invoice_number, Some(1042.0));
    assert_eq!(
        first.total_summary.as_ref().and_then(|s| s.sub_total),
        Some(250.0)
    );
    assert_eq!(first.contact_details["name"], "Alex Doe");

    let second = &invoices[1];
    assert_eq!(
        second.status,
        Some(GetInvoiceResponseDtoStatus::Unrecognized(
            "scheduled".into()
        ))
    );
    assert_eq!(
        second.alt_type,
        Some(GetInvoiceResponseDtoAltType::Unrecognized("company".into()))
    );
    assert_eq!(second.total, Some(99.5));
    assert_eq!(
        second.due_date, None,
        "a declared field the server left out is None"
    );
    assert!(second.total_summary.is_none());
    assert!(second.contact_details.is_empty());
}
