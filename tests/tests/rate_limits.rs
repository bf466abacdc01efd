//! Rate limiting and retries over real HTTP: the sandbox's HighLevel-shaped limits (headers,
//! 429s, daily quota) and wiremock for the answers a sandbox never gives (503, far-future
//! `Retry-After`, nonsense headers, a server that is not there yet).

use std::time::{Duration, Instant};

use highlevel::auth::{OAuthConfig, UserType};
use highlevel::{Error, HighLevel, RateLimitConfig, RateLimitError, RetryConfig};
use highlevel_sandbox::{RunningSandbox, Sandbox};
use highlevel_tests::log::CapturedLog;
use highlevel_tests::oauth::{app_config, install};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn quick_retries() -> RetryConfig {
    RetryConfig::new().backoff(Duration::from_millis(1), Duration::from_millis(5))
}

fn pit_handle(sandbox: &RunningSandbox, limits: RateLimitConfig) -> HighLevel {
    HighLevel::builder()
        .private_integration_token(sandbox.token())
        .base_url(sandbox.url())
        .rate_limit(limits)
        .retry(quick_retries())
        .build()
        .expect("handle")
}

fn mock_handle(server: &MockServer, retry: RetryConfig) -> HighLevel {
    HighLevel::builder()
        .private_integration_token("pit-rate-limits")
        .base_url(server.uri())
        .retry(retry)
        .build()
        .expect("handle")
}

