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

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One module's spec: module name (e.g. "contacts") -> parsed OpenAPI JSON document.
pub type SpecSet = BTreeMap<String, Value>;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
/// Nesting limit for schema comparison, a second guard next to the cycle check.
const MAX_DEPTH: usize = 48;
/// How many enum values a change line lists before eliding the rest.
const MAX_LISTED: usize = 10;

/// An operation as reported: `POST /contacts/search (search-contacts-advanced)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Operation {
    pub path: String,
    /// Lower case, as in the spec (`get`, `post`, ...).
    pub method: String,
    pub operation_id: Option<String>,
}

impl Operation {
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
pub fn diff(old: &SpecSet, new: &SpecSet) -> SpecDiff {
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

/// An operation in a document, with what is needed to compare it.
struct OpIn<'a> {
    op: Operation,
    body: &'a Value,
    /// Path-item level `parameters`, inherited by the operation.
    shared_params: Option<&'a Value>,
}

type OpKey = (String, String);

fn operations(doc: &Value) -> BTreeMap<OpKey, OpIn<'_>> {
    let mut out = BTreeMap::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, body) in item {
            let method = method.to_ascii_lowercase();
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let op = Operation {
                path: path.clone(),
                method: method.clone(),
                operation_id: body
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            };
            out.insert(
                (path.clone(), method),
                OpIn {
                    op,
                    body,
                    shared_params: item.get("parameters"),
                },
            );
        }
    }
    out
}

fn diff_module(old_doc: &Value, new_doc: &Value) -> ModuleDiff {
    let old_ops = operations(old_doc);
    let new_ops = operations(new_doc);
    let mut m = ModuleDiff::default();
    for (key, o) in &old_ops {
        if let Some(n) = new_ops.get(key) {
            let changes = compare_operations(old_doc, o, new_doc, n);
            if !changes.is_empty() {
                m.changed.push(ChangedOperation {
                    old: o.op.clone(),
                    new: n.op.clone(),
                    changes,
                });
            }
        }
    }

    let mut removed: Vec<&OpKey> = old_ops
        .keys()
        .filter(|k| !new_ops.contains_key(*k))
        .collect();
    let mut added: Vec<&OpKey> = new_ops
        .keys()
        .filter(|k| !old_ops.contains_key(*k))
        .collect();
    let mut pairs: Vec<(&OpKey, &OpKey)> = Vec::new();
    // Pass 1: the same operationId, unique among the removed and among the added operations.
    let id_of = |ops: &BTreeMap<OpKey, OpIn<'_>>, k: &OpKey| ops[k].op.operation_id.clone();
    let unique = |ops: &BTreeMap<OpKey, OpIn<'_>>, keys: &[&OpKey], id: &str| {
        keys.iter()
            .filter(|k| id_of(ops, k).as_deref() == Some(id))
            .count()
            == 1
    };
    for r in &removed {
        let Some(id) = id_of(&old_ops, r) else {
            continue;
        };
        if !unique(&old_ops, &removed, &id) || !unique(&new_ops, &added, &id) {
            continue;
        }
        if let Some(a) = added
            .iter()
            .find(|a| id_of(&new_ops, a).as_deref() == Some(id.as_str()))
        {
            pairs.push((r, a));
        }
    }
    removed.retain(|r| !pairs.iter().any(|(pr, _)| pr == r));
    added.retain(|a| !pairs.iter().any(|(_, pa)| pa == a));
    // Pass 2: same method, and a path that differs only in placeholder names.
    let mut pass2 = Vec::new();
    for r in &removed {
        let shape = template_shape(&r.0);
        let candidates: Vec<&&OpKey> = added
            .iter()
            .filter(|a| a.1 == r.1 && template_shape(&a.0) == shape)
            .collect();
        let rivals = removed
            .iter()
            .filter(|o| o.1 == r.1 && template_shape(&o.0) == shape)
            .count();
        if let [a] = candidates.as_slice()
            && rivals == 1
        {
            pass2.push((*r, **a));
        }
    }
    removed.retain(|r| !pass2.iter().any(|(pr, _)| pr == r));
    added.retain(|a| !pass2.iter().any(|(_, pa)| pa == a));
    pairs.extend(pass2);

    for (r, a) in pairs {
        let (o, n) = (&old_ops[r], &new_ops[a]);
        let changes = compare_operations(old_doc, o, new_doc, n);
        m.moved.push(ChangedOperation {
            old: o.op.clone(),
            new: n.op.clone(),
            changes,
        });
    }
    m.moved.sort_by(|a, b| a.old.cmp(&b.old));
    m.added = added.into_iter().map(|k| new_ops[k].op.clone()).collect();
    m.removed = removed.into_iter().map(|k| old_ops[k].op.clone()).collect();
    m
}

/// `/contacts/{contactId}/notes` -> `/contacts/{}/notes`.
fn template_shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push('{');
            }
            '}' => {
                inside = false;
                out.push('}');
            }
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

/// Roughly the snake_case the generator derives SDK method names from.
fn sdk_name(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if (prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower))
                && !out.ends_with('_')
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out.trim_matches('_').to_owned()
}

fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    for _ in 0..8 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => match doc.pointer(&r[1..]) {
                Some(t) => v = t,
                None => return v,
            },
            _ => return v,
        }
    }
    v
}

/// Parameter identity: (`in`, name), header names case-insensitive.
fn params<'a>(doc: &'a Value, op: &OpIn<'a>) -> BTreeMap<(String, String), &'a Value> {
    let mut out = BTreeMap::new();
    for list in [op.shared_params, op.body.get("parameters")]
        .into_iter()
        .flatten()
    {
        for p in list.as_array().into_iter().flatten() {
            let p = deref(doc, p);
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let loc = p.get("in").and_then(Value::as_str).unwrap_or_default();
            let name = if loc == "header" {
                name.to_ascii_lowercase()
            } else {
                name.to_owned()
            };
            out.insert((loc.to_owned(), name), p);
        }
    }
    out
}

