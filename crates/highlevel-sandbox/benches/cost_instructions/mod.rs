//! `-- instructions`: the per-request cost of the `cost` table counted in instructions, which
//! the machine's other load does not move, so that a change of a few percent shows in one run.
//!
//! Each count is this program run again ([`WORKER`] set) under valgrind's cachegrind (no cache
//! simulation), making `requests` calls one way against the sandbox process, which runs
//! natively. A worker's total holds its start, its client's construction and its first
//! connection too; the difference between a long and a short run, divided by the requests
//! between them, leaves the cost of a request alone. Only the client's user-space instructions
//! are counted: the kernel's loopback work, equal for every variant, is not, so the ratio is
//! lower than the CPU-time one, where that shared work weighs on both sides.

use std::process::Stdio;

use super::{Via, support, throughput};

/// Set in a worker's environment: `VIA REQUESTS TASKS URL`.
pub const WORKER: &str = "HIGHLEVEL_BENCH_COST_WORKER";

/// Requests of the short and the long run; the cost per request is their difference.
const SHORT: usize = 200;
const LONG: usize = 1_200;
/// Repeats of each count: their spread is the figure's.
const ROUNDS: usize = 3;

/// The worker's side: the calls, nothing printed (valgrind's summary goes to stderr).
pub async fn work(spec: &str) {
    let mut fields = spec.split(' ');
    let via = match fields.next() {
        Some("plain") => Via::Plain,
        Some("bare") => Via::Bare,
        Some("matched") => Via::Matched,
        Some("sdk") => Via::Sdk,
        other => panic!("{WORKER}: unknown variant {other:?}"),
    };
    let mut number = || -> usize {
        fields
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{WORKER}: `{spec}` is not VIA REQUESTS TASKS URL"))
    };
    let (requests, tasks) = (number(), number());
    let url = fields.next().expect("the sandbox URL");
    throughput(url, via, requests, tasks).await;
}

fn name(via: Via) -> &'static str {
    match via {
        Via::Plain => "plain",
        Via::Bare => "bare",
        Via::Matched => "matched",
        Via::Sdk => "sdk",
    }
}

/// Instructions the worker ran in all, from cachegrind's `I refs:` line.
async fn count(url: &str, via: Via, requests: usize, tasks: usize) -> u64 {
    let output = tokio::process::Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
        ])
        .arg(std::env::current_exe().expect("the bench"))
        .env(WORKER, format!("{} {requests} {tasks} {url}", name(via)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("valgrind runs (Debian: apt-get install valgrind)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "worker failed:\n{stderr}");
    stderr
        .lines()
        .find_map(|line| line.split_once("I   refs:"))
        .and_then(|(_, n)| n.trim().replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no `I refs:` line in cachegrind's output:\n{stderr}"))
}

/// Instructions per request: the long run's count less the short one's, per request between.
async fn per_request(url: &str, via: Via, tasks: usize) -> f64 {
    let short = count(url, via, SHORT, tasks).await;
    let long = count(url, via, LONG, tasks).await;
    long.saturating_sub(short) as f64 / (LONG - SHORT) as f64
}

pub async fn table() {
    let sandbox = support::SandboxProgram::start(&["--no-rate-limits"]).await;
    println!(
        "per-request cost in instructions: GET /locations/{{id}}, ({LONG} - {SHORT} requests) per worker under cachegrind, client user space only, {ROUNDS} rounds"
    );
    println!(
        "| tasks | plain (instructions per request) | SDK | bare | plain / SDK | range over rounds | bare / SDK | matched | matched / SDK |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for tasks in [1, 16] {
        let (mut plain, mut sdk, mut bare, mut matched, mut ratios) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let p = per_request(&sandbox.url, Via::Plain, tasks).await;
            let s = per_request(&sandbox.url, Via::Sdk, tasks).await;
            let b = per_request(&sandbox.url, Via::Bare, tasks).await;
            let m = per_request(&sandbox.url, Via::Matched, tasks).await;
            plain.push(p);
            sdk.push(s);
            bare.push(b);
            matched.push(m);
            ratios.push(p / s);
        }
        let (plain, sdk, bare, matched) = (
            super::median(&mut plain),
            super::median(&mut sdk),
            super::median(&mut bare),
            super::median(&mut matched),
        );
        let ratio = super::median(&mut ratios);
        println!(
            "| {tasks} | {plain:.0} | {sdk:.0} | {bare:.0} | {ratio:.3} | {:.3} – {:.3} | {:.3} | {matched:.0} | {:.3} |",
            ratios.first().copied().unwrap_or_default(),
            ratios.last().copied().unwrap_or_default(),
            bare / sdk,
            matched / sdk,
        );
    }
}
