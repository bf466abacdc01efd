//! What the conformance suite needs on a fresh machine: Prism installed from the committed
//! lockfile, and the merged spec written where the suite looks for it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;
use crate::config::{Project, SpecSet};

use super::merge;

/// The npm project pinning `@stoplight/prism-cli` (5.14.2; 5.16.0 hangs on malformed JSON).
pub const PRISM_DIR: &str = "tests/prism";
/// Where the suite reads the merged spec (git-ignored: it is built from the pinned cache).
/// Where the merged spec of a set goes: `target/conformance/highlevel-<set>.json`.
pub fn merged_spec_path(set: &SpecSet) -> String {
    format!("target/conformance/highlevel-{}.json", set.name)
}
const PINNED_PRISM: &str = "5.14.2";

/// Installs Prism with `npm ci --ignore-scripts` unless the pinned version is already there.
pub fn install_prism(root: &Path) -> Result<PathBuf> {
    let dir = root.join(PRISM_DIR);
    let executable = dir.join("node_modules/.bin/prism");
    let installed = dir.join("node_modules/@stoplight/prism-cli/package.json");
    let version = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_owned));
    if version.as_deref() == Some(PINNED_PRISM) && executable.is_file() {
        eprintln!("    Prism {PINNED_PRISM} already installed in {PRISM_DIR}");
        return Ok(executable);
    }
    let status = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .map_err(|e| {
            format!("cannot run npm (Node.js and npm are needed to install Prism): {e}")
        })?;
    if !status.success() {
        return Err(format!(
            "`npm ci --ignore-scripts` in {PRISM_DIR} failed ({status}); is the npm registry reachable?"
        )
        .into());
    }
    if !executable.is_file() {
        return Err(format!("npm ci finished but {} is missing", executable.display()).into());
    }
    Ok(executable)
}

/// Writes the merged spec of every pinned module of `set`; returns its path.
pub fn write_merged_spec(project: &Project, set: &SpecSet) -> Result<PathBuf> {
    let merged = merge::merged_specs(project, set)?;
    for repaired in &merged.repaired_references {
        eprintln!("    merged spec: dangling upstream reference {repaired}");
    }
    let path = project.root.join(merged_spec_path(set));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let text = serde_json::to_string(&merged.document)
        .map_err(|e| format!("cannot encode the merged spec: {e}"))?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
