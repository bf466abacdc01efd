use highlevel::phone_system::types::{
    ActiveNumbersResponseAccountStatus, DetailedPhoneNumberDtoOrigin, DetailedPhoneNumberDtoType,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use std::num::NonZeroU64;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn active_numbers_sends_integer_paging_and_keeps_unknown_enum_values() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/phone-system/numbers/location/ve9EPM428h8vShlRW1KT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "numbers": [
                {
                    "phoneNumber": "+14155552671",
                    "friendlyName": "Sales Line 1",
                    "sid": "PN1234567890abcdef1234567890abcde",
                    "countryCode": "US",
                    "capabilities": { "voice": true, "sms": true, "mms": true, "fax": false },
                    "type": "shortcode",
                    "isDefaultNumber": true,
                    "linkedUser": "user_123456789",
                    "inboundCallService": { "type": "voice_ai", "value": "68e381b296a83800a27cd1" },
                    "dateAdded": "2023-01-15T10:30:00Z",
                    "origin": "leadconnector",
                    "a2pStatus": "approved"
                },
                {
                    "phoneNumber": "+18005551234",
                    "type": "toll-free",
                    "linkedUser": null,
                    "inboundCallService": null,
                    "origin": "twilio"
                }
            ],
            "isUnderGhl": true,
            "pageSize": 20,
            "page": 2,
            "accountStatus": "under_review"
        })))
        .mount(&h.server)
        .await;

    let active =
        h.hl.phone_system()
            .active_numbers()
            .location_id("ve9EPM428h8vShlRW1KT")
            .page(2_u64)
            .page_size(NonZeroU64::new(20).expect("non-zero"))
            .skip_number_pool(true)
            .send()
            .await
            .expect("numbers decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/phone-system/numbers/location/ve9EPM428h8vShlRW1KT"
    );
    assert_eq!(query(&request), "page=2&pageSize=20&skipNumberPool=true");
    assert_eq!(
        active.account_status,
        Some(ActiveNumbersResponseAccountStatus::Unrecognized(
            "under_review".into()
        ))
    );
    assert_eq!(active.page_size, Some(20.0));
    let numbers = active.numbers.expect("numbers");
    assert_eq!(
        numbers[0].type_,
        Some(DetailedPhoneNumberDtoType::Unrecognized("shortcode".into()))
    );
    assert_eq!(
        numbers[0].origin,
        Some(DetailedPhoneNumberDtoOrigin::Unrecognized(
            "leadconnector".into()
        ))
    );
    assert_eq!(numbers[1].type_, Some(DetailedPhoneNumberDtoType::TollFree));
    assert_eq!(
        numbers[1].origin,
        Some(DetailedPhoneNumberDtoOrigin::Twilio)
    );
    assert_eq!(numbers[1].linked_user, None, "null");
    assert!(numbers[1].inbound_call_service.is_none(), "null");
    assert_eq!(numbers[1].friendly_name, None, "declared but omitted");
}
