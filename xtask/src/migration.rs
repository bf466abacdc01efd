//! The migration report between two consecutive spec sets (`crates/highlevel/MIGRATION-v2-to-v3.md`):
//! per module, then per operation, what stayed, changed, moved, went away (and what replaces it
//! where the old docs say) and what is new, with the SDK method names on both sides. Written by
//! `cargo xtask codegen`, checked by `--check`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::config::SpecSet;
use crate::openapi::{self, operation_pointer};
use crate::repair::sdk_method_name;
use crate::spec_diff::{self, Change, ModuleDocs, Operation};
use crate::specs::short;

/// Where the report from `old` to `new` is written.
pub fn report_path(old: &SpecSet, new: &SpecSet) -> String {
    format!("crates/highlevel/MIGRATION-{}-to-{}.md", old.name, new.name)
}

/// The SDK method an operation becomes (the generator's naming; a module holding two
/// operations with one name numbers the second, which the report does not repeat).
fn method(op: &Operation) -> String {
    op.operation_id
        .as_deref()
        .map(sdk_method_name)
        .unwrap_or_else(|| format!("{} {}", op.method, op.path))
}

fn route_and_method(op: &Operation) -> String {
    format!("`{}` `{}`", op.route(), method(op))
}

/// A `Version` change is the SDK's business (each call sends its operation's own), not the
/// caller's: it is counted apart and never marks an operation breaking.
fn is_version(change: &Change) -> bool {
    change.message.starts_with("Version ")
}

/// The operation the removed one's own description sends callers to, if it names one of the
/// new module's operations: by route (`Use GET /users/search`) or by a link whose text is an
/// operation's summary (`[Search Contacts](…)`).
fn replacement(old_doc: &Value, removed: &Operation, new_doc: &Value) -> Option<Operation> {
    let description = old_doc
        .pointer(&operation_pointer(&removed.path, &removed.method))
        .and_then(|op| op.get("description").or_else(|| op.get("summary")))
        .and_then(Value::as_str)?;
    let text = description.to_ascii_lowercase();
    let candidates = openapi::operations(new_doc).filter(|(path, method, _)| {
        (*path, *method) != (removed.path.as_str(), removed.method.as_str())
    });
    for (path, method, op) in candidates {
        let route = format!("{method} {path}");
        let summary = op
            .get("summary")
            .and_then(Value::as_str)
            .map(|s| format!("[{}]", s.to_ascii_lowercase()));
        let by_route = text.contains(&route)
            || text.contains(&format!("{method} {}", path.trim_end_matches('/')));
        let by_link = summary.is_some_and(|s| s.len() > 2 && text.contains(&s));
        if by_route || by_link {
            return Some(Operation::at(path, method, op));
        }
    }
    None
}

/// Counts of one module's row in the summary table.
#[derive(Default)]
struct Row {
    old_ops: usize,
    new_ops: usize,
    unchanged: usize,
    changed: usize,
    breaking: usize,
    version: usize,
    moved: usize,
    removed: usize,
    added: usize,
}

