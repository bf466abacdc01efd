//! Operation ids and the facts the runtime needs about each operation (its `Version`, security
//! schemes, body kind, multipart fields), read off the spec before later steps remove them.

use std::collections::BTreeSet;

use heck::ToSnakeCase;
use serde_json::Value;

use super::{BodyKind, FormField, FormFieldKind, OperationFacts};
use crate::config::{Module, OperationOverlay, ResponseOverride};
use crate::openapi::{for_each_operation, is_header, operations, params, resolve};

/// The SDK method name (and the id progenitor reports) of an upstream operationId, before a
/// number is appended to keep it unique within its module.
pub fn sdk_method_name(upstream_id: &str) -> String {
    let base = upstream_id
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        .to_snake_case();
    if base.starts_with(|c: char| c.is_ascii_digit()) || base.is_empty() {
        format!("op_{base}")
    } else {
        base
    }
}

/// Every operation gets a unique snake_case id, so the id progenitor reports at run time is
/// the key of the metadata table (progenitor's own snake-casing leaves these unchanged).
pub fn normalize_operation_ids(spec: &mut Value) {
    let mut seen = BTreeSet::new();
    for_each_operation(spec, |path, method, op| {
        let upstream = op
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{method} {path}"));
        let base = sdk_method_name(&upstream);
        let mut id = base.clone();
        let mut n = 2;
        while !seen.insert(id.clone()) {
            id = format!("{base}_{n}");
            n += 1;
        }
        op.insert("x-upstream-operation-id".into(), Value::String(upstream));
        op.insert("operationId".into(), Value::String(id));
    });
}

pub(super) fn read_operation_facts(
    module: &Module,
    spec: &Value,
    overlays: &[&OperationOverlay],
) -> Vec<OperationFacts> {
    let global_security = spec.get("security");
    operations(spec)
        .map(|(path, method, op)| {
            let upstream_id = op
                .get("x-upstream-operation-id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let overlay = overlays.iter().find(|o| o.operation == upstream_id);
            let declared_version = params(op).find(|p| is_header(p, "Version")).and_then(|p| {
                let schema = p.get("schema")?;
                schema
                    .get("enum")
                    .and_then(|e| e.get(0))
                    .or_else(|| schema.get("default"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            let version = match overlay.and_then(|o| o.version.as_deref()) {
                Some("") => None,
                Some(v) => Some(v.to_owned()),
                None => Some(declared_version.unwrap_or_else(|| module.default_version.clone())),
            };
            let security = op
                .get("security")
                .or(global_security)
                .and_then(Value::as_array)
                .map(|reqs| {
                    let mut names: Vec<String> = reqs
                        .iter()
                        .filter_map(Value::as_object)
                        .flat_map(|r| r.keys().cloned())
                        .collect();
                    names.dedup();
                    names
                })
                .unwrap_or_default();
            let content = op
                .pointer("/requestBody/content")
                .and_then(Value::as_object);
            let request_body = match content.and_then(|c| c.keys().next()).map(String::as_str) {
                None => BodyKind::None,
                Some(ct) if ct.starts_with("multipart/") => BodyKind::Multipart,
                Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => {
                    BodyKind::FormUrlencoded
                }
                Some(ct) if ct.starts_with("application/json") => BodyKind::Json,
                Some(_) => BodyKind::OctetStream,
            };
            let multipart_fields = if request_body == BodyKind::Multipart {
                let schema = content
                    .and_then(|c| c.values().next())
                    .and_then(|m| m.get("schema"))
                    .map(|s| resolve(spec, s));
                form_fields(spec, schema)
            } else {
                Vec::new()
            };
            OperationFacts {
                id: op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                upstream_id,
                method: method.to_ascii_uppercase(),
                path: path.to_owned(),
                version,
                security,
                request_body,
                bytes_response: overlay.and_then(|o| o.response) == Some(ResponseOverride::Bytes),
                authenticated: overlay.and_then(|o| o.authenticated).unwrap_or(true),
                multipart_fields,
                deprecation: super::deprecation::note(op),
            }
        })
        .collect()
}

fn form_fields(spec: &Value, schema: Option<&Value>) -> Vec<FormField> {
    let Some(schema) = schema else {
        return Vec::new();
    };
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, prop)| {
            let prop = resolve(spec, prop);
            let ty = prop.get("type").and_then(Value::as_str).unwrap_or("string");
            let kind = match ty {
                "boolean" => FormFieldKind::Boolean,
                "number" | "integer" => FormFieldKind::Number,
                "array" => FormFieldKind::TextList,
                _ if prop.get("format").and_then(Value::as_str) == Some("binary") => {
                    FormFieldKind::File
                }
                _ => FormFieldKind::Text,
            };
            FormField {
                name: name.clone(),
                kind,
                required: required.contains(name.as_str()),
                description: prop
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::test_support::*;

    #[test]
    fn version_and_authorization_headers_are_lifted_into_facts() {
        let mut spec = one_op(
            "/a",
            "get",
            json!({ "operationId": "get-thing", "security": [{ "Location-Access": [] }, { "Agency-Access": [] }],
                "parameters": [
                { "name": "Authorization", "in": "header", "required": true, "schema": { "type": "string" } },
                { "name": "Version", "in": "header", "required": true, "schema": { "type": "string", "enum": ["2021-04-15"] } },
                { "name": "q", "in": "query", "schema": { "type": "string" } } ],
                "responses": {} }),
        );
        normalize_operation_ids(&mut spec);
        let facts = read_operation_facts(&module(), &spec, &[]);
        lift_runtime_headers(&mut spec);
        assert_eq!(facts[0].id, "get_thing");
        assert_eq!(facts[0].upstream_id, "get-thing");
        assert_eq!(facts[0].version.as_deref(), Some("2021-04-15"));
        assert_eq!(facts[0].security, vec!["Location-Access", "Agency-Access"]);
        assert_eq!(
            op_of(&spec)["parameters"],
            json!([{ "name": "q", "in": "query", "schema": { "type": "string" } }])
        );
    }

    #[test]
    fn missing_version_falls_back_to_module_default_and_overlay_wins() {
        let mut spec = json!({ "paths": {
            "/a": { "get": { "operationId": "a", "responses": {} } },
            "/b": { "get": { "operationId": "b", "responses": {} } } } });
        normalize_operation_ids(&mut spec);
        let overlay = OperationOverlay {
            sets: vec!["v2".into()],
            module: "m".into(),
            operation: "b".into(),
            response: None,
            version: Some(String::new()),
            authenticated: None,
            reason: "test".into(),
        };
        let facts = read_operation_facts(&module(), &spec, &[&overlay]);
        assert_eq!(facts[0].version.as_deref(), Some("2021-07-28"));
        assert_eq!(facts[1].version, None);
    }

    #[test]
    fn operation_ids_become_unique_snake_case() {
        let mut spec = json!({ "paths": {
            "/a": { "get": { "operationId": "Get-Thing", "responses": {} }, "post": { "operationId": "get_thing", "responses": {} } },
            "/b/{id}": { "delete": { "responses": {} } } } });
        normalize_operation_ids(&mut spec);
        let ids: Vec<_> = operations(&spec)
            .map(|(_, _, op)| op["operationId"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(ids, vec!["get_thing", "get_thing_2", "delete_b_id"]);
    }
}
