//! The pinned upstream specs merged into one document, so one Prism process serves them all.
//!
//! Nothing in a schema, parameter or response changes; only names move. The modules share no
//! paths, but their component names collide (`BadRequestDTO` is in most of them), so each
//! module's schemas are renamed `<module>__<Name>`, the shared `../common/` schemas
//! `common__<Name>`, and every reference follows. A reference upstream leaves dangling is
//! pointed at the shared schema of that name when there is one (what the author meant), or at
//! an empty schema; each such repair is reported.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::Result;
use crate::config::{Project, SpecSet};
use crate::specs;

const COMMON_REF: &str = "../common/common-schemas.json#/components/schemas/";
const LOCAL_REF: &str = "#/components/schemas/";
const COMMON: &str = "common";

/// The merged document and the dangling references it had to repair.
pub struct Merged {
    pub document: Value,
    pub repaired_references: Vec<String>,
}

/// Merges every pinned module spec of `set` and its common schemas, read verified from the cache.
pub fn merged_specs(project: &Project, set: &SpecSet) -> Result<Merged> {
    let common = specs::read_json(project, &set.common)?;
    let mut modules = Vec::new();
    for module in &set.modules {
        modules.push((
            module.name.clone(),
            specs::read_json(project, &module.spec)?,
        ));
    }
    merge(&common, &modules)
}

/// Merges `modules` (name, document) and `common` into one OpenAPI document.
pub fn merge(common: &Value, modules: &[(String, Value)]) -> Result<Merged> {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut security_schemes = Map::new();
    for (name, schema) in component_schemas(common) {
        schemas.insert(format!("{COMMON}__{name}"), renamed(schema, COMMON));
    }
    for (module, doc) in modules {
        for (path, item) in doc
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if paths.contains_key(path) {
                return Err(format!(
                    "merging specs: path {path} of module `{module}` is also in another module"
                )
                .into());
            }
            paths.insert(path.clone(), renamed(item, module));
        }
        for (name, schema) in component_schemas(doc) {
            schemas.insert(format!("{module}__{name}"), renamed(schema, module));
        }
        for (name, scheme) in doc
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(known) = security_schemes.get(name)
                && !same_scheme(known, scheme)
            {
                return Err(format!(
                    "merging specs: security scheme `{name}` of module `{module}` differs from another module's"
                )
                .into());
            }
            security_schemes
                .entry(name.clone())
                .or_insert_with(|| scheme.clone());
        }
    }
    let mut repaired = BTreeSet::new();
    let mut stubs = BTreeSet::new();
    let mut document = json!({
        "openapi": "3.0.3",
        "info": { "title": "HighLevel API v2 (all modules, merged for the conformance mock)", "version": "pinned" },
        "paths": paths,
        "components": { "schemas": schemas, "securitySchemes": security_schemes },
    });
    let known: BTreeSet<String> = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    repair_dangling(&mut document, &known, &mut repaired, &mut stubs);
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for stub in &stubs {
            schemas.insert(stub.clone(), json!({}));
        }
    }
    Ok(Merged {
        document,
        repaired_references: repaired.into_iter().collect(),
    })
}

fn component_schemas(doc: &Value) -> impl Iterator<Item = (&String, &Value)> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// Only what authenticates matters; the modules word their descriptions differently.
fn same_scheme(a: &Value, b: &Value) -> bool {
    ["type", "scheme"]
        .iter()
        .all(|key| a.get(key) == b.get(key))
}

/// `node` with its schema references renamed into the merged namespace of `module`.
fn renamed(node: &Value, module: &str) -> Value {
    match node {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => {
                            Value::String(rename_ref(target, module))
                        }
                        _ => renamed(value, module),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| renamed(v, module)).collect()),
        other => other.clone(),
    }
}

