//! Every cross-crate integration test, one module per subject, in one test binary: each
//! binary links the facade with every module, Redis, PostgreSQL and axum, which cost more
//! than compiling the tests themselves when each file was a binary of its own.
//!
//! Run one subject with a module path filter: `cargo test -p highlevel-tests --test
//! integration -- store_faults::` (add `--ignored` for the tests that need outside servers).
//!
//! A test that needs the process to itself (one that installs a tracing subscriber) runs
//! itself again alone in a child process: [`ran_alone`].

mod compression;
mod conformance;
mod modules;
mod oauth;
mod oauth_logs;
mod rate_limits;
mod sandbox;
mod sandbox_oauth;
mod sandbox_webhooks;
mod shared_budget;
mod store_faults;
mod store_tls;
mod token_stores;
mod webhook_installs;
mod webhook_stores;
mod webhooks;

/// Set in a child process started by [`ran_alone`]: the name of the one test it runs.
const ALONE: &str = "HIGHLEVEL_TEST_ALONE";

/// The name libtest gives test function `function` of the module at `module` (its
/// `module_path!()`): the path less this crate's name, as `--exact` matches it.
fn test_name(module: &str, function: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{function}"),
        None => function.to_owned(),
    }
}

/// Runs test `function` of `module` (its `module_path!()`) in a child process of this binary
/// where no other test runs, asserts that it ran and passed there, and returns `true`; in that
/// child it returns `false`, and the caller goes on with the test itself.
///
/// For tests whose subject is process-wide: a global tracing subscriber, or the enabled state
/// of a callsite, which tracing caches for the whole process (another test's call registering
/// it while a subscriber is installed can leave it disabled).
fn ran_alone(module: &str, function: &str) -> bool {
    let test = test_name(module, function);
    if std::env::var_os(ALONE).is_some_and(|alone| alone == test.as_str()) {
        return false;
    }
    let run = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        // `--include-ignored`: the test may be one that needs an outside server.
        .args(["--exact", &test, "--nocapture", "--include-ignored"])
        .env(ALONE, &test)
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("1 passed"),
        "{test} alone:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    true
}

#[test]
fn a_test_name_is_its_module_path_less_the_crate() {
    assert_eq!(
        test_name("integration::rate_limits", "a_span"),
        "rate_limits::a_span"
    );
    assert_eq!(
        test_name("integration::conformance::paging", "walks"),
        "conformance::paging::walks"
    );
    assert_eq!(test_name("integration", "at_the_root"), "at_the_root");
    assert_eq!(
        test_name(
            module_path!(),
            "a_test_name_is_its_module_path_less_the_crate"
        ),
        "a_test_name_is_its_module_path_less_the_crate"
    );
}