/// How many requests the mock server has received.
async fn requests_seen(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

async fn get_location(hl: &HighLevel, id: &str) -> Result<(), Error> {
    hl.locations()
        .get_location()
        .location_id(id)
        .send()
        .await
        .map(|_| ())
}

#[tokio::test]
async fn concurrent_calls_wait_for_the_budget_instead_of_collecting_429s() {
    let sandbox = Sandbox::builder()
        .rate_limit(10, Duration::from_millis(250))
        .serve()
        .await
        .expect("sandbox");
    // The slack is what keeps the client's windows behind the server's. A first request held
    // up longer than the rest (its connection, a busy test machine) moves the server's window
    // later than the client's by that delay; 100 ms, not the default 20, covers a loaded CI.
    let hl = pit_handle(
        &sandbox,
        RateLimitConfig::new()
            .per_interval(10, Duration::from_millis(250))
            .margin(Duration::from_millis(100)),
    );
    let started = Instant::now();
    let calls: Vec<_> = (0..40)
        .map(|_| {
            let hl = hl.clone();
            let location = sandbox.location_id().to_owned();
            tokio::spawn(async move { get_location(&hl, &location).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("every call succeeds");
    }
    let stats = sandbox.rate_limit_stats();
    assert_eq!(stats.throttled, 0, "{stats:?}");
    assert_eq!(stats.allowed, 40);
    // 40 requests at 10 per 250 ms: three full windows of waiting at least.
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "{:?}",
        started.elapsed()
    );
    let status = hl.rate_limit("token").expect("the token's budget is known");
    assert_eq!(
        (status.max, status.interval),
        (10, Duration::from_millis(250))
    );
    assert!(
        status.remaining.is_some() && status.updated_at.is_some(),
        "{status:?}"
    );
}

#[tokio::test]
async fn headers_correct_the_defaults_and_count_another_clients_requests() {
    let sandbox = Sandbox::builder()
        .rate_limit(10, Duration::from_secs(1))
        .serve()
        .await
        .expect("sandbox");
    // Another process spends 8 of the 10.
    let other = pit_handle(&sandbox, RateLimitConfig::disabled());
    for _ in 0..8 {
        get_location(&other, sandbox.location_id())
            .await
            .expect("other");
    }
    // This client starts with HighLevel's defaults (100 per 10 s); its first answer says
    // 10 per second with 1 left, so the next 5 calls are paced, not thrown at the server.
    let hl = pit_handle(&sandbox, RateLimitConfig::new());
    get_location(&hl, sandbox.location_id())
        .await
        .expect("first");
    let status = hl.rate_limit("token").expect("known");
    assert_eq!((status.max, status.interval), (10, Duration::from_secs(1)));
    assert_eq!((status.remaining, status.available_now), (Some(1), 1));
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let hl = hl.clone();
            let location = sandbox.location_id().to_owned();
            tokio::spawn(async move { get_location(&hl, &location).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("paced call succeeds");
    }
    assert_eq!(sandbox.rate_limit_stats().throttled, 0);
}

#[tokio::test]
async fn a_spent_daily_quota_fails_at_once_saying_when_it_resets() {
    let sandbox = Sandbox::builder()
        .daily_limit(3)
        .serve()
        .await
        .expect("sandbox");
    let hl = pit_handle(&sandbox, RateLimitConfig::new());
    for _ in 0..3 {
        get_location(&hl, sandbox.location_id())
            .await
            .expect("within the quota");
    }
    // The third answer said 0 remaining for the day: the fourth call is not even sent.
    let started = Instant::now();
    let err = get_location(&hl, sandbox.location_id())
        .await
        .expect_err("quota spent");
    assert!(started.elapsed() < Duration::from_secs(1));
    let Some(RateLimitError::DailyQuotaExhausted {
        resource,
        resets_at,
    }) = err.as_rate_limit()
    else {
        panic!("expected DailyQuotaExhausted, got {err:?}");
    };
    assert_eq!(resource, "token");
    assert!(*resets_at > std::time::SystemTime::now());
    assert!(!err.is_transient());
    assert!(err.to_string().contains("daily request quota"), "{err}");
    let stats = sandbox.rate_limit_stats();
    assert_eq!((stats.allowed, stats.daily_refused), (3, 0));

    // A client that did not know (another process) learns it from the 429, after one send.
    let fresh = pit_handle(&sandbox, RateLimitConfig::new());
    let err = get_location(&fresh, sandbox.location_id())
        .await
        .expect_err("quota spent");
    let Some(RateLimitError::DailyQuotaExhausted { resets_at, .. }) = err.as_rate_limit() else {
        panic!("expected DailyQuotaExhausted, got {err:?}");
    };
    // The sandbox's day started with the first request: Retry-After is about a day.
    let wait = resets_at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(wait > Duration::from_secs(86_000), "{wait:?}");
    assert_eq!(sandbox.rate_limit_stats().daily_refused, 1);
    get_location(&fresh, sandbox.location_id())
        .await
        .expect_err("still spent");
    assert_eq!(
        sandbox.rate_limit_stats().daily_refused,
        1,
        "not sent again"
    );
}

#[tokio::test]
async fn one_busy_location_never_holds_up_another() {
    let sandbox = Sandbox::builder()
        .installed_locations(2)
        .rate_limit(2, Duration::from_secs(2))
        .serve()
        .await
        .expect("sandbox");
    let config: OAuthConfig = app_config(&sandbox);
    // A 200 ms slack, not the default 20: on a loaded machine the busy location's first
    // request (its token, its connection) can reach the sandbox that much after the client
    // started its window, and the third call would then land inside the sandbox's window.
    let hl = HighLevel::builder()
        .base_url(sandbox.url())
        .oauth_app(config)
        .rate_limit(
            RateLimitConfig::new()
                .per_interval(2, Duration::from_secs(2))
                .margin(Duration::from_millis(200)),
        )
        .build()
        .expect("handle");
    install(&hl, UserType::Company)
        .await
        .expect("agency install");
    let agency = hl.agency(&sandbox.company_id());
    let ids = sandbox.installed_location_ids();
    let (busy, quiet) = (ids[1].clone(), ids[2].clone());
    let busy_hl = agency.location(&busy);
    get_location(&busy_hl, &busy).await.expect("1");
    get_location(&busy_hl, &busy).await.expect("2");
    let waiting = tokio::spawn({
        let busy_hl = busy_hl.clone();
        async move {
            let started = Instant::now();
            get_location(&busy_hl, &busy)
                .await
                .map(|()| started.elapsed())
        }
    });
    let started = Instant::now();
    get_location(&agency.location(&quiet), &quiet)
        .await
        .expect("quiet location");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let waited = waiting
        .await
        .expect("task")
        .expect("busy location's third call");
    assert!(waited >= Duration::from_millis(1_500), "{waited:?}");
    assert_eq!(sandbox.rate_limit_stats().throttled, 0);
    let resources: Vec<_> = hl.rate_limits().into_iter().map(|s| s.resource).collect();
    assert_eq!(
        resources,
        [
            format!("location:{}", ids[1]),
            format!("location:{}", ids[2])
        ]
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_retries() {
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .and(path("/locations/loc1"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/locations/loc1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"location": {"id": "loc1"}})),
        )
        .mount(&server)
        .await;
    let hl = mock_handle(&server, quick_retries());
    let started = Instant::now();
    get_location(&hl, "loc1")
        .await
        .expect("retried after the wait");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(requests_seen(&server).await, 2);
}

#[tokio::test]
async fn a_far_future_retry_after_is_an_error_not_a_sleep() {
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "86400"))
        .mount(&server)
        .await;
    let hl = mock_handle(
        &server,
        quick_retries().max_retry_after(Duration::from_secs(30)),
    );
    let started = Instant::now();
    let err = get_location(&hl, "loc1")
        .await
        .expect_err("too long to wait");
    assert!(started.elapsed() < Duration::from_secs(5));
    match err.as_rate_limit() {
        Some(RateLimitError::RetryAfterTooLong {
            retry_after, cap, ..
        }) => {
            assert_eq!(*retry_after, Duration::from_secs(86_400));
            assert_eq!(*cap, Duration::from_secs(30));
        }
        other => panic!("expected RetryAfterTooLong, got {other:?} from {err:?}"),
    }
    assert!(err.is_transient());
    assert_eq!(requests_seen(&server).await, 1);
}

#[tokio::test]
async fn post_is_not_retried_after_a_5xx_unless_the_call_opts_in() {
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("POST"))
        .and(path("/contacts/"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let hl = mock_handle(&server, quick_retries());
    let create = |hl: HighLevel| async move {
        hl.contacts()
            .create_contact()
            .body(
                highlevel::contacts::types::CreateContactDto::builder()
                    .location_id("loc1")
                    .first_name(Some("Ada".to_owned())),
            )
            .send()
            .await
    };
    let err = create(hl.clone()).await.expect_err("503");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(requests_seen(&server).await, 1);

    let err = create(hl.with_retry(quick_retries().retry_non_idempotent(true)))
        .await
        .expect_err("503 four times");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(requests_seen(&server).await, 1 + 4);

    // The handle's own policy is unchanged by the per-call one.
    create(hl).await.expect_err("503");
    assert_eq!(requests_seen(&server).await, 1 + 4 + 1);
}

#[tokio::test]
async fn post_is_retried_when_it_never_reached_the_server() {
    // A port nobody listens on yet; the server starts there after the first attempt failed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let hl = HighLevel::builder()
        .private_integration_token("pit-rate-limits")
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry(RetryConfig::new().backoff(Duration::from_millis(400), Duration::from_millis(400)))
        .build()
        .expect("handle");
    let late_server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the port");
        let server = MockServer::builder().listener(listener).start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_json(serde_json::json!({"contact": {"id": "c1"}})),
            )
            .mount(&server)
            .await;
        server
    });
    let created = hl
        .contacts()
        .create_contact()
        .body(
            highlevel::contacts::types::CreateContactDto::builder()
                .location_id("loc1")
                .first_name(Some("Ada".to_owned())),
        )
        .send()
        .await
        .expect("the second attempt reaches the server");
    let server = late_server.await.expect("server task");
    assert_eq!(
        created.into_inner().contact.and_then(|c| c.id).as_deref(),
        Some("c1")
    );
    assert_eq!(requests_seen(&server).await, 1);
}

