//! courses: the one operation answers `201` with no body in the spec, so the SDK returns the
//! untyped JSON value; the module's string enums (`visibility`, `contentType`, material `type`)
//! are request-side only. This checks the strictly typed request body on the wire instead.

use highlevel::courses::types::{
    CategoryInterface, ContentType, InstructorDetails, PostInterface, PostMaterialInterface,
    ProductInterface, PublicExporterPayload, Type, Visibility,
};
use highlevel_tests::{Harness, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn import_courses_posts_the_typed_payload_as_json() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/courses/courses-exporter/public/import"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&h.server)
        .await;

    let payload = PublicExporterPayload {
        location_id: "loc-7Hq2".into(),
        user_id: Some("usr_1".into()),
        products: vec![ProductInterface {
            title: "Onboarding 101".into(),
            description: "Everything a new client needs".into(),
            image_url: None,
            instructor_details: Some(InstructorDetails {
                name: "Sam Lee".into(),
                description: "Head of success".into(),
            }),
            categories: vec![CategoryInterface {
                title: "Getting started".into(),
                visibility: Visibility::Published,
                thumbnail_url: None,
                sub_categories: vec![],
                posts: vec![PostInterface {
                    title: "Welcome".into(),
                    description: "A short intro".into(),
                    visibility: Visibility::Draft,
                    content_type: ContentType::Video,
                    bucket_video_url: Some("https://cdn.example/welcome.mp4".into()),
                    thumbnail_url: None,
                    post_materials: vec![PostMaterialInterface {
                        title: "Checklist".into(),
                        type_: Type::Pdf,
                        url: "https://cdn.example/checklist.pdf".into(),
                    }],
                }],
            }],
        }],
    };
    let answer =
        h.hl.courses()
            .import_courses()
            .body(payload)
            .send()
            .await
            .expect("an empty 201 is success")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request.url.path(),
        "/courses/courses-exporter/public/import"
    );
    assert_eq!(query(&request), "");
    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(
        sent,
        json!({
            "locationId": "loc-7Hq2",
            "userId": "usr_1",
            "products": [{
                "title": "Onboarding 101",
                "description": "Everything a new client needs",
                "instructorDetails": { "name": "Sam Lee", "description": "Head of success" },
                "categories": [{
                    "title": "Getting started",
                    "visibility": "published",
                    "posts": [{
                        "title": "Welcome",
                        "description": "A short intro",
                        "visibility": "draft",
                        "contentType": "video",
                        "bucketVideoUrl": "https://cdn.example/welcome.mp4",
                        "postMaterials": [{
                            "title": "Checklist",
                            "type": "pdf",
                            "url": "https://cdn.example/checklist.pdf"
                        }]
                    }]
                }]
            }]
        })
    );
    assert_eq!(answer, serde_json::Value::Null);
}
