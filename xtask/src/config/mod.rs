//! The project's own spec data in `specs/`, one schema per file: the pin (`pin.rs`), the spec
//! sets and their module tables (`sets.rs`), the overlays (`overlays.rs`), the paging facts
//! (`paging.rs`) and the webhook wire types (`webhooks.rs`).

mod overlays;
mod paging;
mod pin;
mod sets;
pub mod webhooks;

use std::path::{Path, PathBuf};

pub use overlays::{OperationOverlay, ResponseOverride, SchemaOverlay};
pub use paging::{CursorParam, PagingOverride};
pub use pin::{Pin, write_pin};
pub use sets::{Module, SpecSet};

use crate::Result;

/// The file declaring the spec sets.
pub const SETS_FILE: &str = "specs/sets.toml";

/// Everything under `specs/` that the xtask reads, plus where the workspace is.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub pin: Pin,
    /// In `specs/sets.toml` order; each holds its module table.
    pub sets: Vec<SpecSet>,
    pub overlays: Vec<OperationOverlay>,
    pub schema_overlays: Vec<SchemaOverlay>,
    /// `specs/pagination.toml`: what the specs do not say about paging.
    pub paging_overrides: Vec<PagingOverride>,
}

impl Project {
    /// Loads and checks everything, including that the pin covers every set's files.
    pub fn load(root: &Path) -> Result<Self> {
        let project = Self::load_tables(root)?;
        project.validate_pinned()?;
        Ok(project)
    }

    /// Loads and checks the tables, but not whether the pin covers them yet: for `specs pin`,
    /// which writes the pin after a set or module was added.
    pub fn load_tables(root: &Path) -> Result<Self> {
        let specs = root.join("specs");
        let pin: Pin = read_toml(&specs.join("pin.toml"))?;
        let table: sets::SetTable = read_toml(&root.join(SETS_FILE))?;
        let mut sets = table.set;
        for set in &mut sets {
            let rows: sets::ModuleTable = read_toml(&specs.join(&set.module_table))?;
            set.modules = rows.module;
            for module in &mut set.modules {
                module.set = set.name.clone();
                module.facade_module = set.facade_module.clone();
                if module.default_version.is_empty() {
                    module.default_version = set.default_version.clone();
                }
            }
        }
        let overlays: overlays::OverlayFile = read_toml(&specs.join("overlays.toml"))?;
        let paging: paging::OverrideFile = read_toml(&specs.join("pagination.toml"))?;
        let project = Self {
            root: root.to_path_buf(),
            pin,
            sets,
            overlays: overlays.operation,
            schema_overlays: overlays.schema,
            paging_overrides: paging.operation,
        };
        project.validate_tables()?;
        Ok(project)
    }

    /// Fails at once on a row whose file or a set whose common file is not pinned (no such
    /// file at the pinned commit, or `specs pin` not run since the row was added).
    fn validate_pinned(&self) -> Result<()> {
        for set in &self.sets {
            if !self.pin.files.contains_key(&set.common) {
                return Err(format!(
                    "{SETS_FILE}: set `{}` names common file `{}`, which specs/pin.toml does not pin",
                    set.name, set.common
                )
                .into());
            }
            for module in &set.modules {
                if !self.pin.files.contains_key(&module.spec) {
                    return Err(format!(
                        "specs/{}: set `{}` module `{}` reads `{}`, which specs/pin.toml does not \
                         pin (no such file at the pinned commit, or run `cargo xtask specs pin`)",
                        set.module_table, set.name, module.name, module.spec
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Fails at once on a table that cannot be right: a row outside its set's folder, a crate
    /// or feature name used twice, an overlay naming a module no set has.
    fn validate_tables(&self) -> Result<()> {
        let mut crates = std::collections::BTreeSet::new();
        let mut features = std::collections::BTreeSet::new();
        for set in &self.sets {
            let table = format!("specs/{}", set.module_table);
            for module in &set.modules {
                if !set.holds(&module.spec) {
                    return Err(format!(
                        "{table}: module `{}` reads `{}`, outside set `{}`'s folder `{}`",
                        module.name, module.spec, set.name, set.folder
                    )
                    .into());
                }
                if !crates.insert(module.crate_name.as_str())
                    || !features.insert(module.feature.as_str())
                {
                    return Err(format!(
                        "{table}: module `{}`: crate `{}` or feature `{}` is used twice",
                        module.name, module.crate_name, module.feature
                    )
                    .into());
                }
            }
        }
        // Every overlay and paging entry: (file, what it fixes, its sets, its module).
        let entries = self
            .schema_overlays
            .iter()
            .map(|o| ("overlays.toml", &o.pointer, &o.sets, &o.module))
            .chain(
                self.overlays
                    .iter()
                    .map(|o| ("overlays.toml", &o.operation, &o.sets, &o.module)),
            )
            .chain(
                self.paging_overrides
                    .iter()
                    .map(|o| ("pagination.toml", &o.operation, &o.sets, &o.module)),
            );
        for (file, what, sets, module) in entries {
            if let Some(set) = sets.iter().find(|set| self.module(set, module).is_none()) {
                return Err(format!(
                    "specs/{file}: the entry for `{what}` names module `{module}`, which set \
                     `{set}` does not have"
                )
                .into());
            }
        }
        Ok(())
    }

    /// The set named `name`.
    pub fn set(&self, name: &str) -> Option<&SpecSet> {
        self.sets.iter().find(|s| s.name == name)
    }

    /// The row of `module` in set `set`.
    pub fn module(&self, set: &str, module: &str) -> Option<&Module> {
        self.set(set)?.modules.iter().find(|m| m.name == module)
    }

    /// The sets `cargo xtask codegen` generates crates for.
    pub fn generated_sets(&self) -> impl Iterator<Item = &SpecSet> {
        self.sets.iter().filter(|s| s.generate)
    }

    /// Every module of the generated sets, in set then table order.
    pub fn generated_modules(&self) -> impl Iterator<Item = &Module> {
        self.generated_sets().flat_map(|s| s.modules.iter())
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
        module: &'a Module,
    ) -> impl Iterator<Item = &'a SchemaOverlay> + 'a {
        self.schema_overlays
            .iter()
            .filter(move |o| o.sets.contains(&module.set) && o.module == module.name)
    }

    pub fn paging_overrides_for<'a>(
        &'a self,
        module: &'a Module,
    ) -> impl Iterator<Item = &'a PagingOverride> + 'a {
        self.paging_overrides
            .iter()
            .filter(move |o| o.sets.contains(&module.set) && o.module == module.name)
    }

    pub fn overlays_for<'a>(
        &'a self,
        module: &'a Module,
    ) -> impl Iterator<Item = &'a OperationOverlay> + 'a {
        self.overlays
            .iter()
            .filter(move |o| o.sets.contains(&module.set) && o.module == module.name)
    }
}

pub fn cache_dir(root: &Path, commit: &str) -> PathBuf {
    root.join("specs").join(".cache").join(commit)
}

pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}
