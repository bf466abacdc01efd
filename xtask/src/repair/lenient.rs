//! Lenient responses: what the server sends beyond or beside the spec still decodes, while
//! request bodies stay strict.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::openapi::{SCHEMA_PREFIX, collect_refs, for_each_operation, operations};

fn retarget_refs(node: &mut Value, renamed: &BTreeMap<String, String>) {
    match node {
        Value::Object(map) => {
            let target = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
                .and_then(|name| renamed.get(name));
            if let Some(target) = target {
                map.insert(
                    "$ref".into(),
                    Value::String(format!("{SCHEMA_PREFIX}{target}")),
                );
            }
            map.values_mut().for_each(|v| retarget_refs(v, renamed));
        }
        Value::Array(items) => items.iter_mut().for_each(|i| retarget_refs(i, renamed)),
        _ => {}
    }
}

/// Strips what makes a response fail to decode when the server strays from the spec: every
/// field becomes optional (missing or `null` decode as `None`), extra fields and unconstrained
/// strings are accepted, non-string enums become plain values. Does not follow `$ref`s.
fn loosen_schema(node: &mut Value) {
    let Value::Object(schema) = node else {
        return;
    };
    if schema.contains_key("$ref") {
        return;
    }
    schema.remove("required");
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        schema.remove("additionalProperties");
    }
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if schema.get("format").and_then(Value::as_str) != Some("binary") {
        schema.remove("format");
    }
    for key in [
        "pattern",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minProperties",
        "maxProperties",
        "not",
    ] {
        schema.remove(key);
    }
    let string_enum = ty.as_deref() == Some("string")
        && schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|e| e.iter().all(Value::is_string));
    if !string_enum {
        schema.remove("enum");
    }
    // typify gives optional arrays `#[serde(default)] Vec<T>`, which refuses `null`.
    if ty.as_deref() == Some("array") {
        schema.insert("nullable".into(), Value::Bool(true));
    }
    for key in ["properties", "patternProperties"] {
        if let Some(props) = schema.get_mut(key).and_then(Value::as_object_mut) {
            props.values_mut().for_each(loosen_schema);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = schema.get_mut(key) {
            loosen_schema(child);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(children) = schema.get_mut(key).and_then(Value::as_array_mut) {
            children.iter_mut().for_each(loosen_schema);
        }
    }
}

/// Responses decode leniently while request bodies stay strict. Components reached only from
/// responses are loosened in place; those shared with requests get a loosened copy named
/// `<Name>Response` that the responses use instead.
pub fn lenient_responses(spec: &mut Value) {
    let mut request_side = BTreeSet::new();
    let mut response_side = BTreeSet::new();
    for (_, _, op) in operations(spec) {
        for key in ["requestBody", "parameters"] {
            if let Some(node) = op.get(key) {
                collect_refs(spec, node, &mut request_side);
            }
        }
        if let Some(node) = op.get("responses") {
            collect_refs(spec, node, &mut response_side);
        }
    }
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        for_each_operation(spec, |_, _, op| {
            if let Some(responses) = op.get_mut("responses") {
                loosen_response_bodies(responses);
            }
        });
        return;
    };
    let mut renamed = BTreeMap::new();
    for name in response_side.intersection(&request_side) {
        let mut copy = format!("{name}Response");
        while schemas.contains_key(&copy) || renamed.values().any(|v| *v == copy) {
            copy.push_str("Response");
        }
        renamed.insert(name.clone(), copy);
    }
    for (original, copy) in &renamed {
        if let Some(schema) = schemas.get(original).cloned() {
            schemas.insert(copy.clone(), schema);
        }
    }
    for name in &response_side {
        let target = renamed.get(name).unwrap_or(name);
        if let Some(schema) = schemas.get_mut(target) {
            retarget_refs(schema, &renamed);
        }
    }
    let resolved = schemas.clone();
    for name in &response_side {
        let target = renamed.get(name).unwrap_or(name);
        if let Some(schema) = schemas.get_mut(target) {
            merge_unions(schema, &resolved);
            loosen_schema(schema);
        }
    }
    for_each_operation(spec, |_, _, op| {
        if let Some(responses) = op.get_mut("responses") {
            retarget_refs(responses, &renamed);
            merge_unions(responses, &resolved);
            loosen_response_bodies(responses);
        }
    });
}

