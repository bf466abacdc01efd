//! Schemas typify refuses or turns into code that does not compile: `type: any`, enums that
//! contradict their type, examples that contradict their type, invalid defaults, dangling
//! references, properties that collide once snake_cased.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToSnakeCase;
use serde_json::{Value, json};

use crate::openapi::{for_each_schema, value_fits_type};

/// `"type": "any"` is not an OpenAPI type; an untyped schema means the same.
pub fn untype_any(spec: &mut Value) {
    for_each_schema(spec, &mut |schema| {
        if schema.get("type").and_then(Value::as_str) == Some("any") {
            schema.remove("type");
        }
    });
}

/// Enum values that do not fit the declared type (`type: number` with a list of country codes)
/// or repeat are dropped; an enum left empty is dropped entirely.
pub fn repair_enums(spec: &mut Value) {
    for_each_schema(spec, &mut |schema| {
        let ty = schema
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) else {
            return;
        };
        let mut seen = Vec::new();
        values.retain(|v| {
            if !value_fits_type(v, ty.as_deref()) || v.is_null() || seen.contains(v) {
                return false;
            }
            seen.push(v.clone());
            true
        });
        if values.is_empty() {
            schema.remove("enum");
        }
    });
}

/// Where a plain schema's `example` contradicts its `type` (`type: object` or `boolean` with
/// `"example": "published"`, an array of strings whose example holds objects), nobody knows
/// which of the two the API means, so the schema takes any JSON: users can send either, and
/// either decodes. (The conformance mock checks requests against the literal upstream type.)
/// Schemas with structure of their own (properties, composition) are left alone.
pub fn untype_contradicted_schemas(spec: &mut Value) {
    for_each_schema(spec, &mut |schema| {
        let structured = [
            "properties",
            "allOf",
            "anyOf",
            "oneOf",
            "$ref",
            "enum",
            "additionalProperties",
        ]
        .iter()
        .any(|k| schema.contains_key(*k));
        let ty = schema
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(example) = schema.get("example").cloned() else {
            return;
        };
        match (ty.as_deref(), &example) {
            (Some("object" | "boolean"), Value::String(_)) if !structured => {
                schema.remove("type");
                schema.remove("format");
            }
            (Some("number" | "integer"), Value::String(text))
                if !structured && text.trim().parse::<f64>().is_err() =>
            {
                schema.remove("type");
                schema.remove("format");
            }
            (Some("array"), _) => {
                let example_holds_objects = match &example {
                    Value::Object(_) => true,
                    Value::Array(items) => items.first().is_some_and(Value::is_object),
                    _ => false,
                };
                let scalar_items = schema
                    .get("items")
                    .and_then(|i| i.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| matches!(t, "string" | "number" | "integer" | "boolean"));
                if example_holds_objects && scalar_items {
                    schema.insert("items".into(), json!({}));
                }
            }
            _ => {}
        }
    });
}

/// A `default` that breaks its own schema makes typify refuse the module; the server applies
/// its defaults anyway, so dropping one loses nothing on the wire.
pub fn drop_invalid_defaults(spec: &mut Value) {
    for_each_schema(spec, &mut |schema| {
        let Some(default) = schema.get("default") else {
            return;
        };
        let ty = schema.get("type").and_then(Value::as_str);
        // Only a plain value of a plain type can be checked here; typify checks composite
        // defaults against the whole schema and refuses the module when they break it.
        let fits = matches!(ty, Some("string" | "number" | "integer" | "boolean"))
            && value_fits_type(default, ty)
            && schema
                .get("enum")
                .and_then(Value::as_array)
                .is_none_or(|e| e.contains(default));
        if !fits {
            schema.remove("default");
        }
    });
}

/// A local `$ref` to a component that does not exist is replaced by an untyped schema.
pub fn stub_missing_refs(spec: &mut Value) {
    let known: BTreeSet<String> = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|s| {
            s.keys()
                .map(|k| format!("#/components/schemas/{k}"))
                .collect()
        })
        .unwrap_or_default();
    for_each_schema(spec, &mut |schema| {
        let dangling = schema
            .get("$ref")
            .and_then(Value::as_str)
            .is_some_and(|r| r.starts_with("#/components/schemas/") && !known.contains(r));
        if dangling {
            schema.clear();
        }
    });
}

/// Two properties that map to one Rust field (`_id` and `id`; v3 contacts' `fieldValue` and
/// its deprecated alias `field_value`) do not compile. The one kept is the first of: not
/// `deprecated`, already snake_case, declared first.
pub fn drop_colliding_properties(spec: &mut Value) {
    for_each_schema(spec, &mut |schema| {
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            return;
        };
        let mut by_field: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in props.keys() {
            by_field
                .entry(name.to_snake_case())
                .or_default()
                .push(name.clone());
        }
        let mut dropped = Vec::new();
        for (field, names) in by_field {
            if names.len() < 2 {
                continue;
            }
            let deprecated = |n: &String| {
                props.get(n).and_then(|p| p.get("deprecated")) == Some(&Value::Bool(true))
            };
            let keep = names
                .iter()
                .min_by_key(|n| (deprecated(n), **n != field))
                .unwrap_or(&names[0])
                .clone();
            dropped.extend(names.into_iter().filter(|n| *n != keep));
        }
        for name in &dropped {
            props.remove(name);
        }
        if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| r.as_str().is_none_or(|r| !dropped.iter().any(|d| d == r)));
        }
    });
}

