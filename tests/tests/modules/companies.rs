//! companies: no response schema of this module has a string enum (`grep -c Unrecognized` on
//! the crate is 0), and its one operation has no query parameters, so this checks method,
//! path, headers, an undeclared field (ignored) and declared fields left out.

use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_company_decodes_leniently() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/companies/5DP4iH6HLkQsiKESj6rh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "company": {
                "id": "5DP4iH6HLkQsiKESj6rh",
                "name": "Acme Agency",
                "email": "ops@acme.example",
                "currency": "USD",
                "timezone": "US/Central",
                "locationCount": 37,
                "isReselling": true,
                "saasSettings": { "saasMode": "activated" },
                "whiteLabelDomain": "app.acme.example"
            }
        })))
        .mount(&h.server)
        .await;

    let company =
        h.hl.companies()
            .get_company()
            .company_id("5DP4iH6HLkQsiKESj6rh")
            .send()
            .await
            .expect("company decodes")
            .into_inner()
            .company
            .expect("company present");

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/companies/5DP4iH6HLkQsiKESj6rh");
    assert_eq!(query(&request), "");

    assert_eq!(company.id.as_deref(), Some("5DP4iH6HLkQsiKESj6rh"));
    assert_eq!(company.location_count, Some(37.0));
    assert_eq!(company.is_reselling, Some(true));
    assert_eq!(company.saas_settings["saasMode"], "activated");
    assert_eq!(
        company.phone, None,
        "a declared field the server left out is None"
    );
    assert_eq!(company.twilio_trial_mode, None);
    // `premiumUpgraded` declares `default: false` upstream, so the type is a plain `bool`.
    assert!(!company.premium_upgraded);
}