fn rename_ref(target: &str, module: &str) -> String {
    if let Some(name) = target.strip_prefix(COMMON_REF) {
        format!("{LOCAL_REF}{COMMON}__{name}")
    } else if let Some(name) = target.strip_prefix(LOCAL_REF) {
        format!("{LOCAL_REF}{module}__{name}")
    } else {
        target.to_owned()
    }
}

fn repair_dangling(
    node: &mut Value,
    known: &BTreeSet<String>,
    repaired: &mut BTreeSet<String>,
    stubs: &mut BTreeSet<String>,
) {
    match node {
        Value::Object(fields) => {
            if let Some(Value::String(target)) = fields.get_mut("$ref")
                && let Some(name) = target.strip_prefix(LOCAL_REF)
                && !known.contains(name)
            {
                let name = name.to_owned();
                let shared = name
                    .split_once("__")
                    .map(|(_, bare)| format!("{COMMON}__{bare}"))
                    .filter(|shared| known.contains(shared));
                match shared {
                    Some(shared) => {
                        repaired.insert(format!("{name} -> {shared}"));
                        *target = format!("{LOCAL_REF}{shared}");
                    }
                    None => {
                        repaired.insert(format!("{name} -> empty schema"));
                        stubs.insert(name);
                    }
                }
            }
            for value in fields.values_mut() {
                repair_dangling(value, known, repaired, stubs);
            }
        }
        Value::Array(items) => {
            for item in items {
                repair_dangling(item, known, repaired, stubs);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_names_are_namespaced_and_dangling_refs_repaired() {
        let common =
            json!({ "components": { "schemas": { "BadRequestDTO": { "type": "object" } } } });
        let module = |path: &str, extra_ref: &str| {
            json!({
                "paths": { path: { "get": { "responses": {
                    "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Dto" } } } },
                    "400": { "content": { "application/json": { "schema": { "$ref": "../common/common-schemas.json#/components/schemas/BadRequestDTO" } } } },
                    "401": { "content": { "application/json": { "schema": { "$ref": extra_ref } } } }
                } } } },
                "components": { "schemas": { "Dto": { "type": "string" } },
                    "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": path } } }
            })
        };
        let merged = merge(
            &common,
            &[
                (
                    "a".into(),
                    module("/a", "#/components/schemas/BadRequestDTO"),
                ),
                ("b".into(), module("/b", "#/components/schemas/Missing")),
            ],
        )
        .expect("merges");
        let doc = &merged.document;
        let ok = |path: &str, status: &str| {
            doc.pointer(&format!(
                "/paths/{path}/get/responses/{status}/content/application~1json/schema/$ref"
            ))
            .and_then(Value::as_str)
            .map(str::to_owned)
        };
        assert_eq!(
            ok("~1a", "200").as_deref(),
            Some("#/components/schemas/a__Dto")
        );
        assert_eq!(
            ok("~1b", "200").as_deref(),
            Some("#/components/schemas/b__Dto")
        );
        assert_eq!(
            ok("~1a", "400").as_deref(),
            Some("#/components/schemas/common__BadRequestDTO")
        );
        assert_eq!(
            ok("~1a", "401").as_deref(),
            Some("#/components/schemas/common__BadRequestDTO")
        );
        assert_eq!(
            ok("~1b", "401").as_deref(),
            Some("#/components/schemas/b__Missing")
        );
        assert_eq!(
            doc.pointer("/components/schemas/b__Missing"),
            Some(&json!({}))
        );
        assert_eq!(
            merged.repaired_references,
            vec![
                "a__BadRequestDTO -> common__BadRequestDTO".to_owned(),
                "b__Missing -> empty schema".to_owned()
            ]
        );
    }

    #[test]
    fn a_path_in_two_modules_is_an_error() {
        let doc = json!({ "paths": { "/same": {} } });
        let err = merge(&json!({}), &[("a".into(), doc.clone()), ("b".into(), doc)])
            .err()
            .expect("duplicate path")
            .to_string();
        assert!(err.contains("/same") && err.contains("`b`"), "{err}");
    }
}
