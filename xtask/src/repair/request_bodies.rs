//! Request bodies progenitor 0.15 cannot send: multipart, and more than one media type.

use serde_json::{Value, json};

use crate::openapi::for_each_operation;

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

/// progenitor takes one request media type (`todo!` "more media types than expected"); v3's
/// `POST /oauth/token` offers form-urlencoded and JSON for one schema. The first declared one
/// is kept: it is the one the operation facts record as the body kind, and upstream lists the
/// form first (the OAuth 2 token endpoint's own encoding, RFC 6749 §4.1.3, and the only one the
/// v2 spec declares).
pub fn keep_first_request_media_type(spec: &mut Value) {
    for_each_operation(spec, |_, _, op| {
        if let Some(content) = op
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(Value::as_object_mut)
        {
            let first = content.keys().next().cloned();
            content.retain(|media_type, _| Some(media_type) == first.as_ref());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::test_support::*;

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
    fn request_bodies_keep_their_first_media_type() {
        let mut spec = one_op(
            "/oauth/token",
            "post",
            json!({ "requestBody": { "content": {
                "application/x-www-form-urlencoded": { "schema": { "$ref": "#/components/schemas/T" } },
                "application/json": { "schema": { "$ref": "#/components/schemas/T" } } } }, "responses": {} }),
        );
        keep_first_request_media_type(&mut spec);
        assert_eq!(
            op_of(&spec)["requestBody"]["content"],
            json!({ "application/x-www-form-urlencoded": { "schema": { "$ref": "#/components/schemas/T" } } })
        );
    }
}
