//! snapshots: the responses declare no string enum (the module's only enum, `shareType`, is in
//! a request body), so the decoding checks are an undeclared field and an omitted one.

use highlevel::snapshots::types::{
    CreateSnapshotShareLinkRequestDto, CreateSnapshotShareLinkRequestDtoShareType,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn create_snapshot_share_link_sends_company_and_json_body() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/snapshots/share/link"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "6wKpCJpXZ39QXu5PJrzi",
            "shareLink": "https://affiliates.gohighlevel.com/?share=6wKpCJpXZ39QXu5PJrzi",
            "expiresAt": "2025-12-31T23:59:59.000Z"
        })))
        .mount(&h.server)
        .await;

    let link =
        h.hl.snapshots()
            .create_snapshot_share_link()
            .company_id("5DP4iH6HLkQsiKESj6rh")
            .body(
                CreateSnapshotShareLinkRequestDto::builder()
                    .snapshot_id("1eM2UqrxYXiXt4Ea6Cco")
                    .share_type(CreateSnapshotShareLinkRequestDtoShareType::AgencyLink)
                    .relationship_number(Some("0-128-926".to_owned())),
            )
            .send()
            .await
            .expect("share link decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/snapshots/share/link");
    assert_eq!(query(&request), "companyId=5DP4iH6HLkQsiKESj6rh");
    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(
        sent,
        json!({
            "snapshot_id": "1eM2UqrxYXiXt4Ea6Cco",
            "share_type": "agency_link",
            "relationship_number": "0-128-926"
        })
    );
    assert_eq!(link.id.as_deref(), Some("6wKpCJpXZ39QXu5PJrzi"));
    assert_eq!(
        link.share_link.as_deref(),
        Some("https://affiliates.gohighlevel.com/?share=6wKpCJpXZ39QXu5PJrzi")
    );
}

#[tokio::test]
async fn get_snapshot_push_sends_every_required_query_parameter() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/snapshots/snapshot-status/1eM2UqrxYXiXt4Ea6Cco"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                { "id": "push-1", "locationId": "ve9EPM428h8vShlRW1KT", "status": "completed",
                  "dateAdded": "2025-03-01T10:00:00.000Z", "retries": 0 },
                { "id": "push-2", "locationId": "Ar4JQgIyuzRsVuwD9RSK" }
            ]
        })))
        .mount(&h.server)
        .await;

    let pushes =
        h.hl.snapshots()
            .get_snapshot_push()
            .snapshot_id("1eM2UqrxYXiXt4Ea6Cco")
            .company_id("5DP4iH6HLkQsiKESj6rh")
            .from("2025-03-01")
            .to("2025-03-31")
            .last_doc("push-0")
            .limit("20")
            .send()
            .await
            .expect("pushes decode")
            .into_inner()
            .data
            .expect("data");

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/snapshots/snapshot-status/1eM2UqrxYXiXt4Ea6Cco"
    );
    assert_eq!(
        query(&request),
        "companyId=5DP4iH6HLkQsiKESj6rh&from=2025-03-01&lastDoc=push-0&limit=20&to=2025-03-31"
    );
    assert_eq!(pushes[0].status.as_deref(), Some("completed"));
    assert_eq!(pushes[1].status, None, "declared but omitted");
}
