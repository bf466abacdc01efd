//! Every generated operation called through the facade against Stoplight Prism serving the
//! pinned official specs: an independent mock, written by someone else from the same specs.
//!
//! Per operation: one call with arguments built from the spec (Prism must report no request
//! violation and the dynamic response must decode), then the error statuses the spec declares
//! forced with `Prefer: code=401` / `422` (they must come back as the typed API error).
//!
//! `cargo xtask test` installs Prism, writes the merged spec and runs this with `--ignored`;
//! the paths can be overridden with `HIGHLEVEL_PRISM` and `HIGHLEVEL_CONFORMANCE_SPEC`.

mod calls;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use highlevel::HighLevel;
use highlevel_tests::conformance::{Call, CallResult, Outcome, Prism};

/// Fixed, so dynamic responses are the same on every run.
const SEED: u64 = 20_261_122;
/// Calls in flight at once; Prism is one Node process.
const CONCURRENCY: usize = 8;
/// Prism parses ~6 MB of specs on start.
const PRISM_START: Duration = Duration::from_secs(120);

/// A request Prism misjudges, with the reason; the SDK's request is right by the spec.
struct MockLimit {
    operation_id: &'static str,
    violation: &'static str,
    reason: &'static str,
}

/// Excused violations. Each must still occur (a stale entry fails the suite), and the forced
/// error statuses of the operation are not checked: Prism answers the violation with 400 first.
const MOCK_LIMITS: &[MockLimit] = &[MockLimit {
    operation_id: "upload-file-attachments",
    violation: "request.body.attachmentUrls: Request body property attachmentUrls must be array",
    reason: "Prism 5.14.2 reads no multipart field as an array: a list sent as repeated parts \
             (as OpenAPI 3.0 encodes it, and as HighLevel's multer reads it), as `name[]` or as \
             JSON text is always a string or missing to it",
}];

fn mock_limit(call: &Call) -> Option<&'static MockLimit> {
    MOCK_LIMITS
        .iter()
        .find(|limit| limit.operation_id == call.operation_id)
}

fn workspace_path(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(default)
        },
        PathBuf::from,
    )
}

fn handle(url: &str, prefer: Option<u16>) -> HighLevel {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(status) = prefer {
        let value = reqwest::header::HeaderValue::from_str(&format!("code={status}"))
            .unwrap_or_else(|e| panic!("Prefer header: {e}"));
        headers.insert("prefer", value);
    }
    // Prism (Node) closes idle keep-alive connections after 5 s; a pooled connection reused
    // just then fails before any byte is answered. Retries come with the runtime's retry
    // policy; until then, never reuse a connection that old.
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_idle_timeout(Duration::from_secs(1))
        .build()
        .unwrap_or_else(|e| panic!("reqwest client: {e}"));
    HighLevel::builder()
        .private_integration_token("pit-conformance-5e6f")
        .base_url(url)
        .http_client(client)
        .build()
        .unwrap_or_else(|e| panic!("conformance handle: {e}"))
}

/// What happened to one operation.
#[derive(Debug, Default)]
struct Record {
    called: bool,
    excused: Vec<String>,
    problems: Vec<String>,
    request_violation: bool,
    decode_failure: bool,
    forced_checked: usize,
    forced_failed: usize,
}

async fn check(call: Call, plain: HighLevel, forced: Arc<BTreeMap<u16, HighLevel>>) -> Record {
    let mut record = Record::default();
    let limit = mock_limit(&call);
    match (call.run)(plain).await {
        Err(argument) => record.problems.push(argument.to_string()),
        Ok(mut outcome) => {
            record.called = true;
            if let Some(limit) = limit {
                outcome.request_violations.retain(|v| {
                    let excused = v == limit.violation;
                    if excused {
                        record.excused.push(format!("{v} ({})", limit.reason));
                    }
                    !excused
                });
                if !record.excused.is_empty() && outcome.request_violations.is_empty() {
                    return record;
                }
            }
            judge_plain(&outcome, &mut record);
        }
    }
    for status in call.forced_statuses {
        let Some(hl) = forced.get(status) else {
            continue;
        };
        record.forced_checked += 1;
        match (call.run)(hl.clone()).await {
            Ok(Outcome {
                result: CallResult::Api(got),
                ..
            }) if got == *status => {}
            Ok(other) => {
                record.forced_failed += 1;
                record
                    .problems
                    .push(format!("forced {status}: got {:?}", other.result));
            }
            Err(argument) => {
                record.forced_failed += 1;
                record.problems.push(format!("forced {status}: {argument}"));
            }
        }
    }
    record
}

fn judge_plain(outcome: &Outcome, record: &mut Record) {
    if !outcome.request_violations.is_empty() {
        record.request_violation = true;
        for violation in &outcome.request_violations {
            record
                .problems
                .push(format!("request violation: {violation}"));
        }
    }
    match &outcome.result {
        CallResult::Decoded => {}
        CallResult::Decode(message) => {
            record.decode_failure = true;
            record.problems.push(format!("decode failure: {message}"));
        }
        // Prism answers a request it finds invalid with an error status; the violation above
        // says why. Without one, an error status means the call itself went wrong.
        CallResult::Api(status) if outcome.request_violations.is_empty() => {
            record.decode_failure = true;
            record
                .problems
                .push(format!("unexpected {status} without a request violation"));
        }
        CallResult::Api(_) => {}
        other => {
            record.decode_failure = true;
            record.problems.push(format!("failed: {other:?}"));
        }
    }
}

