//! The runtime over real loopback HTTP: requests prepared and sent, and responses mapped into
//! errors, exactly as a generated `send()` does it.
//!
//! Every server is `MockServer::builder().start()`, one of its own: a server from wiremock's
//! pool goes to the next test while a dropped client's requests may still arrive there.

use std::error::Error as _;

use highlevel_runtime::{
    Credentials, Error, FilePart, MultipartForm, OperationMeta, RequestBodyKind, ResponseBodyKind,
    ResponseValue, Runtime, SecurityScheme,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "pit-0123456789-very-secret";

const GET_CONTACT: OperationMeta = OperationMeta {
    operation_id: "get_contact",
    method: "GET",
    path: "/contacts/{contactId}",
    version: Some("2021-07-28"),
    security: &[SecurityScheme::LocationAccess],
    request_body: RequestBodyKind::None,
    response_body: ResponseBodyKind::Json,
    authenticated: true,
};

const UPLOAD: OperationMeta = OperationMeta {
    operation_id: "upload_media_content",
    method: "POST",
    path: "/medias/upload-file",
    version: Some("2021-07-28"),
    security: &[SecurityScheme::Bearer],
    request_body: RequestBodyKind::Multipart,
    response_body: ResponseBodyKind::Json,
    authenticated: true,
};

const DOWNLOAD: OperationMeta = OperationMeta {
    operation_id: "download_invoice",
    method: "GET",
    path: "/invoices/{id}/pdf",
    version: None,
    security: &[],
    request_body: RequestBodyKind::None,
    response_body: ResponseBodyKind::Bytes,
    authenticated: true,
};

/// These tests map one answer each: one attempt, no pacing (retries are tested in
/// `tests/tests/rate_limits.rs` and `retry::decide`'s unit tests).
/// reqwest is built without a rustls provider: it takes the one the runtime installs.
fn http_client() -> reqwest::Client {
    highlevel_runtime::tls::install_crypto_provider().expect("a crypto backend is compiled in");
    reqwest::Client::new()
}

fn runtime() -> Runtime {
    Runtime::configured(
        Credentials::private_integration_token(TOKEN),
        highlevel_runtime::RateLimitConfig::disabled(),
        highlevel_runtime::RetryConfig::disabled(),
    )
}

/// A request as a generated `send()` builds it (the generator leaves out progenitor's
/// `api-version` header; `tests/` checks that on the wire).
fn progenitor_request(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
) -> reqwest::RequestBuilder {
    client
        .request(method, url)
        .header(reqwest::header::ACCEPT, "application/json")
}

/// What a generated JSON `send()` does once its builder has made the request.
async fn send_json<T: DeserializeOwned>(
    runtime: &Runtime,
    client: &reqwest::Client,
    operation: &'static OperationMeta,
    builder: reqwest::RequestBuilder,
) -> Result<ResponseValue<T>, Error> {
    let request = builder.build().map_err(Into::into);
    highlevel_runtime::send::json(runtime, client, operation, request).await
}

async fn get_json<T: DeserializeOwned>(
    server: &MockServer,
    route: &str,
) -> Result<ResponseValue<T>, Error> {
    let client = http_client();
    let builder = progenitor_request(
        &client,
        reqwest::Method::GET,
        format!("{}{route}", server.uri()),
    );
    send_json(&runtime(), &client, &GET_CONTACT, builder).await
}

fn expect_api(result: Result<ResponseValue<serde_json::Value>, Error>) -> Error {
    match result {
        Err(error @ Error::Api(_)) => error,
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

#[tokio::test]
async fn pre_sets_version_and_bearer() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#))
        .expect(1)
        .mount(&server)
        .await;
    let client = http_client();
    let runtime = runtime();
    let builder = progenitor_request(
        &client,
        reqwest::Method::GET,
        format!("{}/contacts/c1", server.uri()),
    )
    .header("Version", "1999-01-01");
    let response = send_json::<serde_json::Value>(&runtime, &client, &GET_CONTACT, builder)
        .await
        .expect("request is sent");
    assert_eq!(response.status(), 200);

    let received = server.received_requests().await.expect("recording is on");
    assert_eq!(received.len(), 1);
    let headers = &received[0].headers;
    let versions: Vec<_> = headers.get_all("version").iter().collect();
    assert_eq!(
        versions,
        ["2021-07-28"],
        "Version overwritten, not appended"
    );
    assert_eq!(
        headers.get("authorization").map(|v| v.as_bytes()),
        Some(format!("Bearer {TOKEN}").as_bytes())
    );
}

#[tokio::test]
async fn unauthenticated_operation_sends_no_token() {
    const TOKEN_ENDPOINT: OperationMeta = OperationMeta {
        operation_id: "get_access_token",
        method: "POST",
        path: "/oauth/token",
        version: Some("2021-07-28"),
        security: &[],
        request_body: RequestBodyKind::FormUrlencoded,
        response_body: ResponseBodyKind::Json,
        authenticated: false,
    };
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let client = http_client();
    let runtime = Runtime::new(Credentials::access_token("oauth-access-token"));
    let builder = progenitor_request(&client, reqwest::Method::POST, server.uri());
    send_json::<serde_json::Value>(&runtime, &client, &TOKEN_ENDPOINT, builder)
        .await
        .expect("request is sent");
    let received = server.received_requests().await.expect("recording is on");
    assert!(received[0].headers.get("authorization").is_none());
    assert_eq!(
        received[0].headers.get("version").map(|v| v.as_bytes()),
        Some(&b"2021-07-28"[..])
    );
}

#[tokio::test]
async fn multipart_content_type_carries_the_body_boundary() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/medias/upload-file"))
        .respond_with(ResponseTemplate::new(201).set_body_string(r#"{"fileId":"f1"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let client = http_client();
    let form = MultipartForm::new()
        .text("hosted", "false")
        .text("na\"me", "line1\r\nline2")
        .file(
            "file",
            FilePart::new("report \"q1\".csv", &b"a,b\r\n1,2\r\n"[..])
                .with_content_type("text/csv"),
        );
    let boundary = form.boundary().to_owned();
    let expected_body = form.to_bytes();
    let builder = progenitor_request(
        &client,
        reqwest::Method::POST,
        format!("{}/medias/upload-file", server.uri()),
    )
    // What the generator's raw-body operations send before the hook fixes it.
    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
    .body(form);

    #[derive(Debug, Deserialize)]
    struct Uploaded {
        #[serde(rename = "fileId")]
        file_id: String,
    }
    let uploaded: ResponseValue<Uploaded> = send_json(&runtime(), &client, &UPLOAD, builder)
        .await
        .expect("upload succeeds");
    assert_eq!(uploaded.status(), 201);
    assert_eq!(uploaded.into_inner().file_id, "f1");

    let received = server.received_requests().await.expect("recording is on");
    let request = &received[0];
    let content_types: Vec<_> = request.headers.get_all("content-type").iter().collect();
    assert_eq!(
        content_types,
        [format!("multipart/form-data; boundary={boundary}").as_str()]
    );
    assert_eq!(request.body, expected_body.as_ref());

    // Parse the body back by its boundary.
    let body = String::from_utf8(request.body.clone()).expect("body is UTF-8");
    let rest = body
        .strip_prefix(&format!("--{boundary}\r\n"))
        .expect("body starts with the first delimiter");
    let rest = rest
        .strip_suffix(&format!("\r\n--{boundary}--\r\n"))
        .expect("body ends with the close delimiter");
    let parts: Vec<&str> = rest.split(&format!("\r\n--{boundary}\r\n")).collect();
    assert_eq!(
        parts,
        [
            "Content-Disposition: form-data; name=\"hosted\"\r\n\r\nfalse",
            "Content-Disposition: form-data; name=\"na%22me\"\r\n\r\nline1\r\nline2",
            "Content-Disposition: form-data; name=\"file\"; filename=\"report %22q1%22.csv\"\r\n\
             Content-Type: text/csv\r\n\r\na,b\r\n1,2\r\n",
        ]
    );
}

#[tokio::test]
async fn multipart_operation_rejects_a_body_not_built_by_multipart_form() {
    let client = http_client();
    let builder = progenitor_request(
        &client,
        reqwest::Method::POST,
        "http://127.0.0.1:9/upload".into(),
    )
    .body("just bytes");
    let error = send_json::<serde_json::Value>(&runtime(), &client, &UPLOAD, builder)
        .await
        .expect_err("not a MultipartForm body");
    let Error::Hook { message, .. } = &error else {
        panic!("not Error::Hook: {error:?}");
    };
    assert!(message.contains("upload_media_content"), "{message}");
    assert!(message.contains("MultipartForm"), "{message}");
    assert!(!message.contains(TOKEN));
}

#[tokio::test]
async fn unusable_tokens_fail_before_sending_without_leaking() {
    let server = MockServer::builder().start().await;
    let client = http_client();
    for token in ["pit-secret\nInjected: header", "   "] {
        let runtime = Runtime::new(Credentials::private_integration_token(token));
        let builder = progenitor_request(
            &client,
            reqwest::Method::GET,
            format!("{}/contacts/c1", server.uri()),
        );
        let error = send_json::<serde_json::Value>(&runtime, &client, &GET_CONTACT, builder)
            .await
            .expect_err("the token cannot be sent");
        assert!(matches!(error, Error::Hook { .. }), "{error:?}");
        assert_eq!(error.operation_id(), "get_contact");
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains("pit-secret"), "{shown}");
            assert!(shown.starts_with("get_contact: ") || shown.starts_with("Hook"));
        }
    }
    let received = server.received_requests().await.expect("recording is on");
    assert!(received.is_empty(), "nothing must reach the server");
}

#[tokio::test]
async fn validation_error_with_message_list() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(422).set_body_raw(
            r#"{"statusCode":422,"message":["locationId must be a string","email must be an email"],"error":"Unprocessable Entity","traceId":"abc"}"#,
            "application/json",
        ).insert_header("x-ratelimit-remaining", "99"))
        .mount(&server)
        .await;
    let error = expect_api(get_json(&server, "/contacts/c1").await);
    assert_eq!(error.status(), Some(http::StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(error.operation_id(), "get_contact");
    assert!(error.is_api() && !error.is_transient());
    assert_eq!(
        error.to_string(),
        "get_contact: HTTP 422 Unprocessable Entity: locationId must be a string; \
         email must be an email (traceId abc)"
    );
    let api = error.as_api().expect("an API error");
    assert_eq!(
        api.messages(),
        ["locationId must be a string", "email must be an email"]
    );
    assert_eq!(api.error(), Some("Unprocessable Entity"));
    assert_eq!(api.trace_id(), Some("abc"));
    assert_eq!(api.body().status_code, Some(422));
    assert_eq!(
        api.headers()
            .get("x-ratelimit-remaining")
            .map(|v| v.as_bytes()),
        Some(&b"99"[..])
    );
    assert!(api.raw_body().starts_with(br#"{"statusCode":422"#));
    assert!(error.source().is_none());
}

#[tokio::test]
async fn unauthorized_with_text_message_and_trace_header() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(
                    r#"{"statusCode":401,"message":"Invalid JWT"}"#,
                    "application/json",
                )
                .insert_header("traceid", "hdr-1"),
        )
        .mount(&server)
        .await;
    let error = expect_api(get_json(&server, "/contacts/c1").await);
    assert_eq!(
        error.to_string(),
        "get_contact: HTTP 401 Unauthorized: Invalid JWT (traceId hdr-1)"
    );
    let api = error.as_api().expect("an API error");
    assert_eq!(api.message().as_deref(), Some("Invalid JWT"));
    assert_eq!(api.messages(), ["Invalid JWT"]);
    assert_eq!(api.error(), None);
    assert!(!format!("{error:?}").contains(TOKEN));
}

#[tokio::test]
async fn bad_gateway_html_is_kept_raw() {
    let server = MockServer::builder().start().await;
    let html = "<html><head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body></html>";
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(html, "text/html"))
        .mount(&server)
        .await;
    let error = expect_api(get_json(&server, "/contacts/c1").await);
    assert_eq!(error.to_string(), "get_contact: HTTP 502 Bad Gateway");
    assert!(error.is_transient());
    let api = error.as_api().expect("an API error");
    assert_eq!(api.raw_body().as_ref(), html.as_bytes());
    assert_eq!(api.message(), None);
    assert_eq!(api.trace_id(), None);
    assert_eq!(api.body(), &highlevel_runtime::ApiErrorBody::default());
}

