use highlevel::store::types::{
    ListShippingRatesAltType, ShippingRateSchemaAltType, ShippingRateSchemaConditionType,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn list_shipping_rates_sends_integer_paging_and_keeps_unknown_enum_values() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/store/shipping-zone/655b33a82209e60b6adb87a5/shipping-rate",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 2,
            "data": [
                {
                    "_id": "655b33a82209e60b6adb87a6",
                    "altId": "6578278e879ad2646715ba9c",
                    "altType": "location",
                    "name": "Standard",
                    "description": "Ships next day",
                    "currency": "USD",
                    "amount": 9.99,
                    "conditionType": "price",
                    "minCondition": 0,
                    "maxCondition": 99.99,
                    "isCarrierRate": false,
                    "shippingZoneId": "655b33a82209e60b6adb87a5",
                    "createdAt": "2023-12-12T09:27:42.355Z",
                    "updatedAt": "2023-12-12T09:27:42.355Z",
                    "__v": 0
                },
                {
                    "_id": "655b33a82209e60b6adb87a7",
                    "altId": "6578278e879ad2646715ba9c",
                    "altType": "company",
                    "name": "Bulky items",
                    "currency": "USD",
                    "amount": 49,
                    "conditionType": "volume",
                    "shippingZoneId": "655b33a82209e60b6adb87a5"
                }
            ]
        })))
        .mount(&h.server)
        .await;

    let rates =
        h.hl.store()
            .list_shipping_rates()
            .shipping_zone_id("655b33a82209e60b6adb87a5")
            .alt_id("6578278e879ad2646715ba9c")
            .alt_type(ListShippingRatesAltType::Location)
            .limit(20)
            .offset(0)
            .send()
            .await
            .expect("rates decode")
            .into_inner();

    // `list-shipping-rates` declares no `Version` upstream; the SDK sends the default.
    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/store/shipping-zone/655b33a82209e60b6adb87a5/shipping-rate"
    );
    assert_eq!(
        query(&request),
        "altId=6578278e879ad2646715ba9c&altType=location&limit=20&offset=0"
    );
    assert_eq!(rates.total, Some(2.0));
    let data = rates.data.expect("data");
    assert_eq!(data[0].alt_type, Some(ShippingRateSchemaAltType::Location));
    assert_eq!(
        data[0].condition_type,
        Some(ShippingRateSchemaConditionType::Price)
    );
    assert_eq!(data[0].max_condition, Some(99.99));
    assert_eq!(
        data[1].alt_type,
        Some(ShippingRateSchemaAltType::Unrecognized("company".into()))
    );
    assert_eq!(
        data[1].condition_type,
        Some(ShippingRateSchemaConditionType::Unrecognized(
            "volume".into()
        ))
    );
    assert_eq!(data[1].min_condition, None, "declared but omitted");
    assert_eq!(data[1].description, None, "declared but omitted");
}
