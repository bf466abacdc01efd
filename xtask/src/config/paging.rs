//! `specs/pagination.toml`: what the specs do not say about paging, each with its reason.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CursorParam {
    pub param: String,
    /// A JSON pointer into the response.
    #[serde(default)]
    pub response: Option<String>,
    /// JSON pointers into the last item, the first present wins.
    #[serde(default)]
    pub last_item: Vec<String>,
}

/// One entry of `specs/pagination.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingOverride {
    /// The spec sets whose module of this name has the defect (`["v2", "v3"]`).
    pub sets: Vec<String>,
    pub module: String,
    /// The upstream operationId.
    pub operation: String,
    /// Leave the operation out.
    #[serde(default)]
    pub exclude: bool,
    #[serde(default)]
    pub items: Option<String>,
    #[serde(default)]
    pub total: Option<String>,
    #[serde(default)]
    pub has_more: Option<String>,
    #[serde(default)]
    pub max_page_size: Option<u64>,
    #[serde(default)]
    pub cursor: Vec<CursorParam>,
    /// Why the spec is not enough here; shown in the table.
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OverrideFile {
    #[serde(default)]
    pub operation: Vec<PagingOverride>,
}
