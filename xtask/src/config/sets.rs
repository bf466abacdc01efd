//! `specs/sets.toml` and each set's module table: which folders of the upstream tree become
//! which crates.

use serde::Deserialize;

/// One spec set (`v2`, `v3`): a folder of module specs, the common file their error schemas
/// refer to, and the module table that turns each file into a crate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecSet {
    /// Short name used in overlays, reports and error messages (`v2`).
    pub name: String,
    pub title: String,
    /// The folder of the upstream tree holding the set's module specs (`apps/v3`).
    pub folder: String,
    /// The common schemas the set's files refer to as `../common/common-schemas.json`.
    pub common: String,
    /// Why `common` is the file meant, where the references' own path does not lead to it.
    #[serde(default)]
    #[allow(dead_code)]
    pub common_reason: Option<String>,
    /// The `Version` header sent where neither the operation nor its module row says.
    pub default_version: String,
    /// The module table, a file beside `sets.toml`.
    pub module_table: String,
    /// Whether `cargo xtask codegen` generates crates for the set yet.
    pub generate: bool,
    /// The facade module holding the set's modules (`v3` → `highlevel::v3::contacts`,
    /// `hl.v3().contacts()`); none puts them at the crate root (`hl.contacts()`).
    #[serde(default)]
    pub facade_module: Option<String>,
    /// The facade feature turning on every module of the set.
    pub full_feature: String,
    /// The rows of `module_table`, filled at load.
    #[serde(skip)]
    pub modules: Vec<Module>,
}

impl SpecSet {
    /// Whether `rel` (a path in the upstream tree) is a module spec of this set's folder.
    pub fn holds(&self, rel: &str) -> bool {
        rel.strip_prefix(&self.folder)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|file| !file.contains('/') && file.ends_with(".json"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetTable {
    pub set: Vec<SpecSet>,
}

/// One row of a module table: a spec file that becomes one generated crate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    pub name: String,
    pub spec: String,
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub feature: String,
    pub title: String,
    /// The `Version` header for operations whose spec declares none (else the set's).
    #[serde(default)]
    pub default_version: String,
    /// The module of the previous set this one continues under a new name (`ad-manager` for
    /// v3's `ad-publishing`), for the migration report.
    #[serde(default)]
    pub renamed_from: Option<String>,
    /// The set the row belongs to; filled at load.
    #[serde(skip)]
    pub set: String,
    /// The set's facade module, if any; filled at load.
    #[serde(skip)]
    pub facade_module: Option<String>,
}

impl Module {
    /// A v2 row for module `name` (`highlevel-<name>`), for tests.
    #[cfg(test)]
    pub fn for_tests(name: &str) -> Self {
        Self {
            name: name.into(),
            spec: format!("apps/{name}.json"),
            crate_name: format!("highlevel-{name}"),
            feature: name.into(),
            title: name.to_uppercase(),
            default_version: "2021-07-28".into(),
            renamed_from: None,
            set: "v2".into(),
            facade_module: None,
        }
    }

    /// The Rust identifier of the generated library (`highlevel_contacts`).
    pub fn lib_name(&self) -> String {
        self.crate_name.replace('-', "_")
    }

    /// The facade's accessor method (`ad_manager` for module `ad-manager`).
    pub fn accessor(&self) -> String {
        self.name.replace('-', "_")
    }

    /// The Rust path of the module under the facade (`contacts`, `v3::contacts`).
    pub fn facade_path(&self) -> String {
        match &self.facade_module {
            Some(set) => format!("{set}::{}", self.accessor()),
            None => self.accessor(),
        }
    }

    /// The expression giving the module's client from a facade handle `hl`
    /// (`hl.contacts()`, `hl.v3().contacts()`).
    pub fn client_expression(&self, hl: &str) -> String {
        match &self.facade_module {
            Some(set) => format!("{hl}.{set}().{}()", self.accessor()),
            None => format!("{hl}.{}()", self.accessor()),
        }
    }

    /// A name unique across sets, for files and identifiers (`contacts`, `v3_contacts`).
    pub fn unique_name(&self) -> String {
        match &self.facade_module {
            Some(set) => format!("{set}_{}", self.accessor()),
            None => self.accessor(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModuleTable {
    pub module: Vec<Module>,
}
