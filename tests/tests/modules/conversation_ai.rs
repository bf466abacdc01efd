use highlevel::conversation_ai::types::{
    EmployeeListItemDtoMode, EmployeeListItemDtoSleepTimeUnit, EmployeeListItemDtoWaitTimeUnit,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn search_agents_sends_integer_limit_and_keeps_an_unknown_mode() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/conversation-ai/agents/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "agents": [
                {
                    "id": "emp_1",
                    "name": "Front desk",
                    "businessName": "Bright Smiles Dental",
                    "mode": "auto-pilot",
                    "channels": ["SMS", "WebChat"],
                    "isPrimary": true,
                    "waitTime": 2,
                    "waitTimeUnit": "minutes",
                    "sleepEnabled": true,
                    "sleepTime": 1,
                    "sleepTimeUnit": "hours",
                    "knowledgeBaseIds": ["kb_1"],
                    "goal": { "type": "book_appointment" }
                },
                {
                    "id": "emp_2",
                    "name": "After hours",
                    "mode": "shadow",
                    "waitTimeUnit": "days",
                    "personaVoice": "warm"
                }
            ],
            "count": 2,
            "totalCount": 2
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.conversation_ai()
            .search_agent()
            .query("desk")
            .limit(20)
            .start_after("emp_0")
            .send()
            .await
            .expect("agents decode")
            .into_inner();

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/conversation-ai/agents/search");
    assert_eq!(query(&request), "limit=20&query=desk&startAfter=emp_0");

    assert_eq!(found.count, Some(2.0));
    assert_eq!(found.total_count, Some(2.0));
    let agents = found.agents.expect("agents");
    let first = &agents[0];
    assert_eq!(first.mode, Some(EmployeeListItemDtoMode::AutoPilot));
    assert_eq!(
        first.wait_time_unit,
        Some(EmployeeListItemDtoWaitTimeUnit::Minutes)
    );
    assert_eq!(
        first.sleep_time_unit,
        Some(EmployeeListItemDtoSleepTimeUnit::Hours)
    );
    assert_eq!(
        first.channels,
        Some(vec!["SMS".to_owned(), "WebChat".to_owned()])
    );
    assert_eq!(first.goal["type"], "book_appointment");

    let second = &agents[1];
    assert_eq!(
        second.mode,
        Some(EmployeeListItemDtoMode::Unrecognized("shadow".into()))
    );
    assert_eq!(
        second.wait_time_unit,
        Some(EmployeeListItemDtoWaitTimeUnit::Unrecognized("days".into()))
    );
    assert_eq!(
        second.business_name, None,
        "a declared field the server left out is None"
    );
    assert_eq!(second.sleep_time_unit, None);
    assert!(second.goal.is_empty());
}
