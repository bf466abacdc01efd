//! `specs/overlays.toml`: our fixes to single upstream facts, each with its reason.

use serde::Deserialize;

/// A fix to an upstream fact, scoped to one operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationOverlay {
    /// The spec sets whose module of this name has the defect (`["v2", "v3"]`).
    pub sets: Vec<String>,
    pub module: String,
    /// The upstream operationId.
    pub operation: String,
    #[serde(default)]
    pub response: Option<ResponseOverride>,
    /// `Some("")` means: send no `Version` header.
    #[serde(default)]
    pub version: Option<String>,
    /// `Some(false)`: the operation authenticates otherwise and gets no bearer token.
    #[serde(default)]
    pub authenticated: Option<bool>,
    /// Why upstream is wrong here; required so every overlay explains itself.
    #[allow(dead_code)]
    pub reason: String,
}

/// A fix to a schema fact: the JSON at `pointer` in the module's spec is replaced.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaOverlay {
    /// The spec sets whose module of this name has the defect (`["v2", "v3"]`).
    pub sets: Vec<String>,
    pub module: String,
    /// JSON pointer into the upstream spec, e.g. `/components/schemas/X/properties/y`.
    pub pointer: String,
    /// The JSON that replaces what is there.
    #[serde(default)]
    pub replace: Option<String>,
    /// A JSON object whose keys are added to the object there (existing keys are replaced);
    /// for adding properties the spec omits without restating the ones it has.
    #[serde(default)]
    pub merge: Option<String>,
    /// Why upstream is wrong here.
    #[allow(dead_code)]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ResponseOverride {
    Bytes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OverlayFile {
    #[serde(default)]
    pub operation: Vec<OperationOverlay>,
    #[serde(default)]
    pub schema: Vec<SchemaOverlay>,
}
