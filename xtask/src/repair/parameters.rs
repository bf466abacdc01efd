//! Parameters: headers the runtime sets, path parameters upstream forgets or marks optional,
//! query parameters that shadow the path, paging numbers sent as integers.

use serde_json::{Value, json};

use crate::openapi::{for_each_operation, is_header, template_vars};

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

/// `Version` and `Authorization` are set by the runtime for every call (from the metadata and
/// the credentials), so they are not builder parameters a caller has to supply.
pub fn lift_runtime_headers(spec: &mut Value) {
    for_each_operation(spec, |_, _, op| {
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            params.retain(|p| !is_header(p, "Version") && !is_header(p, "Authorization"));
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::test_support::*;

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
}
