use highlevel::saas_api::types::SaasPlanResponseDtoPricesItemBillingInterval;
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_saas_locations_sends_an_integer_page() {
    let h = Harness::start().await;
    // The spec declares no response schema here, so the SDK hands back the JSON value.
    Mock::given(method("GET"))
        .and(path("/saas/saas-locations/5DP4iH6HLkQsiKESj6rh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "locations": [{ "id": "r06mdj4OrrERzYDvsOdh", "name": "Downtown Dental" }],
            "pagination": { "page": 2, "total": 101 }
        })))
        .mount(&h.server)
        .await;

    let found =
        h.hl.saas_api()
            .get_saas_locations()
            .company_id("5DP4iH6HLkQsiKESj6rh")
            .page(2)
            .send()
            .await
            .expect("locations decode")
            .into_inner();

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/saas/saas-locations/5DP4iH6HLkQsiKESj6rh"
    );
    assert_eq!(query(&request), "page=2");
    assert_eq!(found["pagination"]["total"], 101);
}

// The operation under test is deprecated upstream; calling it is the point.
#[allow(deprecated)]
#[tokio::test]
async fn get_saas_plan_keeps_an_unknown_billing_interval() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/saas-api/public-api/saas-plan/66c4d36534f21f900dc2a265",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "planId": "66c4d36534f21f900dc2a265",
            "companyId": "5DP4iH6HLkQsiKESj6rh",
            "title": "Pro",
            "description": "Everything in Starter plus AI",
            "saasProducts": ["2-way-text-messaging", "gmb-messaging", "web-chat"],
            "addOns": ["WHATSAPP_V1"],
            "planLevel": 2,
            "trialPeriod": 14,
            "prices": [
                { "id": "66a9edbfcc6c505a22db7976", "billingInterval": "month", "active": true,
                  "amount": 297, "currency": "USD", "symbol": "$" },
                { "id": "66a9edbfcc6c505a22db7977", "billingInterval": "quarter", "active": true,
                  "amount": 800, "currency": "USD", "symbol": "$", "stripePriceId": "price_1Pq" }
            ],
            "isSaaSV2": true,
            "createdAt": "2024-07-31T07:54:41.885Z",
            "updatedAt": "2025-04-01T12:27:29.167Z"
        })))
        .mount(&h.server)
        .await;

    let plan =
        h.hl.saas_api()
            .get_saas_plan_deprecated()
            .plan_id("66c4d36534f21f900dc2a265")
            .company_id("5DP4iH6HLkQsiKESj6rh")
            .send()
            .await
            .expect("plan decodes")
            .into_inner();

    let request = h.only_request("2021-04-15").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/saas-api/public-api/saas-plan/66c4d36534f21f900dc2a265"
    );
    assert_eq!(query(&request), "companyId=5DP4iH6HLkQsiKESj6rh");
    let prices = plan.prices.expect("prices");
    assert_eq!(
        prices[0].billing_interval,
        Some(SaasPlanResponseDtoPricesItemBillingInterval::Month)
    );
    assert_eq!(
        prices[1].billing_interval,
        Some(SaasPlanResponseDtoPricesItemBillingInterval::Unrecognized(
            "quarter".into()
        ))
    );
    assert_eq!(plan.is_saa_sv2, Some(true));
    assert_eq!(plan.setup_fee, None, "declared but omitted");
    assert_eq!(plan.snapshot_id, None, "declared but omitted");
}