/// The `Version` header: its one enum value, or a description of what is there instead.
fn version(param: Option<&Value>) -> Option<String> {
    let p = param?;
    match p
        .pointer("/schema/enum")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([Value::String(v)]) => Some(v.clone()),
        Some(vals) => Some(vals.iter().map(show).collect::<Vec<_>>().join(" | ")),
        None => Some("(any value)".to_owned()),
    }
}

fn is_required(v: &Value) -> bool {
    v.get("required").and_then(Value::as_bool).unwrap_or(false)
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<&String> = items.into_iter().collect();
    let mut s = items
        .iter()
        .take(MAX_LISTED)
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_LISTED {
        s.push_str(&format!(", ... (+{} more)", items.len() - MAX_LISTED));
    }
    s
}

/// Which way data flows, which decides what breaks callers.
///
/// Request (parameters and request bodies): removing a property or parameter, adding a required
/// one, making one required, changing its type, removing an enum value or newly restricting it to
/// an enum break callers. Response (success bodies): removing a property, changing its type or
/// making it optional (the generated field becomes an `Option`) break callers; new properties and
/// enum changes do not. Removing a `oneOf`/`anyOf` variant breaks either way (the generated enum
/// loses a variant); adding one does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Request,
    Response,
}

fn compare_operations(old_doc: &Value, o: &OpIn<'_>, new_doc: &Value, n: &OpIn<'_>) -> Vec<Change> {
    let mut c = Cmp {
        old: old_doc,
        new: new_doc,
        active: Vec::new(),
        out: Vec::new(),
    };

    match (&o.op.operation_id, &n.op.operation_id) {
        (a, b) if a == b => {}
        (a, b) => {
            let renamed = a.as_deref().map(sdk_name) != b.as_deref().map(sdk_name);
            let what = |x: &Option<String>| x.clone().unwrap_or_else(|| "(none)".to_owned());
            let note = if renamed {
                "SDK method renamed"
            } else {
                "same SDK method name"
            };
            c.push(
                renamed,
                format!("operationId {} -> {} ({note})", what(a), what(b)),
            );
        }
    }
    let deprecated = |op: &OpIn<'_>| {
        op.body
            .get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    match (deprecated(o), deprecated(n)) {
        (false, true) => c.push(false, "now deprecated".to_owned()),
        (true, false) => c.push(false, "no longer deprecated".to_owned()),
        _ => {}
    }

    let mut op_params = params(old_doc, o);
    let mut np_params = params(new_doc, n);
    let version_key = ("header".to_owned(), "version".to_owned());
    let (ov, nv) = (
        version(op_params.remove(&version_key)),
        version(np_params.remove(&version_key)),
    );
    match (ov, nv) {
        (a, b) if a == b => {}
        (Some(a), Some(b)) => c.push(true, format!("Version {a} -> {b}")),
        (None, Some(b)) => c.push(true, format!("Version header added: {b}")),
        (Some(a), None) => c.push(true, format!("Version header removed (was {a})")),
        (None, None) => {}
    }
    c.params(&op_params, &np_params);
    c.request_body(o.body.get("requestBody"), n.body.get("requestBody"));
    c.responses(o.body.get("responses"), n.body.get("responses"));
    c.out
}

struct Cmp<'a> {
    old: &'a Value,
    new: &'a Value,
    /// (old, new) local refs being compared further up the stack: the cycle guard.
    active: Vec<(Option<&'a str>, Option<&'a str>)>,
    out: Vec<Change>,
}

impl<'a> Cmp<'a> {
    fn push(&mut self, breaking: bool, message: String) {
        self.out.push(Change { breaking, message });
    }

    fn params(
        &mut self,
        old: &BTreeMap<(String, String), &'a Value>,
        new: &BTreeMap<(String, String), &'a Value>,
    ) {
        let keys: BTreeSet<&(String, String)> = old.keys().chain(new.keys()).collect();
        for key in keys {
            let label = format!("param {} `{}`", key.0, key.1);
            match (old.get(key), new.get(key)) {
                (None, Some(p)) => {
                    let req = is_required(p);
                    let what = if req { "required" } else { "optional" };
                    self.push(
                        req,
                        format!("{label} added ({what}, {})", self.label_of_param(p)),
                    );
                }
                (Some(_), None) => self.push(true, format!("{label} removed")),
                (Some(a), Some(b)) => {
                    match (is_required(a), is_required(b)) {
                        (false, true) => self.push(true, format!("{label} now required")),
                        (true, false) => self.push(false, format!("{label} now optional")),
                        _ => {}
                    }
                    if let (Some(sa), Some(sb)) = (a.get("schema"), b.get("schema")) {
                        self.schema(sa, sb, Dir::Request, &label, "", 0);
                    }
                }
                (None, None) => {}
            }
        }
    }

    fn label_of_param(&self, p: &'a Value) -> String {
        p.get("schema")
            .map_or_else(|| "any".to_owned(), |s| Norm::of(self.new, s).label())
    }

