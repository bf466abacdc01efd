//! The `gzip` feature: responses compressed on the wire, decompressed as they stream, and the
//! response size cap counted in decompressed bytes (a small compressed body can expand to any
//! size).

use std::io::Write;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use highlevel::{Error, HighLevel, RateLimitConfig, RetryConfig};
use wiremock::matchers::{header_regex, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("compressed in memory");
    encoder.finish().expect("compressed in memory")
}

fn gzip_answer(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .insert_header("content-encoding", "gzip")
        .set_body_raw(body, "application/json")
}

fn handle(server: &MockServer, max_response_bytes: usize) -> HighLevel {
    HighLevel::builder()
        .private_integration_token("pit-compression")
        .base_url(server.uri())
        .rate_limit(RateLimitConfig::disabled())
        .retry(
            RetryConfig::new()
                .max_attempts(1)
                .backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .max_response_bytes(max_response_bytes)
        .build()
        .expect("handle")
}

async fn get_location(hl: &HighLevel) -> Result<Option<String>, Error> {
    let answer = hl
        .locations()
        .get_location()
        .location_id("loc1")
        .send()
        .await?;
    Ok(answer.into_inner().location.and_then(|l| l.id))
}

#[tokio::test]
async fn requests_ask_for_gzip_and_gzip_answers_decode() {
    let server = highlevel_tests::mock_server().await;
    let json = br#"{"location":{"id":"loc1","name":"Compressed Co"}}"#;
    // Only a request that says it takes gzip gets the compressed answer; any other gets 406.
    Mock::given(method("GET"))
        .and(path("/locations/loc1"))
        .and(header_regex("accept-encoding", r"\bgzip\b"))
        .respond_with(gzip_answer(gzip(json)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(406))
        .mount(&server)
        .await;
    let id = get_location(&handle(&server, 1 << 20))
        .await
        .expect("the gzip answer decodes");
    assert_eq!(id.as_deref(), Some("loc1"));
}

/// A body far smaller than the cap compressed, far larger once decompressed: the cap holds,
/// with the handle's limit and the answer's status in the error.
#[tokio::test]
async fn a_gzip_bomb_is_refused_at_the_decompressed_limit() {
    const LIMIT: usize = 256 << 10;
    let server = highlevel_tests::mock_server().await;
    // 16 MiB of JSON whitespace before a valid object: it would decode if read whole.
    let mut expanded = vec![b' '; 16 << 20];
    expanded.extend_from_slice(br#"{"location":{"id":"loc1"}}"#);
    let bomb = gzip(&expanded);
    assert!(bomb.len() < LIMIT / 2, "compressed: {} bytes", bomb.len());
    Mock::given(method("GET"))
        .respond_with(gzip_answer(bomb))
        .mount(&server)
        .await;
    let err = get_location(&handle(&server, LIMIT))
        .await
        .expect_err("past the cap once decompressed");
    match &err {
        Error::ResponseTooLarge { status, limit, .. } => {
            assert_eq!(status.as_u16(), 200);
            assert_eq!(*limit, LIMIT);
        }
        other => panic!("expected ResponseTooLarge, got {other:?}"),
    }
    // Under a cap above its decompressed size the same answer decodes: the cap, not the
    // compression, refused it.
    let id = get_location(&handle(&server, 32 << 20))
        .await
        .expect("within a larger cap");
    assert_eq!(id.as_deref(), Some("loc1"));
}

#[tokio::test]
async fn a_body_that_is_not_gzip_is_a_transport_error() {
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .respond_with(gzip_answer(br#"{"location":{"id":"loc1"}}"#.to_vec()))
        .mount(&server)
        .await;
    let err = get_location(&handle(&server, 1 << 20))
        .await
        .expect_err("an undecodable encoding");
    let Error::Transport {
        operation_id,
        status,
        ..
    } = &err
    else {
        panic!("expected Transport, got {err:?}");
    };
    assert_eq!(*operation_id, "get_location");
    assert_eq!(status.map(|s| s.as_u16()), Some(200));
}

/// HighLevel's error answers come compressed too: their message and trace id are read from
/// the decompressed body.
#[tokio::test]
async fn a_gzip_error_answer_keeps_its_message() {
    let server = highlevel_tests::mock_server().await;
    let json = concat!(
        r#"{"statusCode":422,"message":["locationId must be a string"],"#,
        r#""error":"Unprocessable Entity","traceId":"t-gz"}"#
    )
    .as_bytes();
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(422)
                .insert_header("content-encoding", "gzip")
                .set_body_raw(gzip(json), "application/json"),
        )
        .mount(&server)
        .await;
    let err = get_location(&handle(&server, 1 << 20))
        .await
        .expect_err("a 422");
    let Error::Api(api) = &err else {
        panic!("expected Api, got {err:?}");
    };
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422));
    assert_eq!(api.trace_id(), Some("t-gz"));
    assert_eq!(api.messages(), ["locationId must be a string"]);
    assert_eq!(api.raw_body().as_ref(), json);
}