#[tokio::test]
async fn empty_and_plain_text_error_bodies() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/empty"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(path("/text"))
        .respond_with(ResponseTemplate::new(429).set_body_string("Too many requests, slow down"))
        .mount(&server)
        .await;
    let empty = expect_api(get_json(&server, "/empty").await);
    assert_eq!(
        empty.to_string(),
        "get_contact: HTTP 503 Service Unavailable"
    );
    assert!(empty.as_api().expect("api").raw_body().is_empty());
    let text = expect_api(get_json(&server, "/text").await);
    assert_eq!(
        text.to_string(),
        "get_contact: HTTP 429 Too Many Requests: Too many requests, slow down"
    );
    assert_eq!(text.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Contact {
    id: String,
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct ContactEnvelope {
    contact: Contact,
}

#[tokio::test]
async fn decode_failure_reports_the_json_path_and_a_body_prefix() {
    let server = MockServer::builder().start().await;
    // 'é' is two bytes; with the 9-byte `{"note":"` lead the 512-byte cut falls inside one.
    let note = "é".repeat(400);
    let body = format!(r#"{{"note":"{note}","contact":{{"id":"c1","tags":["a","b",3]}}}}"#);
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json"))
        .mount(&server)
        .await;
    let result = get_json::<ContactEnvelope>(&server, "/contacts/c1").await;
    let Err(Error::Decode(decode)) = result else {
        panic!("expected Error::Decode, got {result:?}");
    };
    assert_eq!(decode.operation_id(), "get_contact");
    assert_eq!(decode.path(), Some("contact.tags[2]"));
    assert_eq!(decode.body_len(), body.len());
    let prefix = decode.body_prefix();
    assert!(
        prefix.len() <= 512 && prefix.len() >= 509,
        "{}",
        prefix.len()
    );
    assert!(body.starts_with(prefix), "prefix is cut at a char boundary");
    assert!(!prefix.contains('\u{FFFD}'));
    assert!(
        decode.json_error().to_string().contains("invalid type"),
        "{}",
        decode.json_error()
    );

    let error = Error::Decode(decode);
    let shown = error.to_string();
    assert!(
        shown.starts_with("get_contact: cannot decode the response body at `contact.tags[2]`"),
        "{shown}"
    );
    assert!(!shown.contains("ééé"), "Display must not echo the body");
    assert!(!format!("{error:?}").contains("ééé"), "nor Debug");
    assert!(error.source().is_some());
    assert_eq!(error.status(), None);
}

#[derive(Debug, Default, PartialEq, Deserialize)]
struct Optional {
    id: Option<String>,
    count: Option<u32>,
}

#[tokio::test]
async fn empty_success_bodies_decode_as_null_or_empty_object() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/ok-empty"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/no-content"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(path("/blank"))
        .respond_with(ResponseTemplate::new(200).set_body_string(" \r\n "))
        .mount(&server)
        .await;

    let value = get_json::<serde_json::Value>(&server, "/ok-empty")
        .await
        .expect("empty 200 decodes");
    assert_eq!(value.status(), 200);
    assert_eq!(value.into_inner(), serde_json::Value::Null);

    let optional = get_json::<Optional>(&server, "/no-content")
        .await
        .expect("204 decodes into all-Option struct");
    assert_eq!(optional.status(), 204);
    assert_eq!(optional.into_inner(), Optional::default());

    let blank = get_json::<Optional>(&server, "/blank")
        .await
        .expect("whitespace body decodes");
    assert_eq!(blank.into_inner(), Optional::default());

    // A type with required fields still fails, as a decode error.
    let required = get_json::<Contact>(&server, "/ok-empty").await;
    let Err(Error::Decode(decode)) = required else {
        panic!("expected Error::Decode, got {required:?}");
    };
    assert!(
        decode.json_error().to_string().contains("missing field"),
        "{}",
        decode.json_error()
    );
    assert_eq!(decode.body_len(), 0);
}

#[tokio::test]
async fn refused_connection_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let client = http_client();
    let builder = progenitor_request(&client, reqwest::Method::GET, format!("http://{address}/"));
    let error = send_json::<serde_json::Value>(&runtime(), &client, &GET_CONTACT, builder)
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("get_contact: transport error")
    );
    assert!(error.is_transient());
    assert!(error.source().is_some());
    assert_eq!(error.status(), None);
}

