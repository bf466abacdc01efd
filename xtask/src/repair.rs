//! In-memory repairs of an upstream spec before progenitor sees it.
//!
//! Each step fixes one class of defect listed in `shared/notes/specs-and-progenitor.md` (or one
//! thing the SDK wants done differently, such as lenient responses) and is a small named
//! function over the spec's JSON, tested on a tiny inline spec below. Facts the runtime needs
//! (the `Version` value, security schemes, body kinds) are read off before the steps that remove
//! them from the spec.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToSnakeCase;
use serde_json::{Map, Value, json};

use crate::Result;
use crate::config::{Module, OperationOverlay, ResponseOverride, SchemaOverlay};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Query parameters that count or page through results: integers on the wire, whatever the spec says.
const INTEGER_QUERY_PARAMS: [&str; 10] = [
    "limit",
    "offset",
    "skip",
    "page",
    "pageSize",
    "pageLength",
    "pageLimit",
    "startAfter",
    "startDate",
    "endDate",
];

/// What the runtime needs to know about one operation, read off the upstream spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationFacts {
    /// The id progenitor reports in `OperationInfo` (snake_case).
    pub id: String,
    pub upstream_id: String,
    pub method: String,
    pub path: String,
    pub version: Option<String>,
    pub security: Vec<String>,
    pub request_body: BodyKind,
    pub bytes_response: bool,
    /// Whether the call carries the bearer token.
    pub authenticated: bool,
    /// For multipart operations: the form's fields, from the upstream schema.
    pub multipart_fields: Vec<FormField>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Json,
    FormUrlencoded,
    Multipart,
    OctetStream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    pub kind: FormFieldKind,
    pub required: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormFieldKind {
    Text,
    Boolean,
    Number,
    File,
    TextList,
}

/// A repaired spec and the facts of each of its operations.
#[derive(Debug)]
pub struct Repaired {
    pub spec: Value,
    pub operations: Vec<OperationFacts>,
}

/// Runs every repair step, in order, on one module's spec.
pub fn repair(
    module: &Module,
    mut spec: Value,
    overlays: &[&OperationOverlay],
    schema_overlays: &[&SchemaOverlay],
) -> Result<Repaired> {
    check_overlays(module, &spec, overlays)?;
    apply_schema_overlays(module, &mut spec, schema_overlays)?;
    normalize_operation_ids(&mut spec);
    let operations = read_operation_facts(module, &spec, overlays);
    drop_error_responses(&mut spec);
    merge_success_responses(&mut spec);
    drop_response_headers(&mut spec);
    declare_untyped_success_bodies(&mut spec, &operations);
    lift_runtime_headers(&mut spec);
    declare_path_params(&mut spec);
    drop_query_params_shadowing_path(&mut spec);
    integer_paging_params(&mut spec);
    multipart_as_octet_stream(&mut spec);
    untype_any(&mut spec);
    repair_enums(&mut spec);
    untype_contradicted_schemas(&mut spec);
    drop_invalid_defaults(&mut spec);
    stub_missing_refs(&mut spec);
    drop_colliding_properties(&mut spec);
    lenient_responses(&mut spec);
    Ok(Repaired { spec, operations })
}

fn check_overlays(module: &Module, spec: &Value, overlays: &[&OperationOverlay]) -> Result<()> {
    for overlay in overlays {
        let found = operations(spec).any(|(_, _, op)| {
            op.get("operationId").and_then(Value::as_str) == Some(overlay.operation.as_str())
        });
        if !found {
            return Err(format!(
                "specs/overlays.toml: module `{}` has no operation `{}` any more; drop or fix the overlay",
                module.name, overlay.operation
            )
            .into());
        }
    }
    Ok(())
}