#[tokio::test]
async fn nonsense_rate_limit_headers_are_ignored() {
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"location": {"id": "loc1"}}))
                .insert_header("x-ratelimit-max", "-5")
                .insert_header("x-ratelimit-remaining", "lots")
                .insert_header("x-ratelimit-interval-milliseconds", "99999999999999999999")
                .insert_header("x-ratelimit-limit-daily", "0")
                .insert_header("x-ratelimit-daily-remaining", "-1"),
        )
        .mount(&server)
        .await;
    let hl = mock_handle(&server, quick_retries());
    let started = Instant::now();
    for _ in 0..20 {
        get_location(&hl, "loc1").await.expect("answers are fine");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "no stall");
    let status = hl.rate_limit("token").expect("known");
    assert_eq!(
        (status.max, status.interval, status.daily_limit),
        (100, Duration::from_secs(10), 200_000)
    );
    assert_eq!(
        (status.remaining, status.daily_remaining, status.updated_at),
        (None, None, None)
    );
}

#[tokio::test]
async fn each_call_has_a_span_with_operation_resource_attempt_status_and_wait() {
    // Whether a callsite is enabled is cached process-wide: another test's call registering
    // the span while this test installs its subscriber left it disabled (about 1 run in 20).
    // Alone in a process of its own, nothing else registers it.
    if crate::ran_alone(
        module_path!(),
        "each_call_has_a_span_with_operation_resource_attempt_status_and_wait",
    ) {
        return;
    }
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"location": {}})))
        .mount(&server)
        .await;
    let captured = CapturedLog::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded: the default subscriber sees the whole call.
    let _guard = tracing::subscriber::set_default(subscriber);
    let hl = mock_handle(&server, quick_retries());
    get_location(&hl, "loc1")
        .await
        .expect("second attempt succeeds");
    let log = captured.text();
    assert!(log.contains("highlevel.request"), "{log}");
    assert!(log.contains("operation=\"get_location\""), "{log}");
    assert!(log.contains("resource=\"token\""), "{log}");
    assert!(log.contains("attempt=2"), "{log}");
    assert!(log.contains("status=200"), "{log}");
    assert!(log.contains("wait_ms="), "{log}");
    assert!(log.contains("retrying"), "{log}");
    assert!(!log.contains("pit-rate-limits"), "the token leaked: {log}");
}

