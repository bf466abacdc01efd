//! `specs/pin.toml`: the upstream commit and the SHA-256 of every file read from it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Result;

/// The upstream commit the generated code comes from, and the SHA-256 of every file read from it
/// (the files of every spec set, their common files, the scope table and the webhook docs).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Pin {
    pub upstream: String,
    pub commit: String,
    /// Path inside the upstream repository -> lowercase hex SHA-256.
    pub files: BTreeMap<String, String>,
}

pub fn write_pin(path: &Path, pin: &Pin) -> Result<()> {
    let body = toml::to_string(pin).map_err(|e| format!("cannot encode pin: {e}"))?;
    let text = format!("# Written by `cargo xtask specs pin`; do not edit by hand.\n{body}");
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}
