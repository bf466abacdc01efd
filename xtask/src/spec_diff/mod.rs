//! What changed between two pins of HighLevel's OpenAPI specs, for `cargo xtask specs pin`.
//!
//! Operations are identified by (HTTP method, path); upstream operationIds are not stable. An
//! operation that disappears from one (method, path) and reappears at another with the same
//! operationId (unique among the module's removed and added operations) is reported as *moved*,
//! as is one whose path only renamed its `{placeholders}`.
//!
//! For operations present on both sides the diff compares what a caller of the generated SDK
//! sees: parameters, the request body and the success (2xx) response bodies, plus the `Version`
//! header value and the operationId (the SDK method name is derived from it). Local `$ref`s
//! (`#/...`) are resolved while comparing, with a guard against cyclic schemas; refs into other
//! files (`../common/...`) are compared by their ref string. Descriptions, summaries, examples
//! and 4xx/5xx responses are ignored.
//!
//! Changes are marked breaking when code that compiled and worked against the old SDK may not
//! against the new one: see [`Change::breaking`] and the rules in `Dir`.

mod compare;
mod matching;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use matching::{diff_module, operations};

/// One module's spec: module name (e.g. "contacts") -> parsed OpenAPI JSON document.
pub type ModuleDocs = BTreeMap<String, Value>;

/// An operation as reported: `POST /contacts/search (search-contacts-advanced)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Operation {
    pub path: String,
    /// Lower case, as in the spec (`get`, `post`, ...).
    pub method: String,
    pub operation_id: Option<String>,
}

impl Operation {
    /// The operation `op` found at `path` under `method` (lower case).
    pub fn at(path: &str, method: &str, op: &Value) -> Self {
        Self {
            path: path.to_owned(),
            method: method.to_owned(),
            operation_id: op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }

    /// `POST /contacts/search`, without the operationId.
    pub fn route(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.route())?;
        if let Some(id) = &self.operation_id {
            write!(f, " ({id})")?;
        }
        Ok(())
    }
}

/// One line of the report under an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Code written against the old spec may stop compiling or working.
    pub breaking: bool,
    pub message: String,
}

/// An operation present on both sides (possibly at a different route, see [`Self::is_moved`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedOperation {
    pub old: Operation,
    pub new: Operation,
    /// Empty for an operation that only moved.
    pub changes: Vec<Change>,
}

impl ChangedOperation {
    pub fn is_moved(&self) -> bool {
        self.old.method != self.new.method || self.old.path != self.new.path
    }

    /// Moved, or at least one breaking change.
    pub fn is_breaking(&self) -> bool {
        self.is_moved() || self.changes.iter().any(|c| c.breaking)
    }
}

/// The changes inside one module present in both spec sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleDiff {
    /// Sorted by (path, method), like every list here.
    pub added: Vec<Operation>,
    /// Each one breaking.
    pub removed: Vec<Operation>,
    /// Each one breaking.
    pub moved: Vec<ChangedOperation>,
    /// Operations at the same route with at least one change.
    pub changed: Vec<ChangedOperation>,
}

impl ModuleDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.moved.is_empty()
            && self.changed.is_empty()
    }

    /// Removed and moved operations plus changed operations with a breaking change.
    pub fn breaking_count(&self) -> usize {
        self.removed.len()
            + self.moved.len()
            + self.changed.iter().filter(|c| c.is_breaking()).count()
    }
}

/// Everything that changed between two spec sets. `Display` renders the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecDiff {
    /// New modules, with their operations.
    pub modules_added: BTreeMap<String, Vec<Operation>>,
    /// Vanished modules (each one breaking), with the operations they had.
    pub modules_removed: BTreeMap<String, Vec<Operation>>,
    /// Modules on both sides that changed; unchanged modules are absent.
    pub modules: BTreeMap<String, ModuleDiff>,
}

impl SpecDiff {
    pub fn is_empty(&self) -> bool {
        self.modules_added.is_empty() && self.modules_removed.is_empty() && self.modules.is_empty()
    }

    /// Breaking items: removed modules, removed and moved operations, and changed operations
    /// with at least one breaking change.
    pub fn breaking_count(&self) -> usize {
        self.modules_removed.len()
            + self
                .modules
                .values()
                .map(ModuleDiff::breaking_count)
                .sum::<usize>()
    }

