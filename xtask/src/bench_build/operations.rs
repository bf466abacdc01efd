//! How many operations a build compiles: this SDK's from its generated `operations.rs`
//! files, the peer's from its sources in the registry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::Result;

/// Operations the facade compiles with `features`: the module crates they enable (following
/// `full` and other feature lists), each counted in its generated `operations.rs`.
pub(super) fn our_operations(root: &Path, features: &[String]) -> Result<usize> {
    let manifest_path = root.join("crates/highlevel/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(&manifest_path)?.parse()?;
    let table = manifest
        .get("features")
        .and_then(toml::Value::as_table)
        .ok_or_else(|| format!("{} has no [features]", manifest_path.display()))?;
    let feature_map: BTreeMap<String, Vec<String>> = table
        .iter()
        .map(|(name, value)| {
            let entries = value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.as_str().map(String::from))
                .collect();
            (name.clone(), entries)
        })
        .collect();
    let mut total = 0;
    for dependency in enabled_dependencies(&feature_map, features) {
        let operations = root
            .join("crates")
            .join(&dependency)
            .join("src/operations.rs");
        if let Ok(source) = std::fs::read_to_string(&operations) {
            total += count_generated_operations(&source);
        }
    }
    Ok(total)
}

/// The optional dependencies (`dep:NAME`) that `features` turn on, through nested features.
pub fn enabled_dependencies(
    feature_map: &BTreeMap<String, Vec<String>>,
    features: &[String],
) -> BTreeSet<String> {
    enabled_features(feature_map, features)
        .iter()
        .filter_map(|feature| feature_map.get(feature))
        .flatten()
        .filter_map(|entry| entry.strip_prefix("dep:"))
        .map(String::from)
        .collect()
}

/// `features` and every feature of this crate they turn on (not `dep:` or `crate/feature`).
pub fn enabled_features(
    feature_map: &BTreeMap<String, Vec<String>>,
    features: &[String],
) -> BTreeSet<String> {
    let mut enabled = BTreeSet::new();
    let mut pending: Vec<String> = features.to_vec();
    while let Some(feature) = pending.pop() {
        if !enabled.insert(feature.clone()) {
            continue;
        }
        for entry in feature_map.get(&feature).into_iter().flatten() {
            if !entry.starts_with("dep:") && !entry.contains('/') {
                pending.push(entry.clone());
            }
        }
    }
    enabled
}

/// One `OperationMeta` per operation in a generated `operations.rs`.
pub fn count_generated_operations(source: &str) -> usize {
    source
        .lines()
        .filter(|line| line.trim_start().starts_with("operation_id: \""))
        .count()
}

/// Operations `ghl-sdk` compiles with `features`: one `pub async fn` per operation in
/// `src/services/<module>.rs` (v2) and `src/services/v3/<module>.rs` (v3) for each enabled
/// module feature. None for another peer, or a layout this does not know.
pub(super) fn peer_operations(
    metadata: &serde_json::Value,
    peer: &str,
    features: &[String],
) -> Result<Option<usize>> {
    if peer != "ghl-sdk" {
        return Ok(None);
    }
    let Some(package) = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == peer)
    else {
        return Ok(None);
    };
    let feature_map: BTreeMap<String, Vec<String>> =
        serde_json::from_value(package["features"].clone())?;
    let Some(source_dir) = package["manifest_path"]
        .as_str()
        .and_then(|manifest| Path::new(manifest).parent())
        .map(|dir| dir.join("src/services"))
    else {
        return Ok(None);
    };
    let mut total = 0;
    let mut found_any = false;
    for feature in enabled_features(&feature_map, features) {
        let module = feature.replace('-', "_");
        for file in [
            source_dir.join(format!("{module}.rs")),
            source_dir.join("v3").join(format!("{module}.rs")),
        ] {
            if let Ok(source) = std::fs::read_to_string(&file) {
                found_any = true;
                total += count_async_methods(&source);
            }
        }
    }
    Ok(found_any.then_some(total))
}

pub fn count_async_methods(source: &str) -> usize {
    source
        .lines()
        .filter(|line| line.trim_start().starts_with("pub async fn "))
        .count()
}