    fn request_body(&mut self, old: Option<&'a Value>, new: Option<&'a Value>) {
        let old = old.map(|b| deref(self.old, b));
        let new = new.map(|b| deref(self.new, b));
        let (a, b) = match (old, new) {
            (None, None) => return,
            (None, Some(b)) => {
                let req = is_required(b);
                let what = if req { "required" } else { "optional" };
                return self.push(req, format!("request body added ({what})"));
            }
            (Some(_), None) => return self.push(true, "request body removed".to_owned()),
            (Some(a), Some(b)) => (a, b),
        };
        match (is_required(a), is_required(b)) {
            (false, true) => self.push(true, "request body now required".to_owned()),
            (true, false) => self.push(false, "request body now optional".to_owned()),
            _ => {}
        }
        let ca = a.get("content").and_then(Value::as_object);
        let cb = b.get("content").and_then(Value::as_object);
        let only_json = |c: Option<&serde_json::Map<String, Value>>| {
            c.into_iter()
                .flatten()
                .all(|(k, _)| k == "application/json")
        };
        let plain = only_json(ca) && only_json(cb);
        for (ct, media) in ca.into_iter().flatten() {
            let Some(other) = cb.and_then(|m| m.get(ct)) else {
                self.push(true, format!("request body: content type {ct} removed"));
                continue;
            };
            let label = if plain {
                "request body".to_owned()
            } else {
                format!("request body ({ct})")
            };
            match (media.get("schema"), other.get("schema")) {
                (Some(sa), Some(sb)) => self.schema(sa, sb, Dir::Request, &label, "", 0),
                (Some(_), None) => self.push(false, format!("{label}: schema removed")),
                (None, Some(_)) => self.push(true, format!("{label}: schema added")),
                (None, None) => {}
            }
        }
        for (ct, _) in cb.into_iter().flatten() {
            if !ca.is_some_and(|m| m.contains_key(ct)) {
                self.push(false, format!("request body: content type {ct} added"));
            }
        }
    }

    fn responses(&mut self, old: Option<&'a Value>, new: Option<&'a Value>) {
        let success = |doc: &'a Value, r: Option<&'a Value>| -> BTreeMap<String, &'a Value> {
            r.and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(code, _)| code.starts_with('2'))
                .map(|(code, v)| (code.clone(), deref(doc, v)))
                .collect()
        };
        let a = success(self.old, old);
        let b = success(self.new, new);
        let only_a: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
        let only_b: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
        for (code, ra) in &a {
            if let Some(rb) = b.get(code) {
                self.response(ra, rb, &format!("response {code}"));
            }
        }
        if let ([ca], [cb]) = (only_a.as_slice(), only_b.as_slice()) {
            self.push(false, format!("success status {ca} -> {cb}"));
            self.response(a[*ca], b[*cb], &format!("response {cb}"));
            return;
        }
        for code in only_a {
            self.push(false, format!("response {code} removed"));
        }
        for code in only_b {
            self.push(false, format!("response {code} added"));
        }
    }

    fn response(&mut self, a: &'a Value, b: &'a Value, label: &str) {
        let schema = |r: &'a Value| -> Option<&'a Value> {
            let content = r.get("content")?.as_object()?;
            content
                .get("application/json")
                .and_then(|m| m.get("schema"))
                .or_else(|| content.values().find_map(|m| m.get("schema")))
        };
        match (schema(a), schema(b)) {
            (Some(sa), Some(sb)) => self.schema(sa, sb, Dir::Response, label, "", 0),
            (Some(_), None) => self.push(true, format!("{label}: body schema removed")),
            (None, Some(_)) => self.push(false, format!("{label}: body schema added")),
            (None, None) => {}
        }
    }

    /// Compares two schemas; `field` is the dotted path below `prefix` (empty at the root).
    fn schema(
        &mut self,
        o: &'a Value,
        n: &'a Value,
        dir: Dir,
        prefix: &str,
        field: &str,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let on = Norm::of(self.old, o);
        let nn = Norm::of(self.new, n);
        let key = (on.local_ref, nn.local_ref);
        if (key.0.is_some() || key.1.is_some()) && self.active.contains(&key) {
            return; // already being compared further up: a cycle
        }
        let at = if field.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix} `{field}`")
        };
        let (ol, nl) = (on.label(), nn.label());
        if ol != nl {
            self.push(true, format!("{at}: type {ol} -> {nl}"));
            return;
        }
        if on.is_opaque_ref() {
            return; // the same external ref on both sides
        }
        self.active.push(key);

        match (&on.enum_values, &nn.enum_values) {
            (Some(a), Some(b)) => {
                let removed: Vec<&String> = a.iter().filter(|v| !b.contains(*v)).collect();
                let added: Vec<&String> = b.iter().filter(|v| !a.contains(*v)).collect();
                if !removed.is_empty() {
                    self.push(
                        dir == Dir::Request,
                        format!("{at}: enum values removed: {}", list(removed)),
                    );
                }
                if !added.is_empty() {
                    self.push(false, format!("{at}: enum values added: {}", list(added)));
                }
            }
            (None, Some(b)) => {
                self.push(
                    dir == Dir::Request,
                    format!("{at}: now restricted to enum {}", list(b)),
                );
            }
            (Some(_), None) => self.push(false, format!("{at}: no longer an enum")),
            (None, None) => {}
        }

        let child = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        for (name, sa) in &on.properties {
            let f = child(name);
            let Some(sb) = nn.properties.get(name) else {
                self.push(true, format!("{prefix}: property `{f}` removed"));
                continue;
            };
            match (on.required.contains(name), nn.required.contains(name)) {
                (false, true) => self.push(
                    dir == Dir::Request,
                    format!("{prefix}: property `{f}` now required"),
                ),
                (true, false) => self.push(
                    dir == Dir::Response,
                    format!("{prefix}: property `{f}` now optional"),
                ),
                _ => {}
            }
            self.schema(sa, sb, dir, prefix, &f, depth + 1);
        }
        for name in nn
            .properties
            .keys()
            .filter(|k| !on.properties.contains_key(*k))
        {
            let req = nn.required.contains(name);
            let what = if req { "required" } else { "optional" };
            let breaking = dir == Dir::Request && req;
            self.push(
                breaking,
                format!("{prefix}: property `{}` added ({what})", child(name)),
            );
        }
        if let (Some(ia), Some(ib)) = (on.items, nn.items) {
            self.schema(ia, ib, dir, prefix, &format!("{field}[]"), depth + 1);
        }
        if let (Some(aa), Some(ab)) = (on.additional, nn.additional)
            && aa.is_object()
            && ab.is_object()
        {
            self.schema(aa, ab, dir, prefix, &format!("{field}{{*}}"), depth + 1);
        }
        let (va, vb) = (variants(&on.variants), variants(&nn.variants));
        for (name, a) in &va {
            let f = format!("{field}<{name}>");
            match vb.get(name) {
                Some(b) => self.schema(a, b, dir, prefix, &f, depth + 1),
                None => self.push(true, format!("{prefix}: variant `{f}` removed")),
            }
        }
        for name in vb.keys().filter(|k| !va.contains_key(*k)) {
            self.push(false, format!("{prefix}: variant `{field}<{name}>` added"));
        }
        self.active.pop();
    }
}

