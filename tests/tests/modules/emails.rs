//! emails: the module's string enums are request-side only (the `status` / `emailStatus`
//! query filters and builder body fields); no response schema has one, so leniency is checked
//! with an undeclared field (ignored) and declared fields left out (`None`).

use highlevel::emails::types::{FetchCampaignsEmailStatus, FetchCampaignsStatus};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn fetch_campaigns_sends_integer_paging_and_enum_filters() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/emails/schedule"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "schedules": [{
                "id": "sch_1",
                "name": "March newsletter",
                "status": "complete",
                "campaignType": "email",
                "locationId": "loc-7Hq2",
                "templateId": "tpl_3",
                "hasTracking": true,
                "sendDays": ["mon", "wed"],
                "createdAt": "2025-03-01T12:00:00.000Z",
                "__v": 0,
                "stats": { "opened": 120, "clicked": 14 }
            }],
            "total": ["1"],
            "traceId": "f3c2b7a0-1d0e-4e5f-9a8b-7c6d5e4f3a2b"
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.emails()
            .fetch_campaigns()
            .location_id("loc-7Hq2")
            .limit(20)
            .offset(40)
            .status(FetchCampaignsStatus::Complete)
            .email_status(FetchCampaignsEmailStatus::NotStarted)
            .archived(false)
            .send()
            .await
            .expect("campaigns decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/emails/schedule");
    assert_eq!(
        query(&request),
        "archived=false&emailStatus=not-started&limit=20&locationId=loc-7Hq2&offset=40&status=complete"
    );

    assert_eq!(
        found.trace_id.as_deref(),
        Some("f3c2b7a0-1d0e-4e5f-9a8b-7c6d5e4f3a2b")
    );
    assert_eq!(found.total, Some(vec!["1".to_owned()]));
    let schedules = found.schedules.expect("schedules");
    let schedule = &schedules[0];
    assert_eq!(schedule.name.as_deref(), Some("March newsletter"));
    assert_eq!(schedule.has_tracking, Some(true));
    assert_eq!(schedule.v, Some(0.0));
    assert_eq!(
        schedule.parent_id, None,
        "a declared field the server left out is None"
    );
    assert_eq!(schedule.archived, None);
}
