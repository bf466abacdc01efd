use highlevel::medias::multipart::{FilePart, UploadMediaContentForm};
use highlevel::medias::types::{
    CreateFolderParams, CreateFolderParamsAltType, FetchMediaContentAltType, FolderDtoAltType,
};
use highlevel_tests::{Harness, contains, multipart_boundary, query};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn fetch_media_content_sends_every_query_parameter() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/medias/files"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "files": [{ "_id": "f1", "name": "logo.png", "url": "https://cdn.example/logo.png", "type": "file" }],
            "total": 1
        })))
        .mount(&h.server)
        .await;

    // `offset`/`limit` are strings in the spec, so they are passed as such.
    let files =
        h.hl.medias()
            .fetch_media_content()
            .alt_id("sx6wyHhbFdRXh302LLNR")
            .alt_type(FetchMediaContentAltType::Location)
            .sort_by("createdAt")
            .sort_order("desc")
            .type_("file")
            .offset("40")
            .limit("20")
            .send()
            .await
            .expect("files decode")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/medias/files");
    assert_eq!(
        query(&request),
        "altId=sx6wyHhbFdRXh302LLNR&altType=location&limit=20&offset=40&sortBy=createdAt&sortOrder=desc&type=file"
    );
    // The spec declares a list of strings; the files are objects (specs/overlays.toml).
    let listed = files.files.unwrap_or_default();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name.as_deref(), Some("logo.png"));
    assert_eq!(
        listed[0].url.as_deref(),
        Some("https://cdn.example/logo.png")
    );
}

#[tokio::test]
async fn create_media_folder_sends_json_and_keeps_an_unknown_alt_type() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/medias/folder"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "altId": "sx6wyHhbFdRXh302LLNR",
            "altType": "agency",
            "name": "Brand assets",
            "parentId": "64af50c42d567a3b4f5989e0",
            "type": "folder",
            "deleted": false,
            "isPrivate": false,
            "_id": "6650c1b2e4b0a1c2d3e4f5a6"
        })))
        .mount(&h.server)
        .await;

    let folder =
        h.hl.medias()
            .create_media_folder()
            .body(
                CreateFolderParams::builder()
                    .alt_id("sx6wyHhbFdRXh302LLNR")
                    .alt_type(CreateFolderParamsAltType::Location)
                    .name("Brand assets")
                    .parent_id(Some("64af50c42d567a3b4f5989e0".to_owned())),
            )
            .send()
            .await
            .expect("folder decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/medias/folder");
    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(
        sent,
        json!({
            "altId": "sx6wyHhbFdRXh302LLNR",
            "altType": "location",
            "name": "Brand assets",
            "parentId": "64af50c42d567a3b4f5989e0"
        })
    );
    assert_eq!(
        folder.alt_type,
        Some(FolderDtoAltType::Unrecognized("agency".into()))
    );
    assert_eq!(folder.type_.as_deref(), Some("folder"));
    assert_eq!(folder.category, None, "declared but omitted");
}

#[tokio::test]
async fn upload_media_content_sends_a_multipart_form() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/medias/upload-file"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "fileId": "6650c1b2e4b0a1c2d3e4f5a7",
            "url": "https://assets.cdn.filesafe.space/sx6wyHhbFdRXh302LLNR/media/logo.png",
            "traceId": "a-trace"
        })))
        .mount(&h.server)
        .await;

    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    let form = UploadMediaContentForm {
        file: Some(FilePart::new("logo.png", png.clone()).with_content_type("image/png")),
        name: Some("logo".into()),
        hosted: Some(false),
        parent_id: Some("64af50c42d567a3b4f5989e0".into()),
        ..Default::default()
    };
    let uploaded =
        h.hl.medias()
            .upload_media_content()
            .body(form)
            .send()
            .await
            .expect("upload decodes")
            .into_inner();

    let request = h.only_request("2021-07-28").await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/medias/upload-file");
    let boundary = multipart_boundary(&request);
    let body = &request.body;
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"file\"; filename=\"logo.png\""
    ));
    assert!(contains(body, b"Content-Type: image/png"));
    assert!(contains(body, &png));
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"name\"\r\n\r\nlogo\r\n"
    ));
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"hosted\"\r\n\r\nfalse\r\n"
    ));
    assert!(contains(
        body,
        b"Content-Disposition: form-data; name=\"parentId\"\r\n\r\n64af50c42d567a3b4f5989e0\r\n"
    ));
    assert!(
        !contains(body, b"name=\"fileUrl\""),
        "unset fields are not sent"
    );
    assert!(body.ends_with(format!("--{boundary}--\r\n").as_bytes()));
    assert_eq!(
        uploaded.file_id.as_deref(),
        Some("6650c1b2e4b0a1c2d3e4f5a7")
    );
}