/// With every field optional, an untagged `oneOf`/`anyOf` of objects decodes everything as its
/// first variant and silently drops the fields only the others have. In responses, a union of
/// objects becomes one object with all their properties (a property the variants type
/// differently becomes untyped); a union mixing objects and plain values becomes untyped JSON.
fn merge_unions(node: &mut Value, schemas: &Map<String, Value>) {
    match node {
        Value::Object(map) => {
            let union = ["oneOf", "anyOf"]
                .iter()
                .find_map(|key| map.get(*key).and_then(Value::as_array).cloned());
            if let Some(variants) = union {
                map.remove("oneOf");
                map.remove("anyOf");
                map.remove("discriminator");
                let resolved: Vec<Value> = variants
                    .iter()
                    .map(|v| {
                        v.get("$ref")
                            .and_then(Value::as_str)
                            .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
                            .and_then(|name| schemas.get(name))
                            .unwrap_or(v)
                            .clone()
                    })
                    .collect();
                let all_objects = resolved.iter().all(|v| {
                    v.get("type").and_then(Value::as_str) == Some("object")
                        || v.get("properties").is_some()
                });
                if all_objects {
                    let mut merged = Map::new();
                    for variant in &resolved {
                        let props = variant.get("properties").and_then(Value::as_object);
                        for (name, prop) in props.into_iter().flatten() {
                            match merged.get(name) {
                                Some(existing) if shape(existing) != shape(prop) => {
                                    merged.insert(name.clone(), json!({}));
                                }
                                Some(_) => {}
                                None => {
                                    merged.insert(name.clone(), prop.clone());
                                }
                            }
                        }
                    }
                    map.insert("type".into(), json!("object"));
                    map.insert("properties".into(), Value::Object(merged));
                } else {
                    map.remove("type");
                }
            }
            for value in map.values_mut() {
                merge_unions(value, schemas);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| merge_unions(i, schemas)),
        _ => {}
    }
}

/// A schema without its prose, for comparing what two variants say a field is.
fn shape(schema: &Value) -> Value {
    let mut shape = schema.clone();
    if let Some(map) = shape.as_object_mut() {
        for key in ["description", "example", "examples", "title"] {
            map.remove(key);
        }
    }
    shape
}

fn loosen_response_bodies(responses: &mut Value) {
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    for response in responses.values_mut() {
        if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
            for media in content.values_mut() {
                if let Some(schema) = media.get_mut("schema") {
                    loosen_schema(schema);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_unions_of_objects_merge_their_properties() {
        let mut spec = json!({
            "paths": { "/a": { "get": { "responses": { "2XX": { "content": { "application/json": { "schema": {
                "type": "object", "properties": {
                    "params": { "oneOf": [{ "$ref": "#/components/schemas/Sms" }, { "$ref": "#/components/schemas/Call" }] },
                    "mixed": { "anyOf": [{ "type": "string" }, { "$ref": "#/components/schemas/Sms" }] } } } } } } } } } },
            "components": { "schemas": {
                "Sms": { "type": "object", "properties": { "messageBody": { "type": "string" }, "to": { "type": "string" },
                    "prompt": { "type": "string", "description": "when to send" } } },
                "Call": { "type": "object", "properties": { "number": { "type": "string" }, "to": { "type": "integer" },
                    "prompt": { "type": "string", "description": "when to call" } } } } } });
        lenient_responses(&mut spec);
        let body = &spec["paths"]["/a"]["get"]["responses"]["2XX"]["content"]["application/json"]["schema"];
        assert_eq!(
            body["properties"]["params"],
            json!({ "type": "object", "properties": {
                "messageBody": { "type": "string" }, "to": {},
                "prompt": { "type": "string", "description": "when to send" }, "number": { "type": "string" } } })
        );
        assert_eq!(body["properties"]["mixed"], json!({}));
    }

    #[test]
    fn responses_are_loosened_and_shared_components_copied() {
        let mut spec = json!({
            "paths": { "/a": { "post": {
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Shared" } } } },
                "responses": { "2XX": { "content": { "application/json": { "schema": { "type": "object", "required": ["item"],
                    "properties": { "item": { "$ref": "#/components/schemas/Shared" }, "only": { "$ref": "#/components/schemas/Only" } } } } } } } } } },
            "components": { "schemas": {
                "Shared": { "type": "object", "required": ["kind"], "additionalProperties": false,
                    "properties": { "kind": { "type": "string", "enum": ["a"] }, "n": { "type": "integer", "enum": [1, 2] },
                        "tags": { "type": "array", "items": { "type": "string" } } } },
                "Only": { "type": "object", "required": ["at"], "properties": { "at": { "type": "string", "format": "date-time" } } } } } });
        lenient_responses(&mut spec);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["Shared"]["required"],
            json!(["kind"]),
            "request side stays strict"
        );
        assert_eq!(schemas["Shared"]["additionalProperties"], json!(false));
        assert_eq!(
            schemas["SharedResponse"],
            json!({ "type": "object", "properties": { "kind": { "type": "string", "enum": ["a"] }, "n": { "type": "integer" },
                "tags": { "type": "array", "items": { "type": "string" }, "nullable": true } } })
        );
        assert_eq!(
            schemas["Only"],
            json!({ "type": "object", "properties": { "at": { "type": "string" } } })
        );
        let body = &spec["paths"]["/a"]["post"]["responses"]["2XX"]["content"]["application/json"]
            ["schema"];
        assert_eq!(body.get("required"), None);
        assert_eq!(
            body["properties"]["item"]["$ref"],
            "#/components/schemas/SharedResponse"
        );
    }
}