/// Our fixes to single upstream schema facts, from `specs/overlays.toml`.
fn apply_schema_overlays(
    module: &Module,
    spec: &mut Value,
    overlays: &[&SchemaOverlay],
) -> Result<()> {
    for overlay in overlays {
        let (key, text) = match (&overlay.replace, &overlay.merge) {
            (Some(text), None) => ("replace", text),
            (None, Some(text)) => ("merge", text),
            _ => {
                return Err(format!(
                    "specs/overlays.toml: the overlay of {} needs exactly one of `replace` and `merge`",
                    overlay.pointer
                )
                .into());
            }
        };
        let value: Value = serde_json::from_str(text).map_err(|e| {
            format!(
                "specs/overlays.toml: `{key}` of {} is not JSON: {e}",
                overlay.pointer
            )
        })?;
        let target = spec.pointer_mut(&overlay.pointer).ok_or_else(|| {
            format!(
                "specs/overlays.toml: module `{}` has nothing at {} any more; drop or fix the overlay",
                module.name, overlay.pointer
            )
        })?;
        match (key, value) {
            ("merge", Value::Object(added)) => {
                let Some(existing) = target.as_object_mut() else {
                    return Err(format!(
                        "specs/overlays.toml: `merge` at {} needs an object there",
                        overlay.pointer
                    )
                    .into());
                };
                existing.extend(added);
            }
            ("merge", _) => {
                return Err(format!(
                    "specs/overlays.toml: `merge` of {} must be a JSON object",
                    overlay.pointer
                )
                .into());
            }
            (_, value) => *target = value,
        }
    }
    Ok(())
}

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

fn for_each_operation(spec: &mut Value, mut f: impl FnMut(&str, &str, &mut Map<String, Value>)) {
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
        let base = upstream
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            .to_snake_case();
        let base = if base.starts_with(|c: char| c.is_ascii_digit()) || base.is_empty() {
            format!("op_{base}")
        } else {
            base
        };
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

fn read_operation_facts(
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

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix('#')
            .and_then(|p| spec.pointer(p))
            .unwrap_or(schema),
        None => schema,
    }
}

fn params(op: &Value) -> impl Iterator<Item = &Value> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn is_header(param: &Value, name: &str) -> bool {
    param.get("in").and_then(Value::as_str) == Some("header")
        && param
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// Error responses differ per status and point into `../common/`; the runtime decodes every
/// 4xx/5xx into one typed API error instead, so the spec's error responses are not needed.
pub fn drop_error_responses(spec: &mut Value) {
    for_each_operation(spec, |_, _, op| {
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            responses.retain(|code, _| code.starts_with('2'));
        }
    });
}

/// progenitor wants one success type; a server that answers 200 where the spec says 201 must
/// still be a success. All 2xx collapse into one `2XX` response carrying the first declared body.
pub fn merge_success_responses(spec: &mut Value) {
    for_each_operation(spec, |_, _, op| {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            return;
        };
        let mut codes: Vec<String> = responses.keys().cloned().collect();
        codes.sort();
        let chosen = codes
            .iter()
            .find(|c| responses[c.as_str()].get("content").is_some())
            .or(codes.first())
            .cloned();
        let merged = chosen
            .and_then(|c| responses.get(&c).cloned())
            .unwrap_or_else(|| json!({ "description": "success" }));
        responses.clear();
        responses.insert("2XX".into(), merged);
    });
}

/// Response headers described without schema or content break openapiv3; progenitor does not
/// use response headers anyway.
pub fn drop_response_headers(spec: &mut Value) {
    for_each_operation(spec, |_, _, op| {
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            for response in responses.values_mut() {
                if let Some(response) = response.as_object_mut() {
                    response.remove("headers");
                }
            }
        }
    });
}

/// A 2xx the spec leaves without content still has a body (`POST /contacts/search`, all of
/// ad-manager): decode it as any JSON, or hand out the bytes for the downloads the overlays name.
pub fn declare_untyped_success_bodies(spec: &mut Value, facts: &[OperationFacts]) {
    for_each_operation(spec, |_, _, op| {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let bytes = facts.iter().any(|f| f.id == id && f.bytes_response);
        let Some(success) = op
            .get_mut("responses")
            .and_then(|r| r.get_mut("2XX"))
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        if bytes {
            success.insert(
                "content".into(),
                json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } }),
            );
        } else if !success.contains_key("content") {
            success.insert(
                "content".into(),
                json!({ "application/json": { "schema": {} } }),
            );
        }
    });
}

