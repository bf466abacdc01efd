//! In-memory repairs of an upstream spec before progenitor sees it.
//!
//! Each step fixes one class of upstream defect (or one thing the SDK wants done differently,
//! such as lenient responses) and is a small named function over the spec's JSON, tested on a
//! tiny inline spec in its own file: one file per class. Facts the runtime needs (the `Version`
//! value, security schemes, body kinds) are read off before the steps that remove them from
//! the spec.

mod deprecation;
mod facts;
mod isolate;
mod lenient;
mod overlays;
mod parameters;
mod patterns;
mod request_bodies;
mod responses;
mod schemas;

use serde_json::Value;

use crate::Result;
use crate::config::{Module, OperationOverlay, SchemaOverlay};

use facts::read_operation_facts;
pub use facts::{normalize_operation_ids, sdk_method_name};
pub use isolate::{only_component, only_operation};
use lenient::lenient_responses;
use overlays::{apply_schema_overlays, check_overlays};
use parameters::{
    declare_path_params, drop_query_params_shadowing_path, integer_paging_params,
    lift_runtime_headers,
};
use patterns::widen_time_zone_patterns;
use request_bodies::{keep_first_request_media_type, multipart_as_octet_stream};
use responses::{
    declare_untyped_success_bodies, drop_error_responses, drop_response_headers,
    merge_success_responses,
};
use schemas::{
    drop_colliding_properties, drop_invalid_defaults, drop_required_without_property, repair_enums,
    stub_missing_refs, untype_any, untype_contradicted_schemas,
};

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
    /// For operations the spec marks `deprecated: true`: the note of the `#[deprecated]` on
    /// the client method (the spec's own words on it where it has some).
    pub deprecation: Option<String>,
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
    widen_time_zone_patterns(&mut spec);
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
    keep_first_request_media_type(&mut spec);
    untype_any(&mut spec);
    repair_enums(&mut spec);
    untype_contradicted_schemas(&mut spec);
    drop_invalid_defaults(&mut spec);
    stub_missing_refs(&mut spec);
    drop_colliding_properties(&mut spec);
    drop_required_without_property(&mut spec);
    lenient_responses(&mut spec);
    Ok(Repaired { spec, operations })
}

#[cfg(test)]
pub(crate) mod test_support {
    pub use super::*;
    pub use crate::openapi::operations;
    pub use serde_json::{Value, json};

    pub fn one_op(path: &str, method: &str, op: Value) -> Value {
        json!({ "openapi": "3.0.0", "info": { "title": "t", "version": "1.0" }, "paths": { path: { method: op } } })
    }

    pub fn op_of(spec: &Value) -> &Value {
        operations(spec)
            .next()
            .map(|(_, _, op)| op)
            .expect("one operation")
    }

    pub fn module() -> Module {
        Module::for_tests("m")
    }
}