/// `oneOf` / `anyOf` members keyed by the schema they refer to, or by position if inline.
fn variants<'a>(members: &[&'a Value]) -> BTreeMap<String, &'a Value> {
    members
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let name = match v.get("$ref").and_then(Value::as_str) {
                Some(r) if r.starts_with('#') => r.rsplit('/').next().unwrap_or(r).to_owned(),
                Some(r) => r.to_owned(),
                None => format!("#{}", i + 1),
            };
            (name, *v)
        })
        .collect()
}

/// A schema with local refs followed and `allOf` merged, as far as the comparison needs.
#[derive(Default)]
struct Norm<'a> {
    /// The last local ref followed to reach the schema (the cycle guard's key).
    local_ref: Option<&'a str>,
    /// A ref into another file, compared by its string.
    external: Option<&'a str>,
    ty: Option<String>,
    enum_values: Option<Vec<String>>,
    properties: BTreeMap<&'a str, &'a Value>,
    required: BTreeSet<&'a str>,
    items: Option<&'a Value>,
    additional: Option<&'a Value>,
    /// `oneOf` / `anyOf` members.
    variants: Vec<&'a Value>,
    variant_kind: Option<&'static str>,
    followed: Vec<&'a str>,
}

impl<'a> Norm<'a> {
    fn of(doc: &'a Value, schema: &'a Value) -> Self {
        let mut n = Norm::default();
        n.absorb(doc, schema, 0);
        n
    }

