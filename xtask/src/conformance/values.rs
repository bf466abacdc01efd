//! Valid request values built from the upstream schemas, for the conformance calls.
//!
//! The mock validates requests against the *upstream* spec, so values are built from it, not
//! from our repaired copy: a value the upstream schema accepts that our types refuse is a
//! finding the conformance run reports. Examples are used where they fit their own schema;
//! otherwise a value is built from type, format, enum and bounds.

use serde_json::{Map, Value, json};

use crate::openapi::value_fits_type;

/// The documents a module's references can point into.
#[derive(Clone, Copy)]
pub struct Documents<'a> {
    pub module: &'a Value,
    pub common: &'a Value,
}

/// Which document a schema was read from: its local `#/...` references resolve there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Module,
    Common,
}

const COMMON_PREFIX: &str = "../common/common-schemas.json#";

/// Nesting beyond which optional properties are left out (required ones never are).
const OPTIONAL_DEPTH: usize = 3;
/// Nesting beyond which nothing more is built: recursive schemas end here.
const MAX_DEPTH: usize = 32;

/// A value `schema` (as found in the module document) accepts.
pub fn value_for(docs: Documents<'_>, schema: &Value) -> Value {
    Builder { docs }.build(schema, Origin::Module, 0)
}

struct Builder<'a> {
    docs: Documents<'a>,
}

impl Builder<'_> {
    fn resolve<'s>(&'s self, reference: &str, origin: Origin) -> Option<(&'s Value, Origin)> {
        let (doc, pointer, origin) = if let Some(pointer) = reference.strip_prefix(COMMON_PREFIX) {
            (self.docs.common, pointer, Origin::Common)
        } else if let Some(pointer) = reference.strip_prefix('#') {
            let doc = match origin {
                Origin::Module => self.docs.module,
                Origin::Common => self.docs.common,
            };
            (doc, pointer, origin)
        } else {
            return None;
        };
        doc.pointer(pointer).map(|schema| (schema, origin))
    }

    fn build(&self, schema: &Value, origin: Origin, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return match self.resolve(reference, origin) {
                Some((target, origin)) => self.build(target, origin, depth + 1),
                // A dangling reference constrains nothing the mock can check.
                None => json!("conformance"),
            };
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for part in parts {
                match self.build(part, origin, depth + 1) {
                    Value::Object(fields) => merged.extend(fields),
                    other if parts.len() == 1 => return other,
                    _ => {}
                }
            }
            return Value::Object(merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = schema
                .get(key)
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                return self.build(first, origin, depth + 1);
            }
        }
        if let Some(value) = enum_value(schema) {
            return value;
        }
        match schema_type(schema) {
            Some("string") => string_value(schema),
            Some("integer") => number_value(schema, true),
            Some("number") => number_value(schema, false),
            Some("boolean") => schema
                .get("example")
                .filter(|e| e.is_boolean())
                .cloned()
                .unwrap_or(Value::Bool(true)),
            Some("array") => self.array_value(schema, origin, depth),
            Some("object") => self.object_value(schema, origin, depth),
            // Untyped: anything goes; an example when there is one, else a string.
            _ => schema
                .get("example")
                .filter(|e| !e.is_null())
                .cloned()
                .unwrap_or_else(|| json!("conformance")),
        }
    }

    fn array_value(&self, schema: &Value, origin: Origin, depth: usize) -> Value {
        let items = schema.get("items").cloned().unwrap_or(Value::Null);
        let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1);
        let max = schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let count = min.max(1).min(max);
        if items.is_null() {
            return schema
                .get("example")
                .filter(|e| e.is_array())
                .cloned()
                .unwrap_or_else(|| json!(["conformance"]));
        }
        let item = self.build(&items, origin, depth + 1);
        let unique = schema.get("uniqueItems").and_then(Value::as_bool) == Some(true);
        let count = if unique { count.min(1) } else { count };
        Value::Array((0..count).map(|_| item.clone()).collect())
    }

    fn object_value(&self, schema: &Value, origin: Origin, depth: usize) -> Value {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            // A free-form object: its example when it is one, else empty.
            return schema
                .get("example")
                .filter(|e| e.is_object())
                .cloned()
                .unwrap_or_else(|| json!({}));
        };
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        for (name, property) in properties {
            let is_required = required.contains(&name.as_str());
            let read_only = property.get("readOnly").and_then(Value::as_bool) == Some(true);
            if !is_required && (read_only || depth >= OPTIONAL_DEPTH || unsatisfiable(property)) {
                continue;
            }
            let value = self.build(property, origin, depth + 1);
            if value.is_null() && !is_required {
                continue;
            }
            out.insert(name.clone(), value);
        }
        Value::Object(out)
    }
}

fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ if schema.get("properties").is_some() => Some("object"),
        _ if schema.get("items").is_some() => Some("array"),
        _ => None,
    }
}

/// Enum values of the declared type (upstream has `type: number` with country-code lists).
fn fitting_enum_values(schema: &Value) -> Option<Vec<&Value>> {
    let values = schema.get("enum")?.as_array()?;
    let ty = schema_type(schema);
    Some(
        values
            .iter()
            .filter(|v| !v.is_null() && value_fits_type(v, ty))
            .collect(),
    )
}

/// No value can pass both the declared type and the enum: an optional property of this kind
/// is left out, since sending it can only be refused.
fn unsatisfiable(schema: &Value) -> bool {
    fitting_enum_values(schema).is_some_and(|values| values.is_empty())
}

fn enum_value(schema: &Value) -> Option<Value> {
    let values = fitting_enum_values(schema)?;
    let example = schema.get("example").filter(|e| values.contains(e));
    example.or_else(|| values.first().copied()).cloned()
}

