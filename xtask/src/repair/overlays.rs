//! Our fixes to single upstream facts, from `specs/overlays.toml`.

use serde_json::Value;

use crate::Result;
use crate::config::{Module, OperationOverlay, SchemaOverlay};
use crate::openapi::operations;

pub(super) fn check_overlays(
    module: &Module,
    spec: &Value,
    overlays: &[&OperationOverlay],
) -> Result<()> {
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
pub(super) fn apply_schema_overlays(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::test_support::*;

    #[test]
    fn schema_overlays_replace_what_the_pointer_names() {
        let mut spec = json!({ "components": { "schemas": { "P": { "properties": {
            "stages": { "type": "array", "items": { "type": "array" } } } } } } });
        let overlay = SchemaOverlay {
            sets: vec!["v2".into()],
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
}
