//! The conformance suite's generated half: every operation's call, and the merged spec the
//! mock serves. The runner is hand-written, in `tests/tests/conformance/mod.rs`.

pub mod calls;
pub mod merge;
pub mod setup;
pub mod values;

/// Where the generated calls live, one file per module plus their index.
pub const CALLS_DIR: &str = "tests/tests/conformance/calls";