/// The report from `old` to `new`; `commit` is the pin both were read at.
pub fn report(
    old: &SpecSet,
    old_docs: &ModuleDocs,
    new: &SpecSet,
    new_docs: &ModuleDocs,
    commit: &str,
) -> String {
    // The old documents keyed by the name of the new module continuing them.
    let mut old_keyed = ModuleDocs::new();
    let mut old_name = BTreeMap::new();
    for module in &new.modules {
        let previous = module.renamed_from.as_deref().unwrap_or(&module.name);
        if let Some(doc) = old_docs.get(previous) {
            old_keyed.insert(module.name.clone(), doc.clone());
            old_name.insert(module.name.clone(), previous.to_owned());
        }
    }
    for (name, doc) in old_docs {
        if !old_name.values().any(|n| n == name) {
            old_keyed.insert(name.clone(), doc.clone());
        }
    }
    let diff = spec_diff::diff(&old_keyed, new_docs);
    let count = |doc: &Value| openapi::operations(doc).count();

    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let mut body = String::new();
    for module in &new.modules {
        let Some(new_doc) = new_docs.get(&module.name) else {
            continue;
        };
        let row = rows.entry(module.name.clone()).or_default();
        row.new_ops = count(new_doc);
        let Some(previous) = old_name.get(&module.name) else {
            row.added = row.new_ops;
            let _ = writeln!(body, "\n## {} (new in {})\n", module.name, new.name);
            for (path, method, op) in openapi::operations(new_doc) {
                let _ = writeln!(
                    body,
                    "- added {}",
                    route_and_method(&Operation::at(path, method, op))
                );
            }
            continue;
        };
        let old_doc = &old_keyed[&module.name];
        row.old_ops = count(old_doc);
        let heading = if *previous == module.name {
            module.name.clone()
        } else {
            format!("{} (was {} `{previous}`)", module.name, old.name)
        };
        let _ = writeln!(body, "\n## {heading}\n");
        let empty = spec_diff::ModuleDiff::default();
        let m = diff.modules.get(&module.name).unwrap_or(&empty);
        let mut versions = BTreeMap::<String, usize>::new();
        let mut changed_lines = String::new();
        for c in &m.changed {
            for change in c.changes.iter().filter(|c| is_version(c)) {
                *versions.entry(change.message.clone()).or_default() += 1;
            }
            let real: Vec<&Change> = c.changes.iter().filter(|c| !is_version(c)).collect();
            if c.changes.len() > real.len() {
                row.version += 1;
            }
            if real.is_empty() {
                continue;
            }
            row.changed += 1;
            let breaking = real.iter().any(|c| c.breaking);
            row.breaking += usize::from(breaking);
            let mark = if breaking { " **BREAKING**" } else { "" };
            let renamed = if method(&c.old) == method(&c.new) {
                String::new()
            } else {
                format!(" (was `{}`)", method(&c.old))
            };
            let _ = writeln!(
                changed_lines,
                "- {}{renamed}{mark}",
                route_and_method(&c.new)
            );
            for change in real {
                let mark = if change.breaking { "**BREAKING** " } else { "" };
                let _ = writeln!(changed_lines, "  - {mark}{}", change.message);
            }
        }
        // The rest of the new module's operations sit at their old route, changed at most in
        // their `Version`.
        row.unchanged = row
            .new_ops
            .saturating_sub(m.moved.len() + m.added.len() + row.changed);
        row.moved = m.moved.len();
        row.removed = m.removed.len();
        row.added = m.added.len();
        if !versions.is_empty() {
            let list: Vec<String> = versions
                .iter()
                .map(|(v, n)| format!("{} ({n})", v.trim_start_matches("Version ")))
                .collect();
            let _ = writeln!(body, "`Version` (sent by the SDK): {}\n", list.join(", "));
        }
        for op in &m.removed {
            let instead = replacement(old_doc, op, new_doc)
                .map(|r| format!(", replaced by {}", route_and_method(&r)))
                .unwrap_or_default();
            let _ = writeln!(
                body,
                "- removed {}{instead} **BREAKING**",
                route_and_method(op)
            );
        }
        for c in &m.moved {
            let _ = writeln!(
                body,
                "- moved {} → {} **BREAKING**",
                route_and_method(&c.old),
                route_and_method(&c.new)
            );
            for change in c.changes.iter().filter(|c| !is_version(c)) {
                let mark = if change.breaking { "**BREAKING** " } else { "" };
                let _ = writeln!(body, "  - {mark}{}", change.message);
            }
        }
        for op in &m.added {
            let _ = writeln!(body, "- added {}", route_and_method(op));
        }
        if !changed_lines.is_empty() {
            let _ = writeln!(body, "\nChanged:\n\n{changed_lines}");
        }
        if row.unchanged > 0 {
            let _ = writeln!(
                body,
                "\nUnchanged (besides `Version`): {} operations.",
                row.unchanged
            );
        }
    }
    for (name, ops) in &diff.modules_removed {
        let row = rows.entry(name.clone()).or_default();
        row.old_ops = ops.len();
        row.removed = ops.len();
        let _ = writeln!(body, "\n## {name} (not in {}) **BREAKING**\n", new.name);
        for op in ops {
            let _ = writeln!(body, "- removed {}", route_and_method(op));
        }
    }

    let mut out = format!(
        "# Migrating from {old_title} to {new_title}\n\n\
         <!-- @generated by `cargo xtask codegen` from GoHighLevel/highlevel-api-docs@{commit} \
         (sets `{old}` and `{new}` of specs/sets.toml); do not edit. -->\n\n\
         Per module, then per operation: unchanged, changed (parameters, request and response \
         bodies; **BREAKING** where code written against {old} may stop compiling or working), \
         moved (the same operation at a new path or id), removed (with what replaces it where \
         the {old} docs name it) and added. Names in backticks are the SDK's methods. Each call \
         sends its own operation's `Version` header, so a `Version` change needs nothing from \
         callers: it is counted apart and marks nothing breaking.\n\n\
         | {new} module | {old} ops | {new} ops | unchanged | changed (breaking) | `Version` changed | moved | removed | added |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        old_title = old.title,
        new_title = new.title,
        commit = short(commit),
        old = old.name,
        new = new.name,
    );
    let mut total = Row::default();
    for (name, r) in &rows {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} ({}) | {} | {} | {} | {} |",
            r.old_ops,
            r.new_ops,
            r.unchanged,
            r.changed,
            r.breaking,
            r.version,
            r.moved,
            r.removed,
            r.added
        );
        total.old_ops += r.old_ops;
        total.new_ops += r.new_ops;
        total.unchanged += r.unchanged;
        total.changed += r.changed;
        total.breaking += r.breaking;
        total.version += r.version;
        total.moved += r.moved;
        total.removed += r.removed;
        total.added += r.added;
    }
    let _ = writeln!(
        out,
        "| **total** | {} | {} | {} | {} ({}) | {} | {} | {} | {} |",
        total.old_ops,
        total.new_ops,
        total.unchanged,
        total.changed,
        total.breaking,
        total.version,
        total.moved,
        total.removed,
        total.added
    );
    out.push_str(&body);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Module;

    fn set(name: &str, modules: Vec<Module>) -> SpecSet {
        SpecSet {
            name: name.into(),
            title: format!("API {name}"),
            folder: "apps".into(),
            common: "common/common-schemas.json".into(),
            common_reason: None,
            default_version: "v".into(),
            module_table: "modules.toml".into(),
            generate: false,
            facade_module: None,
            full_feature: "full".into(),
            modules,
        }
    }

    fn op(id: &str, version: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut op = json!({ "operationId": id, "parameters": [{ "name": "Version", "in": "header",
            "required": true, "schema": { "type": "string", "enum": [version] } }],
            "responses": { "200": { "description": "ok" } } });
        if let (Some(op), Some(extra)) = (op.as_object_mut(), extra.as_object()) {
            op.extend(extra.clone());
        }
        op
    }

    #[test]
    fn a_renamed_module_is_compared_with_its_predecessor_and_a_named_replacement_is_found() {
        let old_doc = json!({ "paths": {
            "/things/": { "get": op("get-things", "1", json!({ "deprecated": true,
                "description": "Deprecated. Please use the [Search Things](https://x) API." })) },
            "/things/search": { "post": op("search-things", "1", json!({ "summary": "Search Things" })) },
            "/things/{id}": { "get": op("get-thing", "1", json!({})) } } });
        let new_doc = json!({ "paths": {
            "/things/search": { "post": op("search-things", "2", json!({ "summary": "Search Things" })) },
            "/things/{thingId}": { "get": op("get-thing", "2", json!({})) },
            "/things/queue": { "get": op("get-queue", "2", json!({})) } } });
        let mut renamed = Module::for_tests("stuff");
        renamed.renamed_from = Some("things".into());
        let old = set("v2", vec![Module::for_tests("things")]);
        let new = set("v3", vec![renamed]);
        let text = report(
            &old,
            &ModuleDocs::from([("things".into(), old_doc)]),
            &new,
            &ModuleDocs::from([("stuff".into(), new_doc)]),
            "0123456789",
        );
        assert!(text.contains("## stuff (was v2 `things`)"), "{text}");
        assert!(
            text.contains("| stuff | 3 | 3 | 1 | 0 (0) | 1 | 1 | 1 | 1 |"),
            "{text}"
        );
        assert!(
            text.contains("- removed `GET /things/` `get_things`, replaced by `POST /things/search` `search_things` **BREAKING**"),
            "{text}"
        );
        assert!(
            text.contains(
                "- moved `GET /things/{id}` `get_thing` → `GET /things/{thingId}` `get_thing`"
            ),
            "{text}"
        );
        assert!(
            text.contains("- added `GET /things/queue` `get_queue`"),
            "{text}"
        );
        assert!(
            text.contains("`Version` (sent by the SDK): 1 -> 2 (1)"),
            "{text}"
        );
    }

    /// The pinned specs: the figures the v2 → v3 report states, read through the spec cache.
    #[test]
    fn the_pinned_v2_to_v3_report_counts_every_operation_of_both_sets() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let project = crate::config::Project::load(&root).expect("project");
        crate::specs::test_copy(&project.pin.commit);
        let (v2, v3) = (&project.sets[0], &project.sets[1]);
        let docs = |s| crate::specs::load_set(&project, s).expect("cached, verified set");
        let text = report(v2, &docs(v2), v3, &docs(v3), &project.pin.commit);
        assert!(
            text.contains("| **total** | 576 | 627 | 383 | 153 (78) | 419 | 8 | 32 | 83 |"),
            "{}",
            &text[..text.find("## ").unwrap_or(text.len())]
        );
        assert!(text.contains("replaced by `POST /contacts/search` `search_contacts_advanced`"));
        assert!(text.contains("- moved `POST /oauth/locationToken`"));
    }
}
