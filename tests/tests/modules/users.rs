use highlevel::users::types::{UserSchemaPlatformLanguage, UserSchemaScopes};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn search_users_sends_the_query_and_keeps_unknown_enum_values() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/users/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "users": [
                {
                    "id": "0IHuJvc2ofPAAA8GzTRi",
                    "name": "John Deo",
                    "firstName": "John",
                    "lastName": "Deo",
                    "email": "john@deo.com",
                    "phone": "+1 808-868-8888",
                    "extension": "",
                    "scopes": "contacts.write",
                    "roles": { "type": "account", "role": "admin", "locationIds": ["ve9EPM428h8vShlRW1KT"],
                               "restrictSubAccount": false },
                    "deleted": false,
                    "lcPhone": { "ve9EPM428h8vShlRW1KT": "+1234556677" },
                    "platformLanguage": "ja_JP",
                    "profilePhoto": "https://cdn.example.com/u/0IHu.png"
                },
                {
                    "id": "1JIvKwd3pgQBBB9HaUSj",
                    "name": "Ana Ruiz",
                    "scopes": "ai-employees.write",
                    "platformLanguage": "es"
                }
            ],
            "count": 2
        })))
        .mount(&h.server)
        .await;

    // `skip`/`limit` are strings in the spec, so they are passed as such.
    let found =
        h.hl.users()
            .search_users()
            .company_id("5DP4iH6HLkQsiKESj6rh")
            .query("john")
            .skip("0")
            .limit("20")
            .location_id("ve9EPM428h8vShlRW1KT")
            .send()
            .await
            .expect("users decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/users/search");
    assert_eq!(
        query(&request),
        "companyId=5DP4iH6HLkQsiKESj6rh&limit=20&locationId=ve9EPM428h8vShlRW1KT&query=john&skip=0"
    );
    assert_eq!(found.count, Some(2.0));
    let users = found.users.expect("users");
    assert_eq!(
        users[0].platform_language,
        Some(UserSchemaPlatformLanguage::Unrecognized("ja_JP".into()))
    );
    assert_eq!(users[0].scopes, Some(UserSchemaScopes::ContactsWrite));
    assert_eq!(users[0].lc_phone["ve9EPM428h8vShlRW1KT"], "+1234556677");
    assert_eq!(
        users[1].platform_language,
        Some(UserSchemaPlatformLanguage::Es)
    );
    assert_eq!(
        users[1].scopes,
        Some(UserSchemaScopes::Unrecognized("ai-employees.write".into()))
    );
    assert_eq!(users[1].email, None, "declared but omitted");
    assert!(users[1].roles.is_none(), "declared but omitted");
}