/// typify turns a `required` name with no property into a required `serde_json::Value` field
/// (v3 social-planner: `platform`, and `_id` beside an `id` property, which collides); an
/// object that lists its properties cannot require one it does not describe. Schemas composed
/// with `allOf`/`anyOf`/`oneOf` are left alone (a part may require a sibling's property).
pub fn drop_required_without_property(spec: &mut Value) {
    for_each_schema(spec, &mut |schema| {
        if ["allOf", "anyOf", "oneOf"]
            .iter()
            .any(|k| schema.contains_key(*k))
        {
            return;
        }
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        let names: BTreeSet<String> = props.keys().cloned().collect();
        if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| r.as_str().is_none_or(|r| names.contains(r)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_contradicted_by_their_examples_take_any_json() {
        let mut spec = json!({ "components": { "schemas": { "Post": { "type": "object", "properties": {
            "status": { "type": "object", "example": "published" },
            "url": { "type": "number", "example": "https://example.com" },
            "count": { "type": "number", "example": "12" },
            "files": { "type": "array", "items": { "type": "string" }, "example": { "name": "a" } },
            "meta": { "type": "object", "example": { "a": 1 } } } } } } });
        untype_contradicted_schemas(&mut spec);
        let props = &spec["components"]["schemas"]["Post"]["properties"];
        assert_eq!(props["status"], json!({ "example": "published" }));
        assert_eq!(props["url"], json!({ "example": "https://example.com" }));
        assert_eq!(
            props["count"]["type"], "number",
            "a numeric example fits a number"
        );
        assert_eq!(props["files"]["items"], json!({}));
        assert_eq!(props["meta"]["type"], "object");
        assert_eq!(
            spec["components"]["schemas"]["Post"]["type"], "object",
            "structured schemas stay"
        );
    }

    #[test]
    fn type_any_is_untyped() {
        let mut spec = json!({ "components": { "schemas": { "S": { "type": "object", "properties": { "x": { "type": "any" } } } } } });
        untype_any(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["S"]["properties"]["x"],
            json!({})
        );
    }

    #[test]
    fn enums_keep_only_distinct_values_of_their_type() {
        let mut spec = json!({ "components": { "schemas": {
            "Country": { "type": "number", "enum": [["US", "CA"]] },
            "Dup": { "type": "string", "enum": ["a", "b", "a"] } } } });
        repair_enums(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["Country"],
            json!({ "type": "number" })
        );
        assert_eq!(
            spec["components"]["schemas"]["Dup"]["enum"],
            json!(["a", "b"])
        );
    }

    #[test]
    fn invalid_defaults_are_dropped_valid_ones_kept() {
        let mut spec = json!({ "components": { "schemas": {
            "A": { "type": "number", "default": "10" },
            "B": { "type": "string", "enum": ["x"], "default": "y" },
            "C": { "type": "string", "default": "ok" },
            "D": { "allOf": [{ "$ref": "#/components/schemas/C" }], "default": { "type": "forever" } } } } });
        drop_invalid_defaults(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["A"],
            json!({ "type": "number" })
        );
        assert_eq!(
            spec["components"]["schemas"]["B"],
            json!({ "type": "string", "enum": ["x"] })
        );
        assert_eq!(spec["components"]["schemas"]["C"]["default"], "ok");
        assert_eq!(spec["components"]["schemas"]["D"].get("default"), None);
    }

    #[test]
    fn dangling_local_refs_become_untyped() {
        let mut spec = json!({ "components": { "schemas": {
            "A": { "type": "object", "properties": {
                "gone": { "$ref": "#/components/schemas/BadRequestDTO" },
                "here": { "$ref": "#/components/schemas/A" } } } } } });
        stub_missing_refs(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["A"]["properties"]["gone"],
            json!({})
        );
        assert_eq!(
            spec["components"]["schemas"]["A"]["properties"]["here"],
            json!({ "$ref": "#/components/schemas/A" })
        );
    }

    #[test]
    fn colliding_properties_keep_the_snake_case_one() {
        let mut spec = json!({ "components": { "schemas": { "A": { "type": "object", "required": ["_id", "name"],
            "properties": { "_id": { "type": "string" }, "id": { "type": "string" }, "name": { "type": "string" } } } } } });
        drop_colliding_properties(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["A"],
            json!({ "type": "object", "required": ["name"], "properties": { "id": { "type": "string" }, "name": { "type": "string" } } })
        );
    }

    #[test]
    fn colliding_properties_keep_the_one_not_deprecated() {
        let mut spec = json!({ "components": { "schemas": { "F": { "type": "object", "properties": {
            "fieldValue": { "type": "string" }, "field_value": { "type": "string", "deprecated": true } } } } } });
        drop_colliding_properties(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["F"]["properties"],
            json!({ "fieldValue": { "type": "string" } })
        );
    }

    #[test]
    fn required_names_without_property_are_dropped() {
        let mut spec = json!({ "components": { "schemas": {
            "A": { "type": "object", "required": ["name", "platform"], "properties": { "name": { "type": "string" } } },
            "B": { "allOf": [{ "$ref": "#/components/schemas/A" }], "required": ["platform"], "properties": {} } } } });
        drop_required_without_property(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["A"]["required"],
            json!(["name"])
        );
        assert_eq!(
            spec["components"]["schemas"]["B"]["required"],
            json!(["platform"])
        );
    }
}
