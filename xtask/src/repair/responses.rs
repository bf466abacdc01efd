//! Success and error responses reduced to what progenitor can generate: one success body.

use serde_json::{Value, json};

use super::OperationFacts;
use crate::openapi::for_each_operation;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::test_support::*;

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
            deprecation: None,
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
}