/// `Version` and `Authorization` are set by the runtime for every call (from the metadata and
/// the credentials), so they are not builder parameters a caller has to supply.
pub fn lift_runtime_headers(spec: &mut Value) {
    for_each_operation(spec, |_, _, op| {
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            params.retain(|p| !is_header(p, "Version") && !is_header(p, "Authorization"));
        }
    });
}

fn template_vars(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(v, _)| v.to_owned()))
        .collect()
}

/// Every `{var}` of a path needs a required path parameter; upstream omits some and marks
/// others optional, and progenitor panics on both.
pub fn declare_path_params(spec: &mut Value) {
    for_each_operation(spec, |path, _, op| {
        let vars = template_vars(path);
        let params = op
            .entry("parameters")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(params) = params.as_array_mut() else {
            return;
        };
        for param in params.iter_mut() {
            if param.get("in").and_then(Value::as_str) == Some("path")
                && let Some(param) = param.as_object_mut()
            {
                param.insert("required".into(), Value::Bool(true));
            }
        }
        for var in vars {
            let declared = params.iter().any(|p| {
                p.get("in").and_then(Value::as_str) == Some("path")
                    && p.get("name").and_then(Value::as_str) == Some(var.as_str())
            });
            if !declared {
                params.push(json!({ "name": var, "in": "path", "required": true, "schema": { "type": "string" } }));
            }
        }
        // Parameters declared for the path but absent from the template cannot be sent.
        let vars = template_vars(path);
        params.retain(|p| {
            p.get("in").and_then(Value::as_str) != Some("path")
                || p.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| vars.iter().any(|v| v == n))
        });
    });
}

/// A query parameter named like a path parameter collides in progenitor's builder; the path
/// already carries the value.
pub fn drop_query_params_shadowing_path(spec: &mut Value) {
    for_each_operation(spec, |path, _, op| {
        let vars = template_vars(path);
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            params.retain(|p| {
                !(p.get("in").and_then(Value::as_str) == Some("query")
                    && p.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| vars.iter().any(|v| v == n)))
            });
        }
    });
}

/// `type: number` paging parameters would go on the wire as `limit=20.0`.
pub fn integer_paging_params(spec: &mut Value) {
    for_each_operation(spec, |_, _, op| {
        let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
            return;
        };
        for param in params {
            let paging = param.get("in").and_then(Value::as_str) == Some("query")
                && param
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| INTEGER_QUERY_PARAMS.contains(&n));
            if !paging {
                continue;
            }
            if let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut)
                && schema.get("type").and_then(Value::as_str) == Some("number")
            {
                schema.insert("type".into(), Value::String("integer".into()));
                for key in ["default", "minimum", "maximum", "example"] {
                    if let Some(v) = schema.get(key).and_then(Value::as_f64)
                        && v.fract() == 0.0
                    {
                        schema.insert(key.into(), json!(v as i64));
                    } else {
                        schema.remove(key);
                    }
                }
            }
        }
    });
}

/// progenitor 0.15 cannot send multipart bodies; the operation takes a raw body instead, which
/// the generated typed form (or `MultipartForm`) encodes, and the runtime sets the boundary.
pub fn multipart_as_octet_stream(spec: &mut Value) {
    for_each_operation(spec, |_, _, op| {
        let Some(content) = op
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        if content.keys().any(|k| k.starts_with("multipart/")) {
            content.clear();
            content.insert(
                "application/octet-stream".into(),
                json!({ "schema": { "type": "string", "format": "binary" } }),
            );
        }
    });
}