// ---- Hostile answers: no tight loop, no panic, no unbounded read ----

#[tokio::test]
async fn retry_after_is_honoured_when_pacing_is_off() {
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .and(path("/locations/loc1"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/locations/loc1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"location": {"id": "loc1"}})),
        )
        .mount(&server)
        .await;
    let hl = HighLevel::builder()
        .private_integration_token("pit-rate-limits")
        .base_url(server.uri())
        .rate_limit(RateLimitConfig::disabled())
        .retry(quick_retries())
        .build()
        .expect("handle");
    let started = Instant::now();
    get_location(&hl, "loc1").await.expect("answered at last");
    // Two 429s asking for a second each: the retries wait them out, not 1 ms of backoff.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(requests_seen(&server).await, 3);
}

#[tokio::test]
async fn no_header_value_panics_the_client() {
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", u64::MAX.to_string().as_str())
                .insert_header("x-ratelimit-daily-remaining", "0")
                .insert_header(
                    "x-ratelimit-interval-milliseconds",
                    u64::MAX.to_string().as_str(),
                )
                .insert_header("x-ratelimit-max", u64::MAX.to_string().as_str()),
        )
        .mount(&server)
        .await;
    let hl = mock_handle(&server, quick_retries().max_retry_after(Duration::MAX));
    let err = get_location(&hl, "loc1")
        .await
        .expect_err("the daily quota is spent");
    match err.as_rate_limit() {
        Some(RateLimitError::DailyQuotaExhausted { resets_at, .. }) => {
            assert!(*resets_at > std::time::SystemTime::now());
        }
        other => panic!("expected DailyQuotaExhausted, got {other:?} from {err:?}"),
    }
    // The spent quota holds: the next call fails at once, unsent.
    assert!(get_location(&hl, "loc1").await.is_err());
    assert_eq!(requests_seen(&server).await, 1);
}

/// A server on loopback answering every request with a chunked body of `total` bytes (no
/// `Content-Length`), in 64 KiB chunks; returns its address and the bytes it got to write.
async fn endless_body_server(
    status: u16,
    total: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let written = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                if socket.read(&mut request).await.is_err() {
                    return;
                }
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     transfer-encoding: chunked\r\n\r\n"
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 << 10];
                let framed = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk,
                    b"\r\n".to_vec(),
                ]
                .concat();
                let mut sent = 0;
                while sent < total {
                    if socket.write_all(&framed).await.is_err() {
                        return;
                    }
                    sent += 64 << 10;
                    counter.store(sent, Ordering::SeqCst);
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    (address, written)
}

