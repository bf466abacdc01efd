//! What changed in one operation present on both sides, and whether it breaks callers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Change;
use super::matching::OpIn;
use crate::openapi::{MAX_REF_HOPS, local_target, resolve};
use crate::repair::sdk_method_name;

/// Nesting limit for schema comparison, a second guard next to the cycle check.
const MAX_DEPTH: usize = 48;

/// How many enum values a change line lists before eliding the rest.
const MAX_LISTED: usize = 10;

/// Parameter identity: (`in`, name), header names case-insensitive.
fn params<'a>(doc: &'a Value, op: &OpIn<'a>) -> BTreeMap<(String, String), &'a Value> {
    let mut out = BTreeMap::new();
    for list in [op.shared_params, op.body.get("parameters")]
        .into_iter()
        .flatten()
    {
        for p in list.as_array().into_iter().flatten() {
            let p = resolve(doc, p);
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

pub(super) fn compare_operations(
    old_doc: &Value,
    o: &OpIn<'_>,
    new_doc: &Value,
    n: &OpIn<'_>,
) -> Vec<Change> {
    let mut c = Cmp {
        old: old_doc,
        new: new_doc,
        active: Vec::new(),
        out: Vec::new(),
    };

    match (&o.op.operation_id, &n.op.operation_id) {
        (a, b) if a == b => {}
        (a, b) => {
            let renamed = a.as_deref().map(sdk_method_name) != b.as_deref().map(sdk_method_name);
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
        let old = old.map(|b| resolve(self.old, b));
        let new = new.map(|b| resolve(self.new, b));
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
                .map(|(code, v)| (code.clone(), resolve(doc, v)))
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
        if hops > MAX_REF_HOPS {
            return;
        }
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            if r.starts_with('#') {
                if self.followed.contains(&r) {
                    return; // a schema that includes itself through allOf
                }
                self.followed.push(r);
                match local_target(doc, r) {
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