/// Applies `f` to every schema object in the document (components, parameters, bodies).
fn for_each_schema(node: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
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

/// `"type": "any"` is not an OpenAPI type; an untyped schema means the same.
pub fn untype_any(spec: &mut Value) {
    for_each_schema(spec, &mut |schema| {
        if schema.get("type").and_then(Value::as_str) == Some("any") {
            schema.remove("type");
        }
    });
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

/// Two properties that map to one Rust field (`_id` and `id`) do not compile; the one whose
/// name already is snake_case is kept.
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
            let keep = names
                .iter()
                .find(|n| **n == field)
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

const SCHEMA_PREFIX: &str = "#/components/schemas/";

fn collect_refs(spec: &Value, node: &Value, acc: &mut BTreeSet<String>) {
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

/// `name` escaped as one JSON pointer segment (`/contacts/{id}` → `~1contacts~1{id}`).
pub fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The spec reduced to one operation and the components it reaches, to pin a failure on it.
pub fn only_operation(spec: &Value, path: &str, method: &str) -> Value {
    let mut single = spec.clone();
    let op = spec
        .pointer(&format!("/paths/{}/{method}", pointer_token(path)))
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

    fn one_op(path: &str, method: &str, op: Value) -> Value {
        json!({ "openapi": "3.0.0", "info": { "title": "t", "version": "1.0" }, "paths": { path: { method: op } } })
    }

    fn op_of(spec: &Value) -> &Value {
        operations(spec)
            .next()
            .map(|(_, _, op)| op)
            .expect("one operation")
    }

    fn module() -> Module {
        Module {
            name: "m".into(),
            spec: "apps/m.json".into(),
            crate_name: "highlevel-m".into(),
            feature: "m".into(),
            title: "M".into(),
            default_version: "2021-07-28".into(),
        }
    }

    #[test]
    fn error_responses_are_dropped() {
        let mut spec = one_op(
            "/a",
            "get",
            json!({ "responses": { "200": { "description": "ok" }, "400": { "description": "bad",
                "content": { "application/json": { "schema": { "$ref": "../common/common-schemas.json#/components/schemas/BadRequestDTO" } } } } } }),
        );
        drop_error_responses(&mut spec);
        assert_eq!(
            op_of(&spec)["responses"],
            json!({ "200": { "description": "ok" } })
        );
    }

    #[test]
    fn success_responses_merge_into_one_range_keeping_the_first_body() {
        let mut spec = one_op(
            "/a",
            "post",
            json!({ "responses": { "204": { "description": "none" },
                "201": { "description": "created", "content": { "application/json": { "schema": { "type": "object" } } } } } }),
        );
        merge_success_responses(&mut spec);
        assert_eq!(
            op_of(&spec)["responses"],
            json!({ "2XX": { "description": "created", "content": { "application/json": { "schema": { "type": "object" } } } } })
        );
    }

    #[test]
    fn untyped_success_bodies_become_json_or_bytes() {
        let mut spec = json!({ "paths": {
            "/a": { "get": { "operationId": "a", "responses": { "2XX": { "description": "x" } } } },
            "/b": { "get": { "operationId": "b", "responses": { "2XX": { "description": "x" } } } } } });
        let facts = vec![OperationFacts {
            id: "b".into(),
            upstream_id: "b".into(),
            method: "GET".into(),
            path: "/b".into(),
            version: None,
            security: vec![],
            request_body: BodyKind::None,
            bytes_response: true,
            authenticated: true,
            multipart_fields: vec![],
        }];
        declare_untyped_success_bodies(&mut spec, &facts);
        assert_eq!(
            spec["paths"]["/a"]["get"]["responses"]["2XX"]["content"],
            json!({ "application/json": { "schema": {} } })
        );
        assert_eq!(
            spec["paths"]["/b"]["get"]["responses"]["2XX"]["content"]["application/octet-stream"]["schema"]
                ["format"],
            "binary"
        );
    }

    #[test]
    fn response_headers_without_schema_are_dropped() {
        let mut spec = one_op(
            "/a",
            "get",
            json!({ "responses": { "200": { "description": "x", "headers": { "Content-Type": { "description": "audio/x-wav" } } } } }),
        );
        drop_response_headers(&mut spec);
        assert_eq!(
            op_of(&spec)["responses"]["200"],
            json!({ "description": "x" })
        );
    }

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

    #[test]
    fn path_params_are_declared_and_required() {
        let mut spec = one_op(
            "/a/{id}/b/{other}",
            "get",
            json!({ "parameters": [
                { "name": "id", "in": "path", "required": false, "schema": { "type": "string" } },
                { "name": "stale", "in": "path", "required": true, "schema": { "type": "string" } } ], "responses": {} }),
        );
        declare_path_params(&mut spec);
        assert_eq!(
            op_of(&spec)["parameters"],
            json!([
                { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                { "name": "other", "in": "path", "required": true, "schema": { "type": "string" } } ])
        );
    }

    #[test]
    fn query_param_named_like_path_param_is_dropped() {
        let mut spec = one_op(
            "/g/{campaignGroupId}",
            "get",
            json!({ "parameters": [
                { "name": "campaignGroupId", "in": "path", "required": true, "schema": { "type": "string" } },
                { "name": "campaignGroupId", "in": "query", "schema": { "type": "string" } } ], "responses": {} }),
        );
        drop_query_params_shadowing_path(&mut spec);
        assert_eq!(op_of(&spec)["parameters"].as_array().map(Vec::len), Some(1));
        assert_eq!(op_of(&spec)["parameters"][0]["in"], "path");
    }

    #[test]
    fn paging_numbers_become_integers() {
        let mut spec = one_op(
            "/a",
            "get",
            json!({ "parameters": [
                { "name": "limit", "in": "query", "schema": { "type": "number", "default": 20, "example": 2.5 } },
                { "name": "rating", "in": "query", "schema": { "type": "number" } } ], "responses": {} }),
        );
        integer_paging_params(&mut spec);
        assert_eq!(
            op_of(&spec)["parameters"][0]["schema"],
            json!({ "type": "integer", "default": 20 })
        );
        assert_eq!(
            op_of(&spec)["parameters"][1]["schema"],
            json!({ "type": "number" })
        );
    }

    #[test]
    fn multipart_becomes_raw_body_and_keeps_its_fields_as_facts() {
        let mut spec = json!({ "paths": { "/u": { "post": { "operationId": "upload",
            "requestBody": { "content": { "multipart/form-data": { "schema": { "$ref": "#/components/schemas/F" } } } },
            "responses": {} } } },
            "components": { "schemas": { "F": { "type": "object", "required": ["file"], "properties": {
                "file": { "type": "string", "format": "binary" }, "hosted": { "type": "boolean" },
                "urls": { "type": "array", "items": { "type": "string" } } } } } } });
        normalize_operation_ids(&mut spec);
        let facts = read_operation_facts(&module(), &spec, &[]);
        multipart_as_octet_stream(&mut spec);
        assert_eq!(facts[0].request_body, BodyKind::Multipart);
        let kinds: Vec<_> = facts[0]
            .multipart_fields
            .iter()
            .map(|f| (f.name.as_str(), f.kind, f.required))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("file", FormFieldKind::File, true),
                ("hosted", FormFieldKind::Boolean, false),
                ("urls", FormFieldKind::TextList, false)
            ]
        );
        assert_eq!(
            op_of(&spec)["requestBody"]["content"],
            json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } })
        );
    }

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
    fn schema_overlays_replace_what_the_pointer_names() {
        let mut spec = json!({ "components": { "schemas": { "P": { "properties": {
            "stages": { "type": "array", "items": { "type": "array" } } } } } } });
        let overlay = SchemaOverlay {
            module: "m".into(),
            pointer: "/components/schemas/P/properties/stages/items".into(),
            replace: Some(r#"{ "type": "object" }"#.into()),
            merge: None,
            reason: "test".into(),
        };
        apply_schema_overlays(&module(), &mut spec, &[&overlay]).expect("applies");
        assert_eq!(
            spec["components"]["schemas"]["P"]["properties"]["stages"]["items"],
            json!({ "type": "object" })
        );
        let gone = SchemaOverlay {
            pointer: "/components/schemas/Gone".into(),
            ..overlay
        };
        let err = apply_schema_overlays(&module(), &mut spec, &[&gone]).expect_err("stale overlay");
        assert!(
            err.to_string().contains("/components/schemas/Gone"),
            "{err}"
        );
        let added = SchemaOverlay {
            pointer: "/components/schemas/P/properties".into(),
            replace: None,
            merge: Some(r#"{ "sort": { "type": "array" } }"#.into()),
            ..gone
        };
        apply_schema_overlays(&module(), &mut spec, &[&added]).expect("merges");
        let properties = &spec["components"]["schemas"]["P"]["properties"];
        assert_eq!(properties["sort"], json!({ "type": "array" }));
        assert_eq!(properties["stages"]["items"], json!({ "type": "object" }));
    }

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