#[tokio::test]
async fn response_bodies_are_capped_while_they_stream() {
    const LIMIT: usize = 1 << 20;
    const TOTAL: usize = 200 << 20;
    for status in [200, 500] {
        let (url, written) = endless_body_server(status, TOTAL).await;
        let hl = HighLevel::builder()
            .private_integration_token("pit-rate-limits")
            .base_url(url)
            .rate_limit(RateLimitConfig::disabled())
            .retry(quick_retries().max_attempts(1))
            .max_response_bytes(LIMIT)
            .build()
            .expect("handle");
        let err = get_location(&hl, "loc1").await.expect_err("too large");
        match &err {
            Error::ResponseTooLarge {
                status: seen,
                limit,
                ..
            } => {
                assert_eq!(seen.as_u16(), status);
                assert_eq!(*limit, LIMIT);
            }
            other => panic!("{status}: expected ResponseTooLarge, got {other:?}"),
        }
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = written.load(std::sync::atomic::Ordering::SeqCst);
        // The client stopped reading near the limit: what the server got out is the limit
        // plus what the sockets buffer, not the 200 MiB it had.
        assert!(
            sent < 32 << 20,
            "{status}: the server wrote {sent} bytes before the client hung up"
        );
    }
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_unread() {
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(" ".repeat(2 << 20)))
        .mount(&server)
        .await;
    let hl = mock_handle(&server, quick_retries());
    let err = hl
        .with_max_response_bytes(1 << 20)
        .locations()
        .get_location()
        .location_id("loc1")
        .send()
        .await
        .expect_err("over the limit");
    assert!(
        matches!(err, Error::ResponseTooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    // The same answer under the default limit decodes as far as it can: a blank body.
    assert!(get_location(&hl, "loc1").await.is_ok());
}

/// The body is collected in one go when its length is declared: a server that keeps writing
/// past that length gets read no further, and the call decodes what was declared.
#[tokio::test]
async fn a_body_longer_than_its_declared_length_is_read_only_to_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const DECLARED: &str = r#"{"location":{"id":"loc1"}}"#;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let written = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = [0u8; 4096];
        if socket.read(&mut request).await.is_err() {
            return;
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{DECLARED}",
            DECLARED.len()
        );
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let junk = vec![b'x'; 64 << 10];
        for _ in 0..(200 << 20) / junk.len() {
            if socket.write_all(&junk).await.is_err() {
                return;
            }
            counter.fetch_add(junk.len(), Ordering::SeqCst);
        }
    });
    let hl = HighLevel::builder()
        .private_integration_token("pit-rate-limits")
        .base_url(url)
        .rate_limit(RateLimitConfig::disabled())
        .retry(quick_retries().max_attempts(1))
        .max_response_bytes(1 << 20)
        .build()
        .expect("handle");
    let location = hl
        .locations()
        .get_location()
        .location_id("loc1")
        .send()
        .await
        .expect("the declared body decodes")
        .into_inner()
        .location
        .and_then(|location| location.id);
    assert_eq!(location.as_deref(), Some("loc1"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = written.load(Ordering::SeqCst);
    assert!(
        sent < 32 << 20,
        "the server wrote {sent} bytes past the declared body before the client stopped"
    );
}

#[tokio::test]
async fn idle_budgets_are_dropped_as_new_resources_come() {
    use highlevel::auth::{Expected, Resource, Session};

    const CALLED: usize = 1_024;
    let server = highlevel_tests::mock_server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"location": {}})))
        .mount(&server)
        .await;
    let hl = HighLevel::builder()
        .base_url(server.uri())
        .oauth_app(OAuthConfig::new("app1-x", "secret"))
        .rate_limit(RateLimitConfig::new().per_interval(100, Duration::from_millis(200)))
        .retry(quick_retries())
        .build()
        .expect("handle");
    let app = hl.oauth_app().expect("oauth");
    let expires = std::time::SystemTime::now() + Duration::from_secs(3_600);
    for i in 0..=CALLED {
        let id = format!("loc{i}");
        let mut session = Session::new(format!("at-{i}"), None, expires, UserType::Location);
        session.location_id = Some(id.clone());
        app.store()
            .put(&app.key(Resource::Location(id)), &session, Expected::Absent)
            .await
            .expect("seeded");
    }
    for i in 0..CALLED {
        let id = format!("loc{i}");
        get_location(&hl.location(&id), &id)
            .await
            .expect("answered");
    }
    assert_eq!(hl.rate_limits().len(), CALLED, "all within their window");
    // Past the 200 ms window (and its 20 ms margin), every budget is idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = format!("loc{CALLED}");
    get_location(&hl.location(&id), &id)
        .await
        .expect("answered");
    let held: Vec<String> = hl.rate_limits().into_iter().map(|s| s.resource).collect();
    assert_eq!(
        held,
        [format!("location:{id}")],
        "only the budget in use is held"
    );
}
