//! A spec cut down to one operation or one component, to pin a generator failure on it.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::openapi::{collect_refs, operation_pointer};

/// The spec reduced to one operation and the components it reaches, to pin a failure on it.
pub fn only_operation(spec: &Value, path: &str, method: &str) -> Value {
    let mut single = spec.clone();
    let op = spec
        .pointer(&operation_pointer(path, method))
        .cloned()
        .unwrap_or(Value::Null);
    let mut reached = BTreeSet::new();
    collect_refs(spec, &op, &mut reached);
    if let Some(paths) = single.get_mut("paths").and_then(Value::as_object_mut) {
        paths.clear();
        paths.insert(path.to_owned(), json!({ method: op }));
    }
    keep_components(&mut single, &reached);
    single
}

/// The spec reduced to one component schema and those it reaches, with no operations.
pub fn only_component(spec: &Value, name: &str) -> Value {
    let mut single = spec.clone();
    let mut reached = BTreeSet::from([name.to_owned()]);
    if let Some(schema) = spec.pointer(&format!("/components/schemas/{name}")) {
        collect_refs(spec, schema, &mut reached);
    }
    if let Some(paths) = single.get_mut("paths").and_then(Value::as_object_mut) {
        paths.clear();
    }
    keep_components(&mut single, &reached);
    single
}

fn keep_components(spec: &mut Value, keep: &BTreeSet<String>) {
    if let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.retain(|name, _| keep.contains(name));
    }
}
