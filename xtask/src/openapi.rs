//! Walking an OpenAPI 3.0 document as JSON: its operations, its schemas, local `$ref`s and JSON
//! pointers. The one home of these for the repairs, the pagination table, the spec diff and the
//! conformance calls.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The operation keys of a path item.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Where component schemas live; a local schema `$ref` starts with this.
pub const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// How many `$ref`s in a row [`resolve`] follows before giving up (a chain that long is a
/// cycle in practice).
pub const MAX_REF_HOPS: usize = 16;

/// Iterates (path, method, operation) in document order.
pub fn operations(spec: &Value) -> impl Iterator<Item = (&str, &str, &Value)> {
    spec.get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|paths| paths.iter())
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|item| item.iter())
                .filter(|(method, _)| METHODS.contains(&method.as_str()))
                .map(move |(method, op)| (path.as_str(), method.as_str(), op))
        })
}

/// Calls `f` with (path, method, operation) for every operation, in document order.
pub fn for_each_operation(
    spec: &mut Value,
    mut f: impl FnMut(&str, &str, &mut Map<String, Value>),
) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            if let Some(op) = op.as_object_mut() {
                f(path, method, op);
            }
        }
    }
}

/// Applies `f` to every schema object in the document (components, parameters, bodies).
pub fn for_each_schema(node: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    match node {
        Value::Object(map) => {
            f(map);
            for (key, value) in map.iter_mut() {
                // `example`/`examples`/`enum`/`default` hold data, not schemas.
                if matches!(key.as_str(), "example" | "examples" | "enum" | "default") {
                    continue;
                }
                for_each_schema(value, f);
            }
        }
        Value::Array(items) => {
            for item in items {
                for_each_schema(item, f);
            }
        }
        _ => {}
    }
}

/// The target of a local `$ref` (`#/components/...`), if it points at something.
pub fn local_target<'a>(spec: &'a Value, reference: &str) -> Option<&'a Value> {
    reference.strip_prefix('#').and_then(|p| spec.pointer(p))
}

/// `node` with its local `$ref`s followed (at most [`MAX_REF_HOPS`]); a reference into another
/// file or to nothing stops the walk where it is.
pub fn resolve<'a>(spec: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..MAX_REF_HOPS {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match local_target(spec, reference) {
            Some(next) => node = next,
            None => break,
        }
    }
    node
}

/// `name` escaped as one JSON pointer segment (`/contacts/{id}` → `~1contacts~1{id}`).
pub fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The JSON pointer of an operation (`/paths/~1contacts~1{id}/get`).
pub fn operation_pointer(path: &str, method: &str) -> String {
    format!("/paths/{}/{method}", pointer_token(path))
}

/// The operation's own `parameters` (not the path item's).
pub fn params(op: &Value) -> impl Iterator<Item = &Value> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Whether `param` is the header `name` (header names are case-insensitive: phone-system
/// spells `Version` as `version`).
pub fn is_header(param: &Value, name: &str) -> bool {
    param.get("in").and_then(Value::as_str) == Some("header")
        && param
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// The `{variables}` of a path template, in order.
pub fn template_vars(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(v, _)| v.to_owned()))
        .collect()
}

/// Whether `value` is of the JSON Schema `type` named (any value when none is).
pub fn value_fits_type(value: &Value, ty: Option<&str>) -> bool {
    match ty {
        Some("string") => value.is_string(),
        Some("number") => value.is_number(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    }
}

/// The names of the component schemas `node` reaches through local `$ref`s, transitively.
pub fn collect_refs(spec: &Value, node: &Value, acc: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
                && acc.insert(name.to_owned())
                && let Some(target) = spec.pointer(&format!("/components/schemas/{name}"))
            {
                collect_refs(spec, target, acc);
            }
            for value in map.values() {
                collect_refs(spec, value, acc);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(spec, i, acc)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resolve_follows_local_chains_and_stops_at_foreign_or_missing_targets() {
        let spec = json!({ "components": { "schemas": {
            "A": { "$ref": "#/components/schemas/B" },
            "B": { "type": "string" },
            "Loop": { "$ref": "#/components/schemas/Loop" } } } });
        let a = json!({ "$ref": "#/components/schemas/A" });
        assert_eq!(resolve(&spec, &a), &json!({ "type": "string" }));
        let foreign = json!({ "$ref": "../common/common-schemas.json#/components/schemas/X" });
        assert_eq!(resolve(&spec, &foreign), &foreign);
        let missing = json!({ "$ref": "#/components/schemas/Nope" });
        assert_eq!(resolve(&spec, &missing), &missing);
        let looping = json!({ "$ref": "#/components/schemas/Loop" });
        assert_eq!(
            resolve(&spec, &looping),
            &json!({ "$ref": "#/components/schemas/Loop" })
        );
    }

    #[test]
    fn operations_skip_path_item_keys_that_are_not_methods() {
        let spec = json!({ "paths": { "/a/{id}": {
            "parameters": [], "get": { "operationId": "g" }, "post": { "operationId": "p" } } } });
        let ops: Vec<_> = operations(&spec).map(|(p, m, _)| (p, m)).collect();
        assert_eq!(ops, [("/a/{id}", "get"), ("/a/{id}", "post")]);
        assert_eq!(operation_pointer("/a/{id}", "get"), "/paths/~1a~1{id}/get");
        assert_eq!(template_vars("/a/{id}/b/{other}"), ["id", "other"]);
    }
}
