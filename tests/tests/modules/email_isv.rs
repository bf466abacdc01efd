use highlevel::email_isv::types::{
    VerificationBodyDto, VerificationBodyDtoType, VerifyEmailResponse, VerifyEmailResponseResult,
    VerifyEmailResponseRisk,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn verify(h: &Harness, answer: serde_json::Value) -> VerifyEmailResponse {
    Mock::given(method("POST"))
        .and(path("/email/verify"))
        .respond_with(ResponseTemplate::new(201).set_body_json(answer))
        .mount(&h.server)
        .await;

    let verified =
        h.hl.email_isv()
            .verify_email()
            .location_id("5DP4iH6HLkQsiKESj6rh")
            .body(VerificationBodyDto {
                type_: VerificationBodyDtoType::Email,
                verify: "abc@xyz.com".into(),
            })
            .send()
            .await
            .expect("verification decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/email/verify");
    assert_eq!(query(&request), "locationId=5DP4iH6HLkQsiKESj6rh");
    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(sent, json!({ "type": "email", "verify": "abc@xyz.com" }));
    verified
}

#[tokio::test]
async fn verify_email_posts_the_body_and_keeps_an_unknown_risk() {
    let h = Harness::start().await;
    let verified = verify(
        &h,
        json!({
            "address": "abc@xyz.com",
            "result": "deliverable",
            "risk": "very_high",
            "reason": ["role_account"],
            "provider": "acme-verify"
        }),
    )
    .await;

    let dto = verified;
    assert_eq!(dto.address.as_deref(), Some("abc@xyz.com"));
    assert_eq!(dto.result, Some(VerifyEmailResponseResult::Deliverable));
    assert_eq!(
        dto.risk,
        Some(VerifyEmailResponseRisk::Unrecognized("very_high".into()))
    );
    assert_eq!(dto.reason, Some(vec!["role_account".to_owned()]));
    assert!(
        dto.leadconnector_recomendation.is_none(),
        "a declared field the server left out is None"
    );
}

/// The response is `oneOf [EmailVerifiedResponseDto, EmailNotVerifiedResponseDto]`; the
/// generator merges the two into one object, so the not-verified answer keeps `verified` and
/// `message`.
#[tokio::test]
async fn verify_email_not_verified_answer_keeps_its_fields() {
    let h = Harness::start().await;
    let verified = verify(
        &h,
        json!({
            "verified": false,
            "message": "Validation is disabled / proper config not found",
            "address": "abc@xyz.com"
        }),
    )
    .await;

    let dto = verified;
    assert_eq!(dto.result, None);
    assert_eq!(dto.verified, Some(false));
    assert_eq!(
        dto.message.as_deref(),
        Some("Validation is disabled / proper config not found")
    );
}
