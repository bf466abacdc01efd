//! Known defect (reported, not worked around): upstream types a post's `status` and `type` as
//! `object` although their examples and the real API use strings (`"published"`, `"post"`), so
//! `GetPostFormattedSchema` decodes them as JSON maps and a real post fails to decode
//! (`post_with_string_status_and_type_decodes` pins this). The enum test below therefore
//! leaves both fields out.

use highlevel::social_media_posting::multipart::{FilePart, UploadCsvForm};
use highlevel::social_media_posting::types::GetPostFormattedSchemaSource;
use highlevel_tests::{Harness, contains, multipart_boundary, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_post_keeps_an_unknown_source() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/social-media-posting/ve9EPM428h8vShlRW1KT/posts/6650c1b2e4b0a1c2d3e4f5a6",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "statusCode": 200,
            "message": "Fetched post",
            "results": {
                "post": {
                    "_id": "6650c1b2e4b0a1c2d3e4f5a6",
                    "accountId": "6650c1b2e4b0a1c2d3e4f5a7_ve9EPM428h8vShlRW1KT_1234567890_page",
                    "accountIds": ["6650c1b2e4b0a1c2d3e4f5a7_ve9EPM428h8vShlRW1KT_1234567890_page"],
                    "locationId": "ve9EPM428h8vShlRW1KT",
                    "platform": "facebook",
                    "summary": "Spring sale starts today!",
                    "source": "ai_assistant",
                    "error": "",
                    "tags": ["promo"],
                    "createdAt": "2025-03-01T10:00:00.000Z",
                    "boostDetails": { "budget": 20 }
                }
            }
        })))
        .mount(&h.server)
        .await;

    let got =
        h.hl.social_media_posting()
            .get_post()
            .location_id("ve9EPM428h8vShlRW1KT")
            .id("6650c1b2e4b0a1c2d3e4f5a6")
            .send()
            .await
            .expect("post decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(
        request.url.path(),
        "/social-media-posting/ve9EPM428h8vShlRW1KT/posts/6650c1b2e4b0a1c2d3e4f5a6"
    );
    assert_eq!(query(&request), "");
    assert_eq!(got.success, Some(true));
    let post = got.results.and_then(|r| r.post).expect("post");
    assert_eq!(
        post.source,
        Some(GetPostFormattedSchemaSource::Unrecognized(
            "ai_assistant".into()
        ))
    );
    assert_eq!(post.platform.as_deref(), Some("facebook"));
    assert_eq!(post.published_at, None, "declared but omitted");
    assert!(post.media.is_none(), "declared but omitted");
}

#[tokio::test]
async fn post_with_string_status_and_type_decodes() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/social-media-posting/ve9EPM428h8vShlRW1KT/posts/6650c1b2e4b0a1c2d3e4f5a6",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "statusCode": 200,
            "results": { "post": {
                "_id": "6650c1b2e4b0a1c2d3e4f5a6",
                "locationId": "ve9EPM428h8vShlRW1KT",
                "source": "composer",
                "status": "published",
                "type": "post"
            } }
        })))
        .mount(&h.server)
        .await;

    // Upstream types `status` and `type` as objects while its examples (and the API) use
    // strings; the generator trusts the examples.
    let post =
        h.hl.social_media_posting()
            .get_post()
            .location_id("ve9EPM428h8vShlRW1KT")
            .id("6650c1b2e4b0a1c2d3e4f5a6")
            .send()
            .await
            .expect("a post whose status and type are strings decodes")
            .into_inner()
            .results
            .and_then(|r| r.post)
            .expect("post");
    // `object` in the spec, strings in its examples: any JSON is taken.
    assert_eq!(
        post.status.as_ref().and_then(serde_json::Value::as_str),
        Some("published")
    );
    assert_eq!(
        post.type_.as_ref().and_then(serde_json::Value::as_str),
        Some("post")
    );
}

#[tokio::test]
async fn upload_csv_sends_a_multipart_form() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/social-media-posting/ve9EPM428h8vShlRW1KT/csv"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "success": true,
            "statusCode": 201,
            "message": "File uploaded",
            "results": {
                "filePath": "https://storage.googleapis.com/social/ve9EPM428h8vShlRW1KT/posts.csv",
                "rowsCount": 2,
                "validationWarnings": []
            }
        })))
        .mount(&h.server)
        .await;

    let csv = b"postAtSpecificTime,content,link\r\n2025-04-01 10:00,Hello,https://example.com\r\n"
        .to_vec();
    let form = UploadCsvForm {
        file: Some(FilePart::new("posts.csv", csv.clone()).with_content_type("text/csv")),
        ..Default::default()
    };
    let uploaded =
        h.hl.social_media_posting()
            .upload_csv()
            .location_id("ve9EPM428h8vShlRW1KT")
            .body(form)
            .send()
            .await
            .expect("upload decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request.url.path(),
        "/social-media-posting/ve9EPM428h8vShlRW1KT/csv"
    );
    let boundary = multipart_boundary(&request);
    let body = &request.body;
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"file\"; filename=\"posts.csv\""
    ));
    assert!(contains(body, b"Content-Type: text/csv"));
    assert!(contains(body, &csv));
    assert!(body.ends_with(format!("--{boundary}--\r\n").as_bytes()));
    assert_eq!(uploaded.status_code, Some(201.0));
    let results = uploaded.results.expect("results");
    assert_eq!(results.rows_count, Some(2.0));
    assert_eq!(results.file_name, None, "declared but omitted");
}