    fn absorb(&mut self, doc: &'a Value, schema: &'a Value, hops: usize) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if hops > 32 {
            return;
        }
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            if let Some(pointer) = r.strip_prefix('#') {
                if self.followed.contains(&r) {
                    return; // a schema that includes itself through allOf
                }
                self.followed.push(r);
                match doc.pointer(pointer) {
                    Some(target) => {
                        self.local_ref.get_or_insert(r);
                        self.absorb(doc, target, hops + 1);
                    }
                    None => {
                        self.external.get_or_insert(r);
                    }
                }
            } else {
                self.external.get_or_insert(r);
            }
            return; // siblings of $ref are ignored in OpenAPI 3.0
        }
        if self.ty.is_none() {
            self.ty = match obj.get("type") {
                Some(Value::String(t)) => Some(t.clone()),
                Some(Value::Array(ts)) => {
                    let mut ts: Vec<&str> = ts
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|t| *t != "null")
                        .collect();
                    ts.sort_unstable();
                    Some(ts.join("|"))
                }
                _ => None,
            };
        }
        if self.enum_values.is_none()
            && let Some(vals) = obj.get("enum").and_then(Value::as_array)
        {
            self.enum_values = Some(vals.iter().map(show).collect());
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                self.properties.entry(k.as_str()).or_insert(v);
            }
        }
        if let Some(req) = obj.get("required").and_then(Value::as_array) {
            self.required.extend(req.iter().filter_map(Value::as_str));
        }
        if self.items.is_none() {
            self.items = obj.get("items");
        }
        if self.additional.is_none() {
            self.additional = obj.get("additionalProperties");
        }
        for kind in ["oneOf", "anyOf"] {
            if let Some(vs) = obj.get(kind).and_then(Value::as_array)
                && self.variant_kind.is_none()
            {
                self.variant_kind = Some(kind);
                self.variants.extend(vs);
            }
        }
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            for member in all {
                self.absorb(doc, member, hops + 1);
            }
        }
    }

    /// Only an external ref: nothing to look into.
    fn is_opaque_ref(&self) -> bool {
        self.external.is_some()
            && self.ty.is_none()
            && self.properties.is_empty()
            && self.items.is_none()
    }

    /// The type as reported, compared between both sides.
    fn label(&self) -> String {
        if self.is_opaque_ref() {
            let r = self.external.unwrap_or_default();
            return format!("$ref {r}");
        }
        if let Some(t) = &self.ty {
            return t.clone();
        }
        if !self.properties.is_empty() {
            return "object".to_owned();
        }
        if self.items.is_some() {
            return "array".to_owned();
        }
        if let Some(kind) = self.variant_kind {
            return kind.to_owned();
        }
        match self.enum_values.as_deref() {
            Some([first, ..]) if first.starts_with('"') => "string".to_owned(),
            Some([first, ..]) if first.parse::<f64>().is_ok() => "number".to_owned(),
            _ => "any".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V1: &str = "2021-07-28";

    fn version(v: &str) -> Value {
        json!({ "name": "Version", "in": "header", "required": true, "schema": { "type": "string", "enum": [v] } })
    }

    /// A one-module spec set with the given paths and component schemas.
    fn set(paths: Value, schemas: Value) -> SpecSet {
        let doc =
            json!({ "openapi": "3.0.0", "paths": paths, "components": { "schemas": schemas } });
        SpecSet::from([("contacts".to_owned(), doc)])
    }

    /// `POST /things` taking `body` and answering `resp`, with extra parameters.
    fn post(params: Value, body: Value, resp: Value) -> Value {
        let mut all = vec![version(V1)];
        all.extend(params.as_array().cloned().unwrap_or_default());
        json!({ "/things": { "post": {
            "operationId": "create-thing",
            "parameters": all,
            "requestBody": { "required": true, "content": { "application/json": { "schema": body } } },
            "responses": {
                "201": { "description": "ok", "content": { "application/json": { "schema": resp } } },
                "400": { "description": "bad" }
            }
        } } })
    }

    fn obj(props: Value, required: &[&str]) -> Value {
        json!({ "type": "object", "properties": props, "required": required })
    }

    fn the_changes(d: &SpecDiff) -> Vec<Change> {
        let m = &d.modules["contacts"];
        assert_eq!(m.changed.len(), 1, "{d}");
        m.changed[0].changes.clone()
    }

    /// The single change of a diff, as (breaking, message).
    fn one_change(old: &SpecSet, new: &SpecSet) -> (bool, String) {
        let d = diff(old, new);
        let changes = the_changes(&d);
        assert_eq!(changes.len(), 1, "{d}");
        (changes[0].breaking, changes[0].message.clone())
    }

    fn simple_op(id: &str) -> Value {
        json!({ "operationId": id, "parameters": [version(V1)], "responses": { "200": { "description": "ok" } } })
    }

    #[test]
    fn identical_specs_are_empty() {
        let s = set(
            post(
                json!([]),
                obj(json!({ "a": { "type": "string" } }), &[]),
                json!({}),
            ),
            json!({}),
        );
        let d = diff(&s, &s);
        assert!(d.is_empty());
        assert_eq!(d.breaking_count(), 0);
        assert!(d.to_string().starts_with("0 modules added"));
    }

    #[test]
    fn operations_added_and_removed() {
        let old = set(
            json!({ "/a": { "get": simple_op("get-a") }, "/b": { "get": simple_op("get-b") } }),
            json!({}),
        );
        let new = set(
            json!({ "/a": { "get": simple_op("get-a"), "delete": simple_op("delete-a") } }),
            json!({}),
        );
        let d = diff(&old, &new);
        let m = &d.modules["contacts"];
        assert_eq!(m.added.len(), 1);
        assert_eq!(m.added[0].to_string(), "DELETE /a (delete-a)");
        assert_eq!(m.removed[0].route(), "GET /b");
        assert!(m.changed.is_empty() && m.moved.is_empty());
        assert_eq!((d.operations_added(), d.operations_removed()), (1, 1));
        assert_eq!(d.breaking_count(), 1, "only the removal breaks");
        let report = d.to_string();
        assert!(report.contains("  + DELETE /a (delete-a)\n"), "{report}");
        assert!(
            report.contains("  - GET /b (get-b) [BREAKING]\n"),
            "{report}"
        );
    }

    #[test]
    fn moved_operation_is_matched_by_operation_id() {
        let old = set(
            json!({ "/contacts/old": { "get": simple_op("get-thing") } }),
            json!({}),
        );
        let new = set(
            json!({ "/contacts/new": { "get": simple_op("get-thing") } }),
            json!({}),
        );
        let d = diff(&old, &new);
        let m = &d.modules["contacts"];
        assert!(m.added.is_empty() && m.removed.is_empty());
        assert_eq!(m.moved.len(), 1);
        assert!(m.moved[0].is_moved() && m.moved[0].is_breaking());
        assert_eq!(d.breaking_count(), 1);
        assert!(
            d.to_string().contains(
                "  > GET /contacts/old (get-thing) moved to GET /contacts/new [BREAKING]"
            )
        );
    }

    #[test]
    fn ambiguous_operation_ids_are_not_matched() {
        let old = set(
            json!({ "/x": { "get": simple_op("dup") }, "/y": { "get": simple_op("dup") } }),
            json!({}),
        );
        let new = set(json!({ "/z": { "get": simple_op("dup") } }), json!({}));
        let m = &diff(&old, &new).modules["contacts"];
        assert_eq!((m.added.len(), m.removed.len(), m.moved.len()), (1, 2, 0));
    }

    #[test]
    fn renamed_placeholder_is_a_move_with_parameter_changes() {
        let op = |name: &str, id: &str| {
            json!({ "operationId": id, "parameters": [version(V1),
                { "name": name, "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "ok" } } })
        };
        let old = set(
            json!({ "/c/{id}": { "get": op("id", "get-c") } }),
            json!({}),
        );
        let new = set(
            json!({ "/c/{contactId}": { "get": op("contactId", "get-contact") } }),
            json!({}),
        );
        let m = &diff(&old, &new).modules["contacts"];
        assert_eq!(m.moved.len(), 1);
        let msgs: Vec<&str> = m.moved[0]
            .changes
            .iter()
            .map(|c| c.message.as_str())
            .collect();
        assert!(msgs.contains(&"param path `id` removed"), "{msgs:?}");
        assert!(
            msgs.iter()
                .any(|s| s.starts_with("operationId get-c -> get-contact")),
            "{msgs:?}"
        );
    }

    #[test]
    fn new_required_parameter_breaks() {
        let body = obj(json!({}), &[]);
        let old = set(post(json!([]), body.clone(), json!({})), json!({}));
        let p = json!([{ "name": "locationId", "in": "query", "required": true, "schema": { "type": "string" } }]);
        let new = set(post(p, body, json!({})), json!({}));
        let (breaking, msg) = one_change(&old, &new);
        assert!(breaking);
        assert_eq!(msg, "param query `locationId` added (required, string)");
        assert_eq!(diff(&old, &new).breaking_count(), 1);
    }

    #[test]
    fn new_optional_parameter_does_not_break() {
        let body = obj(json!({}), &[]);
        let old = set(post(json!([]), body.clone(), json!({})), json!({}));
        let p = json!([{ "name": "limit", "in": "query", "required": false, "schema": { "type": "integer" } }]);
        let new = set(post(p, body, json!({})), json!({}));
        let (breaking, msg) = one_change(&old, &new);
        assert!(!breaking);
        assert_eq!(msg, "param query `limit` added (optional, integer)");
        let d = diff(&old, &new);
        assert_eq!(d.breaking_count(), 0);
        assert!(!d.to_string().contains("BREAKING"));
    }

    #[test]
    fn parameter_removed_retyped_or_made_required_breaks() {
        let p = |ty: &str, req: bool| json!([{ "name": "q", "in": "query", "required": req, "schema": { "type": ty } }]);
        let body = obj(json!({}), &[]);
        let base = set(post(p("string", false), body.clone(), json!({})), json!({}));
        let cases = [
            (
                set(post(json!([]), body.clone(), json!({})), json!({})),
                "param query `q` removed",
            ),
            (
                set(
                    post(p("integer", false), body.clone(), json!({})),
                    json!({}),
                ),
                "param query `q`: type string -> integer",
            ),
            (
                set(post(p("string", true), body.clone(), json!({})), json!({})),
                "param query `q` now required",
            ),
        ];
        for (new, want) in cases {
            assert_eq!(one_change(&base, &new), (true, want.to_owned()));
        }
        let relaxed = set(post(p("string", true), body.clone(), json!({})), json!({}));
        assert_eq!(
            one_change(&relaxed, &base),
            (false, "param query `q` now optional".to_owned())
        );
    }

    #[test]
    fn request_property_removed_breaks() {
        let old = set(
            post(
                json!([]),
                obj(
                    json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
                    &[],
                ),
                json!({}),
            ),
            json!({}),
        );
        let new = set(
            post(
                json!([]),
                obj(json!({ "a": { "type": "string" } }), &[]),
                json!({}),
            ),
            json!({}),
        );
        assert_eq!(
            one_change(&old, &new),
            (true, "request body: property `b` removed".to_owned())
        );
    }

    #[test]
    fn request_property_changes() {
        let body = |props: Value, req: &[&str]| {
            set(post(json!([]), obj(props, req), json!({})), json!({}))
        };
        let old = body(json!({ "a": { "type": "string" } }), &[]);
        let cases = [
            (
                body(json!({ "a": { "type": "string" } }), &["a"]),
                true,
                "request body: property `a` now required",
            ),
            (
                body(json!({ "a": { "type": "number" } }), &[]),
                true,
                "request body `a`: type string -> number",
            ),
            (
                body(
                    json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
                    &["b"],
                ),
                true,
                "request body: property `b` added (required)",
            ),
            (
                body(
                    json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
                    &[],
                ),
                false,
                "request body: property `b` added (optional)",
            ),
            (
                body(
                    json!({ "a": { "type": "string", "description": "new words", "example": "x" } }),
                    &[],
                ),
                false,
                "",
            ),
        ];
        for (new, breaking, want) in cases {
            if want.is_empty() {
                assert!(
                    diff(&old, &new).is_empty(),
                    "descriptions and examples are ignored"
                );
            } else {
                assert_eq!(one_change(&old, &new), (breaking, want.to_owned()));
            }
        }
    }

    #[test]
    fn response_property_added_does_not_break_but_removed_does() {
        let resp = |props: Value| {
            set(
                post(json!([]), obj(json!({}), &[]), obj(props, &[])),
                json!({}),
            )
        };
        let old = resp(json!({ "id": { "type": "string" } }));
        let new = resp(json!({ "id": { "type": "string" }, "name": { "type": "string" } }));
        assert_eq!(
            one_change(&old, &new),
            (
                false,
                "response 201: property `name` added (optional)".to_owned()
            )
        );
        assert_eq!(
            one_change(&new, &old),
            (true, "response 201: property `name` removed".to_owned())
        );
        let retyped = resp(json!({ "id": { "type": "integer" } }));
        assert_eq!(
            one_change(&old, &retyped),
            (true, "response 201 `id`: type string -> integer".to_owned())
        );
    }

    #[test]
    fn enum_values_in_requests() {
        let body = |vals: Value| {
            let schema = obj(json!({ "kind": { "type": "string", "enum": vals } }), &[]);
            set(post(json!([]), schema, json!({})), json!({}))
        };
        let old = body(json!(["a", "b"]));
        let fewer = body(json!(["a"]));
        let more = body(json!(["a", "b", "c"]));
        assert_eq!(
            one_change(&old, &fewer),
            (
                true,
                "request body `kind`: enum values removed: \"b\"".to_owned()
            )
        );
        assert_eq!(
            one_change(&old, &more),
            (
                false,
                "request body `kind`: enum values added: \"c\"".to_owned()
            )
        );
    }

    #[test]
    fn enum_values_in_responses_do_not_break() {
        let resp = |vals: Value| {
            let schema = obj(json!({ "kind": { "type": "string", "enum": vals } }), &[]);
            set(post(json!([]), obj(json!({}), &[]), schema), json!({}))
        };
        let d = diff(&resp(json!(["a", "b"])), &resp(json!(["a", "c"])));
        let changes = the_changes(&d);
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| !c.breaking));
    }

    #[test]
    fn version_change_breaks() {
        let op = |v: &str| json!({ "/a": { "get": { "operationId": "a", "parameters": [version(v)], "responses": {} } } });
        let (breaking, msg) =
            one_change(&set(op(V1), json!({})), &set(op("2021-04-15"), json!({})));
        assert!(breaking);
        assert_eq!(msg, "Version 2021-07-28 -> 2021-04-15");
    }

    #[test]
    fn operation_id_rename_is_reported() {
        let old = set(json!({ "/a": { "get": simple_op("getThing") } }), json!({}));
        let same_name = set(
            json!({ "/a": { "get": simple_op("get-thing") } }),
            json!({}),
        );
        let renamed = set(
            json!({ "/a": { "get": simple_op("fetch-thing") } }),
            json!({}),
        );
        assert!(!one_change(&old, &same_name).0);
        assert!(one_change(&old, &renamed).0);
        assert_eq!(sdk_name("getHTTPThing2Now"), "get_http_thing2_now");
    }

    #[test]
    fn local_refs_are_resolved() {
        let body = json!({ "$ref": "#/components/schemas/Body" });
        let paths = post(
            json!([]),
            body,
            json!({ "$ref": "#/components/schemas/Out" }),
        );
        let inner = |extra: bool| {
            let mut props = json!({ "name": { "type": "string" } });
            if extra {
                props["nick"] = json!({ "type": "string" });
            }
            obj(props, &[])
        };
        let schemas = |extra: bool| {
            json!({
                "Body": { "type": "object", "properties": { "who": { "$ref": "#/components/schemas/Who" } } },
                "Who": { "allOf": [ { "$ref": "#/components/schemas/WhoBase" } ], "description": "wrapped" },
                "WhoBase": inner(extra),
                "Out": { "type": "array", "items": { "$ref": "#/components/schemas/Who" } },
            })
        };
        let old = set(paths.clone(), schemas(false));
        let new = set(paths, schemas(true));
        let d = diff(&old, &new);
        let msgs: Vec<String> = the_changes(&d).into_iter().map(|c| c.message).collect();
        assert_eq!(
            msgs,
            [
                "request body: property `who.nick` added (optional)",
                "response 201: property `[].nick` added (optional)"
            ]
        );
        // An inline copy of the same schema is no change.
        let inline = set(
            post(
                json!([]),
                json!({ "type": "object", "properties": { "who": inner(false) } }),
                json!({ "type": "array", "items": inner(false) }),
            ),
            json!({}),
        );
        assert!(diff(&old, &inline).is_empty(), "{}", diff(&old, &inline));
    }

    #[test]
    fn external_refs_compare_by_string() {
        let with = |r: &str| {
            let schema = obj(json!({ "meta": { "$ref": r } }), &[]);
            set(post(json!([]), obj(json!({}), &[]), schema), json!({}))
        };
        let a = with("../common/common-schemas.json#/components/schemas/A");
        let b = with("../common/common-schemas.json#/components/schemas/B");
        assert!(diff(&a, &a).is_empty());
        let (breaking, msg) = one_change(&a, &b);
        assert!(breaking);
        assert!(
            msg.starts_with("response 201 `meta`: type $ref ../common/"),
            "{msg}"
        );
    }

    #[test]
    fn cyclic_refs_terminate() {
        let schemas = |extra: bool| {
            let mut node = json!({ "type": "object", "properties": {
                "children": { "type": "array", "items": { "$ref": "#/components/schemas/Node" } },
                "peer": { "$ref": "#/components/schemas/Peer" },
                "self": { "allOf": [{ "$ref": "#/components/schemas/Node" }] }
            } });
            if extra {
                node["properties"]["label"] = json!({ "type": "string" });
            }
            json!({
                "Node": node,
                "Peer": { "type": "object", "properties": { "back": { "$ref": "#/components/schemas/Node" } } },
                "Loop": { "allOf": [{ "$ref": "#/components/schemas/Loop" }] },
            })
        };
        let resp = json!({ "type": "object", "properties": {
            "root": { "$ref": "#/components/schemas/Node" },
            "loop": { "$ref": "#/components/schemas/Loop" }
        } });
        let paths = post(
            json!([]),
            json!({ "$ref": "#/components/schemas/Node" }),
            resp,
        );
        let old = set(paths.clone(), schemas(false));
        let new = set(paths, schemas(true));
        assert!(diff(&old, &old).is_empty());
        let d = diff(&old, &new);
        let msgs: Vec<String> = the_changes(&d).into_iter().map(|c| c.message).collect();
        assert!(
            msgs.contains(&"request body: property `label` added (optional)".to_owned()),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"response 201: property `root.label` added (optional)".to_owned()),
            "{msgs:?}"
        );
    }

    #[test]
    fn one_of_variants_match_by_schema_name() {
        let schemas = json!({ "A": obj(json!({ "a": { "type": "string" } }), &[]), "B": obj(json!({ "b": { "type": "string" } }), &[]) });
        let with = |refs: &[&str]| {
            let vs: Vec<Value> = refs
                .iter()
                .map(|r| json!({ "$ref": format!("#/components/schemas/{r}") }))
                .collect();
            set(
                post(
                    json!([]),
                    obj(json!({ "p": { "oneOf": vs } }), &[]),
                    json!({}),
                ),
                schemas.clone(),
            )
        };
        assert_eq!(
            one_change(&with(&["A"]), &with(&["A", "B"])),
            (false, "request body: variant `p<B>` added".to_owned())
        );
        assert_eq!(
            one_change(&with(&["A", "B"]), &with(&["B"])),
            (true, "request body: variant `p<A>` removed".to_owned())
        );
    }

    #[test]
    fn modules_added_and_removed() {
        let doc = |id: &str| json!({ "paths": { format!("/{id}"): { "get": simple_op(id) } } });
        let old = SpecSet::from([("a".to_owned(), doc("a")), ("gone".to_owned(), doc("gone"))]);
        let new = SpecSet::from([
            ("a".to_owned(), doc("a")),
            ("fresh".to_owned(), doc("fresh")),
        ]);
        let d = diff(&old, &new);
        assert_eq!(d.modules_added.keys().collect::<Vec<_>>(), ["fresh"]);
        assert_eq!(d.modules_removed.keys().collect::<Vec<_>>(), ["gone"]);
        assert!(d.modules.is_empty());
        assert_eq!(d.breaking_count(), 1);
        assert_eq!(
            d.summary(),
            "1 modules added (1 operations), 1 removed (1 operations); 0 operations added, 0 removed, 0 moved, 0 changed (0 breaking); 1 breaking in total"
        );
        assert!(
            d.to_string()
                .contains("\n- module gone (1 operations) [BREAKING]\n  - GET /gone (gone)\n")
        );
    }

    #[test]
    fn error_responses_are_ignored() {
        let op = |err: Value| {
            json!({ "/a": { "get": { "operationId": "a", "responses": {
            "200": { "description": "ok" }, "422": err } } } })
        };
        let old = set(op(json!({ "description": "x" })), json!({}));
        let new = set(
            op(
                json!({ "description": "y", "content": { "application/json": { "schema": { "type": "object" } } } }),
            ),
            json!({}),
        );
        assert!(diff(&old, &new).is_empty());
    }

    // ---- the real specs --------------------------------------------------------------------

    const SPECS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/highlevel-api-docs"
    );
    const SEP_2025: &str = "5f8673c820917a063275d2760072496a4a4a0aaa";
    const MAY_2026: &str = "d9cbcd5adb6df45c3efcfd09155592312e1ca4b5";
    const JUN_2026: &str = "0af86a4cbd48c66a4071c7e509d1079f9f10ed17";

    /// Every top-level `apps/*.json` of a pinned commit, or None when the copies are absent.
    fn load(commit: &str) -> Option<SpecSet> {
        let dir = std::path::Path::new(SPECS).join(commit).join("apps");
        let entries = std::fs::read_dir(&dir).ok()?;
        let mut out = SpecSet::new();
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).expect("read spec");
                let stem = path
                    .file_stem()
                    .expect("stem")
                    .to_string_lossy()
                    .into_owned();
                out.insert(stem, serde_json::from_str(&text).expect("spec is JSON"));
            }
        }
        Some(out)
    }

    fn load_pair(old: &str, new: &str) -> Option<(SpecSet, SpecSet)> {
        match (load(old), load(new)) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => {
                eprintln!("skipping: spec copies not found under {SPECS}");
                None
            }
        }
    }

    #[test]
    fn real_specs_may_to_june_2026() {
        let Some((old, new)) = load_pair(MAY_2026, JUN_2026) else {
            return;
        };
        assert_eq!((old.len(), new.len()), (41, 41));
        let d = diff(&old, &new);
        println!("{}", d.summary());
        assert!(d.modules_added.is_empty() && d.modules_removed.is_empty());
        // Only voice-ai.json differs: its two voice-catalogue operations were dropped.
        assert_eq!(d.modules.keys().collect::<Vec<_>>(), ["voice-ai"]);
        let removed: Vec<String> = d.modules["voice-ai"]
            .removed
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            removed,
            [
                "GET /voice-ai/voices (get-voices)",
                "GET /voice-ai/voices/{voiceId} (get-voice)"
            ]
        );
        assert_eq!(
            (
                d.operations_added(),
                d.operations_moved(),
                d.operations_changed()
            ),
            (0, 0, 0)
        );
        assert_eq!(d.breaking_count(), 2);
    }

    #[test]
    fn real_specs_september_2025_to_june_2026() {
        let Some((old, new)) = load_pair(SEP_2025, JUN_2026) else {
            return;
        };
        assert_eq!(old.len(), 36);
        let d = diff(&old, &new);
        println!("{}", d.summary());
        let added: Vec<(&str, usize)> = d
            .modules_added
            .iter()
            .map(|(k, v)| (k.as_str(), v.len()))
            .collect();
        assert_eq!(
            added,
            [
                ("ad-manager", 94),
                ("affiliate-manager", 4),
                ("agent-studio", 11),
                ("brand-boards", 5),
                ("conversation-ai", 12),
                ("knowledge-base", 14)
            ]
        );
        // agencies.json had an empty `paths` object and is gone.
        assert_eq!(
            d.modules_removed
                .iter()
                .map(|(k, v)| (k.as_str(), v.len()))
                .collect::<Vec<_>>(),
            [("agencies", 0)]
        );
        assert_eq!(
            (
                d.operations_added(),
                d.operations_removed(),
                d.operations_moved()
            ),
            (27, 0, 0)
        );
        // Verified with an independent script: 76 operations at unchanged routes differ once
        // descriptions, examples, operationIds and error responses are set aside.
        assert_eq!(d.operations_changed(), 76);
        let calendars = &d.modules["calendars"];
        assert!(
            calendars
                .added
                .iter()
                .any(|o| o.to_string() == "POST /calendars/schedules (createSchedule)")
        );

        let changes_of = |module: &str, route: &str| -> Vec<Change> {
            let m = &d.modules[module];
            m.changed
                .iter()
                .find(|c| c.new.route() == route)
                .map(|c| c.changes.clone())
                .unwrap_or_default()
        };
        let charge = changes_of("marketplace", "POST /marketplace/billing/charges");
        assert_eq!(
            charge,
            [Change {
                breaking: true,
                message: "request body `units`: type string -> number".into()
            }]
        );
        // Upstream dropped the declaration of the `{type}` placeholder's parameter.
        let tags = changes_of("contacts", "POST /contacts/bulk/tags/update/{type}");
        assert_eq!(
            tags,
            [Change {
                breaking: true,
                message: "param path `type` removed".into()
            }]
        );
        let report = d.to_string();
        assert!(report.lines().count() > 400);
        assert_eq!(report, diff(&old, &new).to_string(), "deterministic");
    }
}
