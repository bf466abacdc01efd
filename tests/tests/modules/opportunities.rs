use highlevel::opportunities::types::{
    PipelinesResponseSchemaColorRenderMode, SearchOpportunityStatus,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn search_opportunity_sends_integer_paging_and_decodes_the_page() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/opportunities/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "opportunities": [{
                "id": "yWQobCRIhRguQtD2llvk",
                "name": "Website redesign",
                "monetaryValue": 1250.5,
                "pipelineId": "bCkKGpDsyPP4peuKowkG",
                "pipelineStageId": "7915dedc-8f18-44d5-8bc3-77c04e994a10",
                "status": "open",
                "locationId": "ve9EPM428h8vShlRW1KT",
                "forecastProbability": 0.4
            }],
            "meta": { "total": 41, "currentPage": 2, "nextPage": 3, "prevPage": 1 },
            "aggregations": {}
        })))
        .mount(&h.server)
        .await;

    let page =
        h.hl.opportunities()
            .search_opportunity()
            .location_id("ve9EPM428h8vShlRW1KT")
            .status(SearchOpportunityStatus::Open)
            .page(2)
            .limit(20)
            .send()
            .await
            .expect("search decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/opportunities/search");
    assert_eq!(
        query(&request),
        "limit=20&location_id=ve9EPM428h8vShlRW1KT&page=2&status=open"
    );
    let opportunities = page.opportunities.expect("opportunities");
    assert_eq!(opportunities[0].monetary_value, Some(1250.5));
    assert_eq!(opportunities[0].contact_id, None, "declared but omitted");
    let meta = page.meta.expect("meta");
    assert_eq!(meta.total, Some(41.0));
    assert_eq!(meta.next_page_url, None);
}

#[tokio::test]
async fn get_pipelines_keeps_an_unknown_color_render_mode() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/opportunities/pipelines"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "pipelines": [
                {
                    "id": "bCkKGpDsyPP4peuKowkG",
                    "name": "Sales",
                    "locationId": "ve9EPM428h8vShlRW1KT",
                    "showInFunnel": true,
                    "showInPieChart": true,
                    "colorRenderMode": "gradient",
                    "originId": "snapshot-import-7"
                },
                {
                    "id": "aZ1bC2dE3fG4hI5jK6lM",
                    "name": "Renewals",
                    "colorRenderMode": "bg-tint"
                }
            ]
        })))
        .mount(&h.server)
        .await;

    let pipelines =
        h.hl.opportunities()
            .get_pipelines()
            .location_id("ve9EPM428h8vShlRW1KT")
            .send()
            .await
            .expect("pipelines decode")
            .into_inner()
            .pipelines
            .expect("pipelines");

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/opportunities/pipelines");
    assert_eq!(query(&request), "locationId=ve9EPM428h8vShlRW1KT");
    assert_eq!(
        pipelines[0].color_render_mode,
        Some(PipelinesResponseSchemaColorRenderMode::Unrecognized(
            "gradient".into()
        ))
    );
    assert_eq!(
        pipelines[1].color_render_mode,
        Some(PipelinesResponseSchemaColorRenderMode::BgTint)
    );
    assert_eq!(pipelines[0].show_in_funnel, Some(true));
    assert_eq!(pipelines[1].show_in_funnel, None, "declared but omitted");
    assert!(pipelines[1].stages.is_none(), "declared but omitted");
}

/// Upstream declares `stages` as an array of arrays; the API sends stage objects. An overlay in
/// `specs/overlays.toml` types them as objects, so their fields are read, not dropped.
#[tokio::test]
async fn pipelines_with_stage_objects_decode() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/opportunities/pipelines"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "pipelines": [{
                "id": "bCkKGpDsyPP4peuKowkG",
                "name": "Sales",
                "stages": [{ "id": "7915dedc-8f18-44d5-8bc3-77c04e994a10", "name": "New lead", "position": 0 }]
            }]
        })))
        .mount(&h.server)
        .await;

    let pipelines =
        h.hl.opportunities()
            .get_pipelines()
            .location_id("ve9EPM428h8vShlRW1KT")
            .send()
            .await
            .expect("a pipeline whose stages are objects decodes")
            .into_inner()
            .pipelines
            .expect("pipelines");
    let stages = pipelines[0].stages.as_ref().expect("stages are read");
    assert_eq!(stages[0].name.as_deref(), Some("New lead"));
    assert_eq!(stages[0].position, Some(0.0));
}

#[tokio::test]
async fn a_401_is_an_api_error_with_the_message() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/opportunities/yWQobCRIhRguQtD2llvk"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({ "statusCode": 401, "message": "Invalid JWT" })),
        )
        .mount(&h.server)
        .await;

    let err =
        h.hl.opportunities()
            .get_opportunity()
            .id("yWQobCRIhRguQtD2llvk")
            .send()
            .await
            .expect_err("401 is an error");

    h.only_request("2021-07-28").await;
    assert_eq!(err.operation_id(), "get_opportunity");
    match err {
        highlevel::Error::Api(api) => {
            assert_eq!(api.status().as_u16(), 401);
            assert_eq!(api.message().as_deref(), Some("Invalid JWT"));
        }
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

#[tokio::test]
async fn a_502_with_html_is_retried_then_an_api_error_keeping_the_raw_body() {
    let h = Harness::start().await;
    let html = "<html><head><title>502 Bad Gateway</title></head>\
                <body><center><h1>502 Bad Gateway</h1></center></body></html>";
    Mock::given(method("GET"))
        .and(path("/opportunities/yWQobCRIhRguQtD2llvk"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(html, "text/html"))
        .mount(&h.server)
        .await;

    let err =
        h.hl.opportunities()
            .get_opportunity()
            .id("yWQobCRIhRguQtD2llvk")
            .send()
            .await
            .expect_err("502 is an error");

    // A GET is idempotent: the 502 was tried the default 4 times before it surfaced.
    let requests = h.server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 4, "{requests:?}");
    match err {
        highlevel::Error::Api(api) => {
            assert_eq!(api.status().as_u16(), 502);
            assert_eq!(api.raw_body().as_ref(), html.as_bytes());
            assert_eq!(api.message(), None);
        }
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

#[tokio::test]
async fn a_204_for_a_json_operation_succeeds() {
    let h = Harness::start().await;
    Mock::given(method("DELETE"))
        .and(path("/opportunities/yWQobCRIhRguQtD2llvk"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&h.server)
        .await;

    let response =
        h.hl.opportunities()
            .delete_opportunity()
            .id("yWQobCRIhRguQtD2llvk")
            .send()
            .await
            .expect("204 without a body is a success");

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "DELETE");
    assert_eq!(request.url.path(), "/opportunities/yWQobCRIhRguQtD2llvk");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(response.into_inner().succeded, None);
}

#[tokio::test]
async fn an_empty_200_for_a_json_operation_succeeds() {
    let h = Harness::start().await;
    Mock::given(method("DELETE"))
        .and(path("/opportunities/yWQobCRIhRguQtD2llvk"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&h.server)
        .await;

    let deleted =
        h.hl.opportunities()
            .delete_opportunity()
            .id("yWQobCRIhRguQtD2llvk")
            .send()
            .await
            .expect("an empty 200 is a success")
            .into_inner();

    h.only_request("2021-07-28").await;
    assert_eq!(deleted.succeded, None);
}
