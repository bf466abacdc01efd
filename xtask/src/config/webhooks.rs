//! `specs/webhooks.toml`: the webhook event docs' wire types where the docs are wrong.

use serde::Deserialize;

use super::Project;
use crate::Result;

/// Where the table lives in the workspace.
pub const MAPPING_FILE: &str = "specs/webhooks.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub event: Vec<TypeEntry>,
    #[serde(default)]
    pub example: Vec<TypeEntry>,
}

/// `[[event]]`: the wire type of the event documented in `file`; `[[example]]`: a `type` value
/// of an example in `file` that does not name its event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeEntry {
    /// The doc's file stem (`AppInstall` for `docs/webhook events/AppInstall.md`).
    pub file: String,
    #[serde(rename = "type")]
    pub wire_type: String,
    /// Why; required so every entry explains itself.
    #[allow(dead_code)]
    pub reason: String,
}

impl Mapping {
    pub fn load(project: &Project) -> Result<Self> {
        let path = project.root.join(MAPPING_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{MAPPING_FILE}: {e}").into())
    }
}
