//! The project's own spec data in `specs/`: the pin, the module table and the overlays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Result;

/// The upstream commit the generated code comes from, and the SHA-256 of every file read from it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Pin {
    pub upstream: String,
    pub commit: String,
    /// Path inside the upstream repository -> lowercase hex SHA-256.
    pub files: BTreeMap<String, String>,
}

/// One row of the module table: a spec file that becomes one generated crate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    pub name: String,
    pub spec: String,
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub feature: String,
    pub title: String,
    /// The `Version` header for operations whose spec declares none.
    pub default_version: String,
}

impl Module {
    /// The Rust identifier of the generated library (`highlevel_contacts`).
    pub fn lib_name(&self) -> String {
        self.crate_name.replace('-', "_")
    }

    /// The facade's accessor method (`ad_manager` for module `ad-manager`).
    pub fn accessor(&self) -> String {
        self.name.replace('-', "_")
    }
}

#[derive(Debug, Deserialize)]
struct ModuleTable {
    module: Vec<Module>,
}

/// A fix to an upstream fact, scoped to one operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationOverlay {
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
struct OverlayFile {
    #[serde(default)]
    operation: Vec<OperationOverlay>,
    #[serde(default)]
    schema: Vec<SchemaOverlay>,
}

/// Everything under `specs/` that the xtask reads, plus where the workspace is.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub pin: Pin,
    pub modules: Vec<Module>,
    pub overlays: Vec<OperationOverlay>,
    pub schema_overlays: Vec<SchemaOverlay>,
    /// `specs/pagination.toml`: what the specs do not say about paging.
    pub paging_overrides: Vec<crate::pagination::PagingOverride>,
}

impl Project {
    pub fn load(root: &Path) -> Result<Self> {
        let specs = root.join("specs");
        let pin: Pin = read_toml(&specs.join("pin.toml"))?;
        let table: ModuleTable = read_toml(&specs.join("modules.toml"))?;
        let overlays: OverlayFile = read_toml(&specs.join("overlays.toml"))?;
        let paging: crate::pagination::OverrideFile = read_toml(&specs.join("pagination.toml"))?;
        let project = Self {
            root: root.to_path_buf(),
            pin,
            modules: table.module,
            overlays: overlays.operation,
            schema_overlays: overlays.schema,
            paging_overrides: paging.operation,
        };
        project.validate()?;
        Ok(project)
    }

    fn validate(&self) -> Result<()> {
        for module in &self.modules {
            if !self.pin.files.contains_key(&module.spec) {
                return Err(format!(
                    "specs/modules.toml: module `{}` reads `{}`, which specs/pin.toml does not pin",
                    module.name, module.spec
                )
                .into());
            }
        }
        for overlay in &self.schema_overlays {
            if !self.modules.iter().any(|m| m.name == overlay.module) {
                return Err(format!(
                    "specs/overlays.toml: schema overlay `{}` names unknown module `{}`",
                    overlay.pointer, overlay.module
                )
                .into());
            }
        }
        for overlay in &self.overlays {
            if !self.modules.iter().any(|m| m.name == overlay.module) {
                return Err(format!(
                    "specs/overlays.toml: overlay for `{}` names unknown module `{}`",
                    overlay.operation, overlay.module
                )
                .into());
            }
        }
        Ok(())
    }

    pub fn pin_path(&self) -> PathBuf {
        self.root.join("specs").join("pin.toml")
    }

    /// The git-ignored folder holding the pinned commit's files.
    pub fn cache_dir(&self) -> PathBuf {
        cache_dir(&self.root, &self.pin.commit)
    }

    pub fn schema_overlays_for<'a>(
        &'a self,
        module: &'a str,
    ) -> impl Iterator<Item = &'a SchemaOverlay> + 'a {
        self.schema_overlays
            .iter()
            .filter(move |o| o.module == module)
    }

    pub fn paging_overrides_for<'a>(
        &'a self,
        module: &'a str,
    ) -> impl Iterator<Item = &'a crate::pagination::PagingOverride> + 'a {
        self.paging_overrides
            .iter()
            .filter(move |o| o.module == module)
    }

    pub fn overlays_for<'a>(
        &'a self,
        module: &'a str,
    ) -> impl Iterator<Item = &'a OperationOverlay> + 'a {
        self.overlays.iter().filter(move |o| o.module == module)
    }
}

pub fn cache_dir(root: &Path, commit: &str) -> PathBuf {
    root.join("specs").join(".cache").join(commit)
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

pub fn write_pin(path: &Path, pin: &Pin) -> Result<()> {
    let body = toml::to_string(pin).map_err(|e| format!("cannot encode pin: {e}"))?;
    let text = format!("# Written by `cargo xtask specs pin`; do not edit by hand.\n{body}");
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}