#[tokio::test]
async fn byte_stream_operations_map_errors_through_send_stream() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/pdf/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(&b"%PDF-1.7"[..], "application/pdf"))
        .mount(&server)
        .await;
    Mock::given(path("/pdf/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            r#"{"statusCode":404,"message":"Invoice not found"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let client = http_client();
    let runtime = runtime();
    let download = |route: &'static str| {
        let client = client.clone();
        let runtime = runtime.clone();
        let url = format!("{}{route}", server.uri());
        async move {
            let request = progenitor_request(&client, reqwest::Method::GET, url)
                .build()
                .map_err(Into::into);
            highlevel_runtime::send::stream(&runtime, &client, &DOWNLOAD, request).await
        }
    };

    let ok = download("/pdf/ok").await.expect("download succeeds");
    let bytes = highlevel_runtime::collect_bytes(ok.into_inner())
        .await
        .expect("stream reads");
    assert_eq!(&bytes[..], b"%PDF-1.7");

    let Err(missing) = download("/pdf/missing").await else {
        panic!("404 must be an error");
    };
    assert_eq!(
        missing.to_string(),
        "download_invoice: HTTP 404 Not Found: Invoice not found"
    );
}

/// A builder's argument error reaches the runtime in place of the request.
#[tokio::test]
async fn an_argument_error_is_invalid_request() {
    let client = http_client();
    let request = Err(highlevel_runtime::send::RequestError::InvalidRequest(
        "contact_id is required".into(),
    ));
    let error = highlevel_runtime::send::json::<serde_json::Value>(
        &runtime(),
        &client,
        &GET_CONTACT,
        request,
    )
    .await
    .expect_err("an error");
    assert!(matches!(error, Error::InvalidRequest { .. }));
    assert_eq!(
        error.to_string(),
        "get_contact: invalid request: contact_id is required"
    );
}

#[test]
fn debug_output_never_shows_the_token() {
    let credentials = Credentials::AccessToken(secrecy::SecretString::from(TOKEN));
    let runtime = Runtime::new(credentials);
    let clone = runtime.clone();
    for shown in [
        format!("{runtime:?}"),
        format!("{:#?}", clone.credentials()),
    ] {
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(shown.contains("AccessToken"), "{shown}");
    }
}
