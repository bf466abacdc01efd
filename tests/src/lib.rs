//! Test harness: a wiremock server on loopback and a `HighLevel` handle pointed at it.

pub mod conformance;
pub mod log;
pub mod oauth;
pub mod paging;
pub mod proxy;
pub mod servers;

use highlevel::HighLevel;
use wiremock::MockServer;

/// A mock server of its own, shut down when dropped.
///
/// Never one from wiremock's pool (`MockServer::start`): a pooled server goes to the next test
/// while requests that a dropped client (a prefetching stream, a cancelled call) had in flight
/// may still arrive, and that test would count them.
pub async fn mock_server() -> MockServer {
    MockServer::builder().start().await
}

/// The token every harness handle sends; tests assert it arrives as `Bearer TOKEN`.
pub const TOKEN: &str = "pit-test-0f1e2d3c";

/// A mock HighLevel on 127.0.0.1 and a handle that talks to it.
#[derive(Debug)]
pub struct Harness {
    /// The mock server; mount expectations on it.
    pub server: MockServer,
    /// An SDK handle with [`TOKEN`] whose base URL is the mock server.
    pub hl: HighLevel,
}

impl Harness {
    /// Starts a fresh mock server and a handle on it.
    ///
    /// # Panics
    ///
    /// When the handle cannot be built (a bug in the harness, not in a test subject).
    pub async fn start() -> Self {
        let server = mock_server().await;
        // Retried failures wait milliseconds, not seconds, in tests.
        let hl = HighLevel::builder()
            .private_integration_token(TOKEN)
            .base_url(server.uri())
            .retry(highlevel::RetryConfig::new().backoff(
                std::time::Duration::from_millis(1),
                std::time::Duration::from_millis(5),
            ))
            .build()
            .unwrap_or_else(|e| panic!("harness handle: {e}"));
        Self { server, hl }
    }

    /// The one request the server received, after checking what every request must carry:
    /// `Authorization: Bearer TOKEN`, the `Version` given, and no progenitor `api-version`.
    ///
    /// # Panics
    ///
    /// When the server did not receive exactly one request or a header is wrong.
    pub async fn only_request(&self, version: &str) -> wiremock::Request {
        self.received(version, Some(format!("Bearer {TOKEN}")))
            .await
    }

    /// Like [`Harness::only_request`], for operations that must carry no bearer token (the
    /// OAuth token endpoint authenticates with its form).
    ///
    /// # Panics
    ///
    /// When the server did not receive exactly one request or a header is wrong.
    pub async fn only_unauthenticated_request(&self, version: &str) -> wiremock::Request {
        self.received(version, None).await
    }

    async fn received(&self, version: &str, authorization: Option<String>) -> wiremock::Request {
        let requests = self.server.received_requests().await.unwrap_or_default();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:?}"
        );
        let request = requests
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!());
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("authorization"),
            authorization,
            "Authorization header"
        );
        assert_eq!(
            header("version").as_deref(),
            Some(version),
            "Version header"
        );
        assert_eq!(
            header("api-version"),
            None,
            "progenitor's api-version must not be sent"
        );
        request
    }
}

/// A plain reqwest client, as a test's browser or raw caller. reqwest is built without a
/// rustls provider: it takes the process-wide one, which the SDK installs.
pub fn http_client() -> reqwest::Client {
    http_client_builder()
        .build()
        .unwrap_or_else(|e| panic!("reqwest client: {e}"))
}

/// [`http_client`]'s builder, for tests that set more.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    if let Err(e) = highlevel::runtime::tls::install_crypto_provider() {
        panic!("no crypto provider: {e}");
    }
    reqwest::Client::builder()
}

/// The query string of a request, `""` when it has none.
pub fn query(request: &wiremock::Request) -> &str {
    request.url.query().unwrap_or("")
}

/// The boundary of a `multipart/form-data` request, after checking that the `Content-Type`
/// names it and that the body opens with it and closes with its final delimiter.
///
/// # Panics
///
/// When the request is not a well-framed multipart body.
pub fn multipart_boundary(request: &wiremock::Request) -> String {
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Content-Type header"));
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("not multipart/form-data: {content_type}"))
        .to_owned();
    assert!(!boundary.is_empty(), "empty boundary");
    assert!(
        request
            .body
            .starts_with(format!("--{boundary}\r\n").as_bytes()),
        "the body must open with the boundary"
    );
    assert!(
        request
            .body
            .ends_with(format!("--{boundary}--\r\n").as_bytes()),
        "the body must close with the final delimiter"
    );
    boundary
}

/// Whether `needle` occurs in `haystack` (request bodies are bytes, not text).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
