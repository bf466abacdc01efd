use highlevel::products::types::DefaultPriceResponseDtoType;
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn list_prices_sends_integer_paging_and_keeps_an_unknown_price_type() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/products/655b33a82209e60b6adb87a5/price"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "prices": [
                {
                    "_id": "655b33aa2209e60b6adb87a7",
                    "variantOptionIds": ["h4z7u0im2q8", "h3nst2ltsnn"],
                    "locationId": "3SwdhCsvxI8Au3KsPJt6",
                    "product": "655b33a82209e60b6adb87a5",
                    "userId": "6YAtzfzpmHAdj0e8GkKp",
                    "name": "Red / S",
                    "type": "one_time",
                    "currency": "INR",
                    "amount": 199999,
                    "createdAt": "2023-11-20T10:23:38.645Z",
                    "updatedAt": "2024-01-23T09:57:04.852Z",
                    "compareAtPrice": 2000000,
                    "trackInventory": null,
                    "sku": "RED-S"
                },
                {
                    "_id": "655b33aa2209e60b6adb87a8",
                    "name": "Pay what you want",
                    "type": "donation",
                    "currency": "INR",
                    "amount": 0
                }
            ],
            "total": 2
        })))
        .mount(&h.server)
        .await;

    let listed =
        h.hl.products()
            .list_prices_for_product()
            .product_id("655b33a82209e60b6adb87a5")
            .location_id("3SwdhCsvxI8Au3KsPJt6")
            .limit(20)
            .offset(0)
            .send()
            .await
            .expect("prices decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/products/655b33a82209e60b6adb87a5/price"
    );
    assert_eq!(
        query(&request),
        "limit=20&locationId=3SwdhCsvxI8Au3KsPJt6&offset=0"
    );
    assert_eq!(listed.total, Some(2.0));
    let prices = listed.prices.expect("prices");
    assert_eq!(prices[0].type_, Some(DefaultPriceResponseDtoType::OneTime));
    assert_eq!(prices[0].amount, Some(199_999.0));
    assert_eq!(prices[0].track_inventory, None, "null");
    assert_eq!(
        prices[1].type_,
        Some(DefaultPriceResponseDtoType::Unrecognized("donation".into()))
    );
    assert_eq!(prices[1].compare_at_price, None, "declared but omitted");
    assert_eq!(prices[1].location_id, None, "declared but omitted");
}