#[derive(Debug, Default)]
struct Row {
    generated: usize,
    called: usize,
    violations: usize,
    decode_failures: usize,
    forced_checked: usize,
    forced_failed: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Prism and the merged spec: run `cargo xtask test`"]
async fn every_operation_conforms_to_the_official_specs() {
    let executable = workspace_path("HIGHLEVEL_PRISM", "tests/prism/node_modules/.bin/prism");
    let spec = workspace_path(
        "HIGHLEVEL_CONFORMANCE_SPEC",
        "target/conformance/highlevel-v2.json",
    );
    let started = Instant::now();
    let prism = Prism::start(&executable, &spec, SEED, PRISM_START)
        .unwrap_or_else(|e| panic!("conformance: {e}"));
    let prism_ready = started.elapsed();

    let plain = handle(prism.url(), None);
    let forced: Arc<BTreeMap<u16, HighLevel>> = Arc::new(
        [401, 422]
            .into_iter()
            .map(|status| (status, handle(prism.url(), Some(status))))
            .collect(),
    );
    let calls = calls::all();
    let mut pending = calls.iter().copied();
    let mut running = tokio::task::JoinSet::new();
    let mut records: Vec<(Call, Record)> = Vec::new();
    loop {
        while running.len() < CONCURRENCY {
            let Some(call) = pending.next() else { break };
            let (plain, forced) = (plain.clone(), forced.clone());
            running.spawn(async move { (call, check(call, plain, forced).await) });
        }
        match running.join_next().await {
            Some(Ok(done)) => records.push(done),
            Some(Err(panicked)) => panic!("a conformance call panicked: {panicked}"),
            None => break,
        }
    }
    drop(prism);

    let mut rows: BTreeMap<&str, Row> = calls::generated()
        .into_iter()
        .map(|(module, generated)| {
            (
                module,
                Row {
                    generated,
                    ..Row::default()
                },
            )
        })
        .collect();
    records.sort_by_key(|(call, _)| (call.module, call.operation_id));
    let mut problems = Vec::new();
    let mut excused = Vec::new();
    for (call, record) in &records {
        for entry in &record.excused {
            excused.push(format!("{} ({}): {entry}", call.path, call.operation_id));
        }
        if let Some(limit) = mock_limit(call)
            && record.excused.is_empty()
        {
            problems.push(format!(
                "{}: the excused mock limit no longer occurs; drop it from MOCK_LIMITS",
                limit.operation_id
            ));
        }
        let row = rows.entry(call.module).or_default();
        row.called += usize::from(record.called);
        row.violations += usize::from(record.request_violation);
        row.decode_failures += usize::from(record.decode_failure);
        row.forced_checked += record.forced_checked;
        row.forced_failed += record.forced_failed;
        for problem in &record.problems {
            problems.push(format!(
                "{} {} {} ({}): {problem}",
                call.module, call.method, call.path, call.operation_id
            ));
        }
    }

    let mut total = Row::default();
    println!(
        "\n{:<24} {:>16} {:>11} {:>9} {:>17}",
        "module", "called/generated", "violations", "decode", "forced errors ok"
    );
    for (module, row) in &rows {
        println!(
            "{module:<24} {:>16} {:>11} {:>9} {:>17}",
            format!("{}/{}", row.called, row.generated),
            row.violations,
            row.decode_failures,
            format!(
                "{}/{}",
                row.forced_checked - row.forced_failed,
                row.forced_checked
            ),
        );
        total.generated += row.generated;
        total.called += row.called;
        total.violations += row.violations;
        total.decode_failures += row.decode_failures;
        total.forced_checked += row.forced_checked;
        total.forced_failed += row.forced_failed;
    }
    println!(
        "{:<24} {:>16} {:>11} {:>9} {:>17}",
        "TOTAL",
        format!("{}/{}", total.called, total.generated),
        total.violations,
        total.decode_failures,
        format!(
            "{}/{}",
            total.forced_checked - total.forced_failed,
            total.forced_checked
        ),
    );
    println!(
        "conformance: Prism 5.14.2 ready in {:.1} s, {} operations checked in {:.1} s",
        prism_ready.as_secs_f64(),
        records.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "excused request violations (mock limitations, listed in MOCK_LIMITS): {}",
        excused.len()
    );
    for entry in &excused {
        println!("  excused: {entry}");
    }
    for problem in &problems {
        println!("  {problem}");
    }
    assert!(
        total.generated > 0 && total.called == total.generated,
        "every generated operation must be called: {}/{}",
        total.called,
        total.generated
    );
    assert!(
        problems.is_empty(),
        "{} conformance problems (listed above)",
        problems.len()
    );
}