/// Strings tried, in order, against a `pattern` when the example does not match it.
const PATTERN_CANDIDATES: [&str; 12] = [
    "10:00",
    "2024-01-15",
    "2024-01-15T10:00:00.000Z",
    "conformance",
    "abc123",
    "ABC",
    "1",
    "+14155550100",
    "jane.doe@example.com",
    "https://example.com/conformance",
    "#ffffff",
    "a",
];

fn pattern_value(schema: &Value, pattern: &str, fits: impl Fn(&str) -> bool) -> Option<Value> {
    let regex = regress::Regex::new(pattern).ok()?;
    let matches = |s: &str| fits(s) && regex.find(s).is_some();
    schema
        .get("example")
        .and_then(Value::as_str)
        .into_iter()
        .chain(PATTERN_CANDIDATES)
        .find(|s| matches(s))
        .map(|s| json!(s))
}

fn string_value(schema: &Value) -> Value {
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let by_format = match format {
        "date-time" => Some("2024-01-15T10:00:00.000Z"),
        "date" => Some("2024-01-15"),
        "time" => Some("10:00:00"),
        "email" => Some("jane.doe@example.com"),
        "uri" | "url" => Some("https://example.com/conformance"),
        "uuid" => Some("3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        "ipv4" => Some("192.0.2.1"),
        "hostname" => Some("example.com"),
        "binary" | "byte" => Some("Y29uZm9ybWFuY2U="),
        _ => None,
    };
    if let Some(value) = by_format {
        return json!(value);
    }
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let fits = |s: &str| {
        let n = s.chars().count() as u64;
        n >= min && n <= max && !s.is_empty()
    };
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && let Some(value) = pattern_value(schema, pattern, fits)
    {
        return value;
    }
    if let Some(example) = schema.get("example").and_then(Value::as_str)
        && fits(example)
        && schema.get("pattern").is_none()
    {
        return json!(example);
    }
    let base = "conformance";
    let mut text: String = base.chars().take(max.min(64) as usize).collect();
    while (text.chars().count() as u64) < min {
        text.push('x');
    }
    if text.is_empty() {
        text.push('x');
    }
    json!(text)
}

fn number_value(schema: &Value, integer: bool) -> Value {
    let fits = |n: f64| {
        let lower = schema.get("minimum").and_then(Value::as_f64);
        let upper = schema.get("maximum").and_then(Value::as_f64);
        lower.is_none_or(|l| n >= l)
            && upper.is_none_or(|u| n <= u)
            && (!integer || n.fract() == 0.0)
    };
    if let Some(example) = schema.get("example").and_then(Value::as_f64)
        && fits(example)
    {
        return schema.get("example").cloned().unwrap_or(json!(1));
    }
    let candidate = schema
        .get("minimum")
        .and_then(Value::as_f64)
        .map(|m| if integer { m.ceil() } else { m })
        .filter(|m| fits(*m))
        .or_else(|| [1.0, 0.0].into_iter().find(|n| fits(*n)))
        .unwrap_or(1.0);
    if integer || candidate.fract() == 0.0 {
        json!(candidate as i64)
    } else {
        json!(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(module: Value, schema: Value) -> Value {
        let common = json!({ "components": { "schemas": {
            "Shared": { "type": "object", "required": ["n"], "properties": { "n": { "type": "integer", "minimum": 5 } } }
        } } });
        value_for(
            Documents {
                module: &module,
                common: &common,
            },
            &schema,
        )
    }

    #[test]
    fn required_fields_formats_enums_and_bounds_are_respected() {
        let module = json!({ "components": { "schemas": {
            "Dto": {
                "type": "object",
                "required": ["email", "kind", "count", "tags", "shared"],
                "properties": {
                    "email": { "type": "string", "format": "email", "example": "not an email" },
                    "kind": { "type": "string", "enum": ["a", "b"], "example": "b" },
                    "count": { "type": "integer", "minimum": 3, "maximum": 9, "example": 100 },
                    "tags": { "type": "array", "items": { "type": "string", "minLength": 15 } },
                    "shared": { "$ref": "../common/common-schemas.json#/components/schemas/Shared" },
                    "ro": { "type": "string", "readOnly": true }
                }
            }
        } } });
        let value = build(module, json!({ "$ref": "#/components/schemas/Dto" }));
        assert_eq!(
            value,
            json!({
                "email": "jane.doe@example.com",
                "kind": "b",
                "count": 3,
                "tags": ["conformancexxxx"],
                "shared": { "n": 5 }
            })
        );
    }

    #[test]
    fn patterns_are_matched_and_unsatisfiable_optional_properties_left_out() {
        let value = build(
            json!({}),
            json!({ "type": "object", "required": ["from"], "properties": {
                "from": { "type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$" },
                "code": { "type": "number", "enum": [["US", "CA"]] }
            } }),
        );
        assert_eq!(value, json!({ "from": "10:00" }));
    }

    #[test]
    fn recursive_schemas_end() {
        let module = json!({ "components": { "schemas": {
            "Node": { "type": "object", "required": ["child"], "properties": { "child": { "$ref": "#/components/schemas/Node" } } }
        } } });
        let value = build(module, json!({ "$ref": "#/components/schemas/Node" }));
        let text = value.to_string();
        assert!(text.matches("child").count() <= MAX_DEPTH, "{text}");
    }

    #[test]
    fn all_of_merges_and_one_of_takes_the_first() {
        let value = build(
            json!({}),
            json!({ "allOf": [
                { "type": "object", "required": ["a"], "properties": { "a": { "type": "boolean" } } },
                { "type": "object", "required": ["b"], "properties": { "b": { "oneOf": [ { "type": "number", "example": 2.5 }, { "type": "string" } ] } } }
            ] }),
        );
        assert_eq!(value, json!({ "a": true, "b": 2.5 }));
    }
}
