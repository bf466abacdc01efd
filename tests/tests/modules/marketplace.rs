use highlevel::marketplace::types::UsagePlanDtoPriceType;
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_charges_sends_integer_paging_and_the_default_version() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/marketplace/billing/charges"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "charges": [
                {
                    "refunded": false,
                    "currency": "USD",
                    "appId": "6578278e879ad2646715ba9c",
                    "meterId": "680b97022b4a34420f5f9b93",
                    "chargeId": "charge_123",
                    "entityType": "location",
                    "entityId": "ve9EPM428h8vShlRW1KT",
                    "amountCharged": 0.1,
                    "pricePerUnit": 0.01,
                    "units": 10,
                    "transactionType": "charge",
                    "meta": { "campaign": "spring" },
                    "createdAt": "2025-03-26T10:00:00.000Z",
                    "invoiceLineId": "il_77"
                },
                { "chargeId": "charge_124", "transactionType": "refund", "amountCharged": 0.05 }
            ],
            "count": 2,
            "pagination": { "skip": 20, "limit": 20, "total": 42 }
        })))
        .mount(&h.server)
        .await;

    let page =
        h.hl.marketplace()
            .get_charges()
            .meter_id("680b97022b4a34420f5f9b93")
            .skip(20)
            .limit(20)
            .send()
            .await
            .expect("charges decode")
            .into_inner();

    // `getCharges` declares no `Version` upstream; the SDK sends the default.
    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/marketplace/billing/charges");
    assert_eq!(
        query(&request),
        "limit=20&meterId=680b97022b4a34420f5f9b93&skip=20"
    );
    let pagination = page.pagination.expect("pagination");
    assert_eq!(pagination.total, Some(42.0));
    let charges = page.charges.expect("charges");
    assert_eq!(charges[0].amount_charged, Some(0.1));
    assert_eq!(charges[0].meta["campaign"], "spring");
    assert_eq!(charges[1].transaction_type.as_deref(), Some("refund"));
    assert_eq!(charges[1].currency, None, "declared but omitted");
    assert!(charges[1].meta.is_empty(), "declared but omitted");
}

#[tokio::test]
async fn get_rebilling_config_keeps_an_unknown_price_type() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/marketplace/app/6578278e879ad2646715ba9c/rebilling-config/location/ve9EPM428h8vShlRW1KT",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "plans": {
                "subscription": [{
                    "resellingAmount": 0, "baseAmount": 999, "planId": "5ae000000000000000000000",
                    "features": ["feature1"], "paymentType": "month", "name": "Monthly Plan - 999",
                    "paymentTime": "month"
                }],
                "usage": [
                    {
                        "productType": "workflow_action",
                        "productName": "Send Group iMessage",
                        "usageUnit": "action / message",
                        "meterId": "680b97022b4a34420f5f9b93",
                        "meterName": "Send Group iMessage",
                        "fixedPricePerUnit": 0.01001,
                        "priceType": "fixed",
                        "minPricePerUnit": "0.01001",
                        "maxPricePerUnit": "0.01001",
                        "executionLimitPerCycle": 1000
                    },
                    {
                        "productType": "ai",
                        "productName": "Voice minutes",
                        "usageUnit": "minute",
                        "meterId": "680b97022b4a34420f5f9b94",
                        "priceType": "tiered",
                        "tiers": [{ "upTo": 100, "price": "0.02" }]
                    }
                ]
            }
        })))
        .mount(&h.server)
        .await;

    let config =
        h.hl.marketplace()
            .get_rebilling_config_for_app()
            .app_id("6578278e879ad2646715ba9c")
            .location_id("ve9EPM428h8vShlRW1KT")
            .send()
            .await
            .expect("rebilling config decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/marketplace/app/6578278e879ad2646715ba9c/rebilling-config/location/ve9EPM428h8vShlRW1KT"
    );
    assert_eq!(query(&request), "");
    let usage = config.plans.and_then(|p| p.usage).expect("usage plans");
    assert_eq!(usage[0].price_type, Some(UsagePlanDtoPriceType::Fixed));
    assert_eq!(
        usage[1].price_type,
        Some(UsagePlanDtoPriceType::Unrecognized("tiered".into()))
    );
    assert_eq!(usage[1].fixed_price_per_unit, None, "declared but omitted");
    assert_eq!(usage[1].meter_name, None, "declared but omitted");
}