    /// Operations added to modules present on both sides (not counting new modules).
    pub fn operations_added(&self) -> usize {
        self.modules.values().map(|m| m.added.len()).sum()
    }

    /// Operations removed from modules present on both sides (not counting removed modules).
    pub fn operations_removed(&self) -> usize {
        self.modules.values().map(|m| m.removed.len()).sum()
    }

    pub fn operations_moved(&self) -> usize {
        self.modules.values().map(|m| m.moved.len()).sum()
    }

    /// Operations at an unchanged route with at least one change.
    pub fn operations_changed(&self) -> usize {
        self.modules.values().map(|m| m.changed.len()).sum()
    }

    /// The report's first line.
    pub fn summary(&self) -> String {
        let ops = |m: &BTreeMap<String, Vec<Operation>>| m.values().map(Vec::len).sum::<usize>();
        let changed_breaking: usize = self
            .modules
            .values()
            .map(|m| m.changed.iter().filter(|c| c.is_breaking()).count())
            .sum();
        format!(
            "{} modules added ({} operations), {} removed ({} operations); {} operations added, {} removed, {} moved, {} changed ({} breaking); {} breaking in total",
            self.modules_added.len(),
            ops(&self.modules_added),
            self.modules_removed.len(),
            ops(&self.modules_removed),
            self.operations_added(),
            self.operations_removed(),
            self.operations_moved(),
            self.operations_changed(),
            changed_breaking,
            self.breaking_count(),
        )
    }
}

const TAG: &str = "[BREAKING]";

fn write_changes(f: &mut fmt::Formatter<'_>, changes: &[Change]) -> fmt::Result {
    for c in changes {
        let mark = if c.breaking {
            "BREAKING  "
        } else {
            "          "
        };
        writeln!(f, "      {mark}{}", c.message)?;
    }
    Ok(())
}

impl fmt::Display for SpecDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        for (name, ops) in &self.modules_added {
            writeln!(f, "\n+ module {name} ({} operations)", ops.len())?;
            for op in ops {
                writeln!(f, "  + {op}")?;
            }
        }
        for (name, ops) in &self.modules_removed {
            writeln!(f, "\n- module {name} ({} operations) {TAG}", ops.len())?;
            for op in ops {
                writeln!(f, "  - {op}")?;
            }
        }
        for (name, m) in &self.modules {
            let breaking = m.changed.iter().filter(|c| c.is_breaking()).count();
            writeln!(
                f,
                "\n{name}: {} added, {} removed, {} moved, {} changed ({breaking} breaking)",
                m.added.len(),
                m.removed.len(),
                m.moved.len(),
                m.changed.len()
            )?;
            for op in &m.added {
                writeln!(f, "  + {op}")?;
            }
            for op in &m.removed {
                writeln!(f, "  - {op} {TAG}")?;
            }
            for c in &m.moved {
                writeln!(f, "  > {} moved to {} {TAG}", c.old, c.new.route())?;
                write_changes(f, &c.changes)?;
            }
            for c in &m.changed {
                let tag = if c.is_breaking() { " [BREAKING]" } else { "" };
                writeln!(f, "  ~ {}{tag}", c.new)?;
                write_changes(f, &c.changes)?;
            }
        }
        Ok(())
    }
}

/// Compares two spec sets keyed by module name.
pub fn diff(old: &ModuleDocs, new: &ModuleDocs) -> SpecDiff {
    let mut out = SpecDiff::default();
    for (name, doc) in new {
        if !old.contains_key(name) {
            let ops = operations(doc).into_values().map(|o| o.op).collect();
            out.modules_added.insert(name.clone(), ops);
        }
    }
    for (name, old_doc) in old {
        match new.get(name) {
            None => {
                let ops = operations(old_doc).into_values().map(|o| o.op).collect();
                out.modules_removed.insert(name.clone(), ops);
            }
            Some(new_doc) => {
                let m = diff_module(old_doc, new_doc);
                if !m.is_empty() {
                    out.modules.insert(name.clone(), m);
                }
            }
        }
    }
    out
}
