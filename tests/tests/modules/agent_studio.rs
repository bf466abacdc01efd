//! agent-studio: the module's only string enums are in request bodies
//! (`CreatePublicAgentDtoStatus`, `UpdatePublicAgentMetadataDtoStatus`); no response has one,
//! so leniency is checked with an undeclared field (ignored) and declared fields left out.

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_agents_sends_paging_and_the_2021_04_15_version() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/agent-studio/agent"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "agents": [{
                "agentId": "agt_01HV9",
                "name": "Lead qualifier",
                "status": "published",
                "locationId": "loc-7Hq2",
                "createdAt": "2025-03-01T10:00:00.000Z",
                "voiceProfile": { "id": "v1" }
            }],
            "pagination": { "total": 41, "limit": 20, "offset": 20, "hasMore": true },
            "requestId": "r-9"
        })))
        .mount(&h.server)
        .await;

    let agents =
        h.hl.agent_studio()
            .get_agents()
            .location_id("loc-7Hq2")
            .limit("20")
            .offset("20")
            .is_published("true")
            .send()
            .await
            .expect("agents decode")
            .into_inner();

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/agent-studio/agent");
    assert_eq!(
        query(&request),
        "isPublished=true&limit=20&locationId=loc-7Hq2&offset=20"
    );

    assert_eq!(agents.success, Some(true));
    assert_eq!(
        agents.message, None,
        "a declared field the server left out is None"
    );
    let list = agents.agents.expect("agents");
    assert_eq!(list[0].agent_id.as_deref(), Some("agt_01HV9"));
    assert_eq!(list[0].status.as_deref(), Some("published"));
    assert_eq!(list[0].description, None);
    let pagination = agents.pagination.expect("pagination");
    assert_eq!(pagination.total, Some(41.0));
    assert_eq!(pagination.has_more, Some(true));
}
