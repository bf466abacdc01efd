use highlevel::payments::types::{CouponDtoDiscountType, CouponDtoStatus, ListCouponsAltType};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn list_coupons_sends_integer_paging_and_keeps_an_unknown_status() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/payments/coupon/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {
                    "_id": "6241712be68f7a98102ba272",
                    "usageCount": 3,
                    "limitPerCustomer": 1,
                    "altId": "6578278e879ad2646715ba9c",
                    "altType": "location",
                    "name": "Summer sale",
                    "code": "SUMMER25",
                    "discountType": "percentage",
                    "discountValue": 25,
                    "status": "paused",
                    "startDate": "2025-06-01T00:00:00.000Z",
                    "endDate": "2025-08-31T23:59:59.000Z",
                    "applyToFuturePayments": false,
                    "userId": "6578278e879ad2646715ba9d",
                    "createdAt": "2025-05-20T09:00:00.000Z",
                    "updatedAt": "2025-05-20T09:00:00.000Z",
                    "productIds": ["prod_1"]
                },
                {
                    "_id": "6241712be68f7a98102ba273",
                    "code": "FLAT10",
                    "discountType": "amount",
                    "discountValue": 10,
                    "status": "active"
                }
            ],
            "totalCount": 2,
            "traceId": "8f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
        })))
        .mount(&h.server)
        .await;

    let coupons =
        h.hl.payments()
            .list_coupons()
            .alt_id("6578278e879ad2646715ba9c")
            .alt_type(ListCouponsAltType::Location)
            .limit(20)
            .offset(40)
            .send()
            .await
            .expect("coupons decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/payments/coupon/list");
    assert_eq!(
        query(&request),
        "altId=6578278e879ad2646715ba9c&altType=location&limit=20&offset=40"
    );
    assert_eq!(coupons.total_count, Some(2.0));
    let data = coupons.data.expect("data");
    assert_eq!(
        data[0].status,
        Some(CouponDtoStatus::Unrecognized("paused".into()))
    );
    assert_eq!(
        data[0].discount_type,
        Some(CouponDtoDiscountType::Percentage)
    );
    assert_eq!(data[0].discount_value, Some(25.0));
    assert_eq!(data[1].status, Some(CouponDtoStatus::Active));
    assert_eq!(data[1].discount_type, Some(CouponDtoDiscountType::Amount));
    assert_eq!(data[1].name, None, "declared but omitted");
    assert_eq!(data[1].usage_count, None, "declared but omitted");
}
