//! oauth: the responses declare no string enum (the module's two enums are request-side:
//! `grant_type`, `user_type`), so the decoding checks are an undeclared field and an omitted one.

use highlevel::oauth::types::{
    GetAccessCodebodyDto, GetAccessCodebodyDtoGrantType, GetAccessCodebodyDtoUserType,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_access_token_posts_a_urlencoded_form() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ab12dc0ae1234a7898f9ff06d4f69gh",
            "token_type": "Bearer",
            "expires_in": 86399,
            "refresh_token": "xy34dc0ae1234a4858f9ff06d4f66ba",
            "scope": "conversations/message.readonly conversations/message.write",
            "userType": "Location",
            "locationId": "l1C08ntBrFjLS0elLIYU",
            "companyId": "c0mp4nyIdXyZ12345678",
            "userId": "u5erIdAbCdEf12345678",
            "refreshTokenId": "66f1a2b3c4d5e6f7a8b9c0d1"
        })))
        .mount(&h.server)
        .await;

    let token =
        h.hl.oauth()
            .get_access_token()
            .body(
                GetAccessCodebodyDto::builder()
                    .client_id("6650c1b2e4b0a1c2d3e4f5a6-lx1abc2d")
                    .client_secret("s3cr3t-v4lue")
                    .grant_type(GetAccessCodebodyDtoGrantType::AuthorizationCode)
                    .code(Some("7f3a2c9e1b".to_owned()))
                    .redirect_uri(Some("https://app.example.com/oauth/callback".to_owned()))
                    .user_type(Some(GetAccessCodebodyDtoUserType::Location)),
            )
            .send()
            .await
            .expect("token decodes")
            .into_inner();

    // The operation declares no `Version`; the SDK sends the default. It authenticates with the
    // client secret in its form, so no bearer token goes along (an overlay says so).
    let request = h.only_unauthenticated_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/oauth/token");
    assert_eq!(query(&request), "");
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
    let body = std::str::from_utf8(&request.body).expect("utf-8 form");
    let mut fields: Vec<&str> = body.split('&').collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "client_id=6650c1b2e4b0a1c2d3e4f5a6-lx1abc2d",
            "client_secret=s3cr3t-v4lue",
            "code=7f3a2c9e1b",
            "grant_type=authorization_code",
            "redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback",
            "user_type=Location",
        ]
    );
    assert_eq!(
        token.access_token.as_deref(),
        Some("ab12dc0ae1234a7898f9ff06d4f69gh")
    );
    assert_eq!(token.expires_in, Some(86399.0));
    assert_eq!(token.user_type.as_deref(), Some("Location"));
    assert_eq!(token.plan_id, None, "declared but omitted");
    assert_eq!(token.approved_locations, None, "declared but omitted");
}

#[tokio::test]
async fn get_installed_location_sends_the_query() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/oauth/installedLocations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "locations": [
                { "_id": "0IHuJvc2ofPAAA8GzTRi", "name": "John Deo", "address": "47 W 13th St, New York",
                  "isInstalled": true, "trial": { "onTrial": false } },
                { "_id": "1JIvKwd3pgQBBB9HaUSj", "isInstalled": false }
            ],
            "count": 2,
            "installToFutureLocations": true
        })))
        .mount(&h.server)
        .await;

    let installed =
        h.hl.oauth()
            .get_installed_location()
            .company_id("tDtDnQdgm2LXpyiqYvZ6")
            .app_id("tDtDnQdgm2LXpyiqYvZ6")
            .skip("0")
            .limit("20")
            .is_installed(true)
            .send()
            .await
            .expect("installed locations decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/oauth/installedLocations");
    assert_eq!(
        query(&request),
        "appId=tDtDnQdgm2LXpyiqYvZ6&companyId=tDtDnQdgm2LXpyiqYvZ6&isInstalled=true&limit=20&skip=0"
    );
    assert_eq!(installed.count, Some(2.0));
    let locations = installed.locations.expect("locations");
    assert_eq!(locations[0].id.as_deref(), Some("0IHuJvc2ofPAAA8GzTRi"));
    assert_eq!(locations[1].is_installed, Some(false));
    assert_eq!(locations[1].name, None, "declared but omitted");
}
