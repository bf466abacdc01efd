//! Typed webhook events from HighLevel's event docs (`docs/webhook events/*.md` of the pinned
//! specs): `crates/highlevel-webhooks/src/events.rs`, one struct per event plus the `Event`
//! enum, and the docs' examples as test data in `crates/highlevel-webhooks/tests/examples/mod.rs`.
//!
//! Each doc holds a JSON Schema under a "Schema" heading (a block fenced as
//! ```` ```json json_schema ````) and payload examples in other ```` ```json ```` blocks. The
//! docs are loose, so the schemas are repaired before typify sees them ([`repair`]):
//!
//! - a `type` that JSON Schema does not know (`"Date"`, `"Email/SMS"`) becomes `"string"`;
//! - a list of types (`["string", "number", "array", "object"]`) and `"null"` drop the `type`,
//!   so the field is any JSON value;
//! - a schema written as a sample shape (`"email": "string"`, `"locations": ["string"]`, as in
//!   UserCreate.md, whose block is not even marked `json_schema`) becomes an object schema;
//! - `items` given as a list (tuple form) takes its only member, or drops the item type;
//! - `required` (including draft-3 `"required": true`), `default`, `title`, `$schema` and
//!   `additionalProperties` go: every field is optional, unknown fields are ignored, and the
//!   Rust names come from the event, not from titles;
//! - trailing commas in a schema block (RelationDelete.md) are removed before parsing;
//! - an event documented with several schemas (InboundMessage.md, OutboundMessage.md: message
//!   and email) gets the union of their properties; a property the schemas type differently
//!   is any JSON value.
//!
//! Fields are then made lenient like the API types (`postprocess::LenientFields`, open enums),
//! and every field that typify leaves non-optional (`Vec`, `Map` with a default) becomes an
//! `Option`, so a wrongly typed field reads as `None` instead of failing the event.
//!
//! The wire `type` of an event is its file stem unless `specs/webhooks.toml` says otherwise;
//! an example whose `type` is neither absent nor the event's must be explained there too.
//! Example blocks that are not valid JSON are skipped and counted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use heck::ToUpperCamelCase;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_json::{Map, Value};
use syn::visit_mut::VisitMut;
use syn::{Ident, parse_quote};

use crate::Result;
use crate::codegen::postprocess::{LenientFields, OpenEnumDisplays, OpenEnums};
use crate::config::Project;
use crate::config::webhooks::{MAPPING_FILE, Mapping};
use crate::specs::{self, short};

/// Where the event docs are in the pinned spec repository.
pub const EVENTS_DIR: &str = "docs/webhook events/";
/// Where the event types are written.
pub const EVENTS_FILE: &str = "crates/highlevel-webhooks/src/events.rs";
/// Where the docs' examples are written, for the webhooks crate's tests.
pub const EXAMPLES_FILE: &str = "crates/highlevel-webhooks/tests/examples/mod.rs";
/// The wire types the docs do not state (or state wrongly): checks and look-ups.
impl Mapping {
    /// Every entry must name an existing doc; an event listed twice is an error.
    fn validate(&self, stems: &BTreeSet<String>) -> Result<()> {
        let mut seen = BTreeSet::new();
        for (table, entries) in [("event", &self.event), ("example", &self.example)] {
            for entry in entries {
                if !stems.contains(&entry.file) {
                    return Err(format!(
                        "{MAPPING_FILE}: [[{table}]] file `{}` is not a doc in `{EVENTS_DIR}`",
                        entry.file
                    )
                    .into());
                }
            }
        }
        for entry in &self.event {
            if !seen.insert(&entry.file) {
                return Err(format!("{MAPPING_FILE}: [[event]] `{}` twice", entry.file).into());
            }
        }
        Ok(())
    }

    /// The wire type of the event documented in `stem`.
    pub fn wire_type<'a>(&'a self, stem: &'a str) -> &'a str {
        self.event
            .iter()
            .find(|e| e.file == stem)
            .map_or(stem, |e| e.wire_type.as_str())
    }

    fn explains(&self, stem: &str, example_type: &str) -> bool {
        self.example
            .iter()
            .any(|e| e.file == stem && e.wire_type == example_type)
    }
}

/// The JSON blocks of one doc: schema texts and example texts, in document order.
#[derive(Debug, Default, PartialEq)]
pub struct DocBlocks {
    pub schemas: Vec<String>,
    pub examples: Vec<String>,
}

/// Splits a doc into its schema blocks (fenced `json json_schema`, or any `json` block under a
/// heading that says "schema") and example blocks (every other `json` block). A fence whose
/// JSON starts on the fence line (```` ```json{ ````, PriceCreate.md) keeps that start.
pub fn extract(markdown: &str) -> DocBlocks {
    let mut blocks = DocBlocks::default();
    let mut heading = String::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            heading = trimmed.to_ascii_lowercase();
            continue;
        }
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        let json_info = info.strip_prefix("json");
        let mut is_schema = false;
        if let Some(rest) = json_info {
            let rest = rest.trim();
            if rest.starts_with('{') || rest.starts_with('[') {
                body.push_str(rest);
                body.push('\n');
            } else {
                is_schema = rest.split_whitespace().any(|w| w == "json_schema");
            }
        }
        for inner in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push_str(inner);
            body.push('\n');
        }
        if json_info.is_none() {
            continue;
        }
        if is_schema || heading.contains("schema") {
            blocks.schemas.push(body);
        } else {
            blocks.examples.push(body);
        }
    }
    blocks
}

/// Removes commas that precede a `}` or `]` (outside strings).
pub fn strip_trailing_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|ch| !ch.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// What [`repair`] changed, by kind, with counts.
pub type Repairs = BTreeMap<&'static str, usize>;

const STANDARD_TYPES: [&str; 6] = ["string", "number", "integer", "boolean", "object", "array"];
/// Keywords that mark an object as a schema rather than a sample shape.
const SCHEMA_KEYWORDS: [&str; 24] = [
    "type",
    "properties",
    "items",
    "description",
    "enum",
    "format",
    "required",
    "title",
    "$schema",
    "$id",
    "additionalProperties",
    "default",
    "example",
    "examples",
    "nullable",
    "oneOf",
    "anyOf",
    "allOf",
    "$ref",
    "const",
    "pattern",
    "minimum",
    "maximum",
    "definitions",
];
/// Keywords dropped everywhere (see the module docs).
const DROPPED_KEYWORDS: [&str; 6] = [
    "required",
    "default",
    "title",
    "$schema",
    "$id",
    "additionalProperties",
];

fn is_schema_object(map: &Map<String, Value>) -> bool {
    !map.is_empty() && map.keys().all(|k| SCHEMA_KEYWORDS.contains(&k.as_str()))
}

fn note(repairs: &mut Repairs, kind: &'static str) {
    *repairs.entry(kind).or_default() += 1;
}

/// A loose schema made into one typify accepts (see the module docs for the list).
pub fn repair(schema: &Value, repairs: &mut Repairs) -> Value {
    match schema {
        Value::Object(map) if map.is_empty() => serde_json::json!({}),
        Value::Object(map) if is_schema_object(map) => repair_schema(map, repairs),
        other => {
            note(repairs, "sample shape written as a schema");
            shape(other)
        }
    }
}

fn repair_schema(map: &Map<String, Value>, repairs: &mut Repairs) -> Value {
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            k if DROPPED_KEYWORDS.contains(&k) => {
                if k == "additionalProperties" || k == "required" {
                    note(repairs, "`required`/`additionalProperties` dropped");
                }
            }
            "type" => match value {
                Value::String(t) if STANDARD_TYPES.contains(&t.as_str()) => {
                    out.insert(key.clone(), value.clone());
                }
                Value::String(t) if t == "null" => note(repairs, "`null` type: any value"),
                Value::String(_) => {
                    note(repairs, "unknown type (`Date`, `Email/SMS`): string");
                    out.insert(key.clone(), Value::from("string"));
                }
                _ => note(repairs, "list of types: any value"),
            },
            "properties" => {
                let properties = value.as_object().map_or_else(Map::new, |props| {
                    props
                        .iter()
                        .map(|(name, prop)| (name.clone(), repair(prop, repairs)))
                        .collect()
                });
                out.insert(key.clone(), Value::Object(properties));
            }
            "items" => match value {
                Value::Array(list) if list.len() == 1 => {
                    note(repairs, "tuple `items`: its only member");
                    out.insert(key.clone(), repair(&list[0], repairs));
                }
                Value::Array(_) => note(repairs, "tuple `items`: any items"),
                other => {
                    out.insert(key.clone(), repair(other, repairs));
                }
            },
            "oneOf" | "anyOf" | "allOf" => {
                let list = value.as_array().map_or_else(Vec::new, |list| {
                    list.iter().map(|s| repair(s, repairs)).collect()
                });
                out.insert(key.clone(), Value::Array(list));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// A sample shape (`"string"`, `["string"]`, `{ "a": "boolean" }`) as a schema.
fn shape(sample: &Value) -> Value {
    match sample {
        Value::String(t) if STANDARD_TYPES.contains(&t.as_str()) => {
            serde_json::json!({ "type": t })
        }
        Value::String(_) => serde_json::json!({ "type": "string" }),
        Value::Bool(_) => serde_json::json!({ "type": "boolean" }),
        Value::Number(_) => serde_json::json!({ "type": "number" }),
        Value::Array(list) => match list.first() {
            Some(item) => serde_json::json!({ "type": "array", "items": shape(item) }),
            None => serde_json::json!({ "type": "array" }),
        },
        Value::Object(map) => {
            let properties: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), shape(v))).collect();
            serde_json::json!({ "type": "object", "properties": properties })
        }
        Value::Null => serde_json::json!({}),
    }
}

/// One object schema from an event's (repaired) schemas: the union of their properties.
fn merge(schemas: Vec<Value>, repairs: &mut Repairs) -> Value {
    let mut properties = Map::new();
    for schema in schemas {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (name, prop) in props {
            match properties.get(name) {
                None => {
                    properties.insert(name.clone(), prop.clone());
                }
                Some(existing) if existing == prop => {}
                Some(_) => {
                    note(
                        repairs,
                        "property typed differently by two schemas: any value",
                    );
                    properties.insert(name.clone(), serde_json::json!({}));
                }
            }
        }
    }
    serde_json::json!({ "type": "object", "properties": properties })
}

/// One event as codegen sees it.
#[derive(Debug)]
pub struct EventDoc {
    pub stem: String,
    pub wire_type: String,
    /// The Rust struct (and `Event` variant) name.
    pub rust_name: String,
    pub schema: Value,
    /// Example payloads, verbatim JSON text re-serialised compactly.
    pub examples: Vec<String>,
}

/// What [`load`] read besides the events.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub repairs: Repairs,
    pub invalid_examples: Vec<String>,
}

/// `LCEmailStats` → `LcEmailStats`, `PLAN_CHANGE` → `PlanChange`.
pub fn rust_name(wire_type: &str) -> String {
    wire_type.to_upper_camel_case()
}

/// Parses every pinned event doc (verified from the cache).
pub fn load(project: &Project, mapping: &Mapping) -> Result<(Vec<EventDoc>, LoadReport)> {
    let rels: Vec<String> = specs::pinned_under(project, EVENTS_DIR)
        .filter(|rel| rel.ends_with(".md"))
        .map(str::to_owned)
        .collect();
    if rels.is_empty() {
        return Err(format!("specs/pin.toml pins no docs under `{EVENTS_DIR}`").into());
    }
    let stem_of = |rel: &str| rel[EVENTS_DIR.len()..rel.len() - 3].to_owned();
    let stems: BTreeSet<String> = rels.iter().map(|rel| stem_of(rel)).collect();
    mapping.validate(&stems)?;
    let mut report = LoadReport::default();
    let mut events = Vec::new();
    for rel in &rels {
        let stem = &stem_of(rel);
        let bytes = specs::read_verified(project, rel)?;
        let text = String::from_utf8(bytes).map_err(|e| format!("{rel}: {e}"))?;
        let blocks = extract(&text);
        if blocks.schemas.is_empty() {
            return Err(format!("{rel}: no schema block").into());
        }
        let mut schemas = Vec::new();
        for block in &blocks.schemas {
            let value: Value = match serde_json::from_str(block) {
                Ok(v) => v,
                Err(_) => {
                    note(&mut report.repairs, "trailing commas removed");
                    serde_json::from_str(&strip_trailing_commas(block))
                        .map_err(|e| format!("{rel}: schema block is not JSON: {e}"))?
                }
            };
            schemas.push(repair(&value, &mut report.repairs));
        }
        let schema = merge(schemas, &mut report.repairs);
        let wire_type = mapping.wire_type(stem).to_owned();
        let mut examples = Vec::new();
        for (i, block) in blocks.examples.iter().enumerate() {
            let Ok(value) = serde_json::from_str::<Value>(block) else {
                report.invalid_examples.push(format!("{rel} #{}", i + 1));
                continue;
            };
            match value.get("type").and_then(Value::as_str) {
                None => {}
                Some(t) if t == wire_type || mapping.explains(stem, t) => {}
                Some(t) => {
                    return Err(format!(
                        "{rel}: example #{} has `\"type\": \"{t}\"`, not `{wire_type}`; \
                         add an [[event]] or [[example]] entry to {MAPPING_FILE}",
                        i + 1
                    )
                    .into());
                }
            }
            examples.push(serde_json::to_string(&value)?);
        }
        events.push(EventDoc {
            stem: stem.clone(),
            rust_name: rust_name(&wire_type),
            wire_type,
            schema,
            examples,
        });
    }
    let mut names = BTreeSet::new();
    for event in &events {
        if !names.insert(event.rust_name.as_str()) || event.rust_name == "Unknown" {
            return Err(format!(
                "{EVENTS_DIR}{}.md: Rust name `{}` is taken",
                event.stem, event.rust_name
            )
            .into());
        }
    }
    Ok((events, report))
}

/// Both generated files, keyed by path.
pub fn event_files(project: &Project) -> Result<BTreeMap<String, String>> {
    let mapping = Mapping::load(project)?;
    let (events, report) = load(project, &mapping)?;
    let examples: usize = events.iter().map(|e| e.examples.len()).sum();
    eprintln!(
        "codegen: {} webhook events, {examples} examples ({} invalid, skipped{})",
        events.len(),
        report.invalid_examples.len(),
        if report.invalid_examples.is_empty() {
            String::new()
        } else {
            format!(": {}", report.invalid_examples.join(", "))
        }
    );
    Ok(BTreeMap::from([
        (
            EVENTS_FILE.to_owned(),
            render_events(project, &events, &report)?,
        ),
        (
            EXAMPLES_FILE.to_owned(),
            render_examples(project, &events, &report)?,
        ),
    ]))
}

fn header(project: &Project) -> String {
    format!(
        "// @generated by `cargo xtask codegen` from {}@{}, {EVENTS_DIR}.\n\
         // Do not edit by hand: change xtask/ or specs/, then run `cargo xtask codegen`.\n",
        project.pin.upstream,
        short(&project.pin.commit)
    )
}

fn typify_tokens(events: &[EventDoc]) -> Result<(TokenStream, Vec<String>)> {
    let mut settings = typify::TypeSpaceSettings::default();
    settings.with_struct_builder(false);
    let mut space = typify::TypeSpace::new(&settings);
    let mut names = Vec::new();
    for event in events {
        let schema: schemars::schema::Schema = serde_json::from_value(event.schema.clone())
            .map_err(|e| format!("{EVENTS_DIR}{}.md: not a JSON Schema: {e}", event.stem))?;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            space.add_type_with_name(&schema, Some(event.rust_name.clone()))
        }));
        let id = match outcome {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => return Err(format!("{EVENTS_DIR}{}.md: {e}", event.stem).into()),
            Err(_) => {
                return Err(format!("{EVENTS_DIR}{}.md: typify panicked", event.stem).into());
            }
        };
        let name = space
            .get_type(&id)
            .map_err(|e| format!("{EVENTS_DIR}{}.md: {e}", event.stem))?
            .name();
        if name != event.rust_name {
            return Err(format!(
                "{EVENTS_DIR}{}.md: typify named the event `{name}`, not `{}`",
                event.stem, event.rust_name
            )
            .into());
        }
        names.push(name);
    }
    Ok((space.to_stream(), names))
}

/// Wraps every named field that is not an `Option` (typify's defaulted `Vec`s and maps) in
/// one, so it decodes leniently too; drops `deny_unknown_fields` should typify emit it.
struct OptionalFields;

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

impl VisitMut for OptionalFields {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        item.attrs.retain(|a| {
            !(a.path().is_ident("serde")
                && a.meta
                    .require_list()
                    .is_ok_and(|l| l.tokens.to_string().contains("deny_unknown_fields")))
        });
        let syn::Fields::Named(fields) = &mut item.fields else {
            return;
        };
        for field in &mut fields.named {
            if is_option(&field.ty) {
                continue;
            }
            let ty = &field.ty;
            field.ty = parse_quote! { ::std::option::Option<#ty> };
            field.attrs.retain(|a| !a.path().is_ident("serde"));
            field.attrs.push(parse_quote! {
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
            });
        }
    }
}

fn render_events(project: &Project, events: &[EventDoc], report: &LoadReport) -> Result<String> {
    let (tokens, names) = typify_tokens(events)?;
    let mut file: syn::File =
        syn::parse2(tokens).map_err(|e| format!("typify output does not parse: {e}"))?;
    OptionalFields.visit_file_mut(&mut file);
    let mut enums = OpenEnums::default();
    enums.visit_file_mut(&mut file);
    if let Some(name) = enums.collisions.first() {
        return Err(format!("webhook events: enum `{name}` already has an open variant").into());
    }
    let mut displays = OpenEnumDisplays {
        enums: &enums.opened,
    };
    displays.visit_file_mut(&mut file);
    LenientFields.visit_file_mut(&mut file);

    let count = proc_macro2::Literal::usize_unsuffixed(events.len());
    let idents: Vec<Ident> = names
        .iter()
        .map(|n| Ident::new(n, Span::call_site()))
        .collect();
    let wires: Vec<&str> = events.iter().map(|e| e.wire_type.as_str()).collect();
    let docs: Vec<String> = events
        .iter()
        .map(|e| format!(" `{}` ({EVENTS_DIR}{}.md).", e.wire_type, e.stem))
        .collect();
    let event_items: syn::File = syn::parse2(quote! {
        /// The wire `type` of every event [`Event`] decodes, in doc order.
        pub const EVENT_TYPES: [&str; #count] = [#(#wires),*];

        /// A webhook delivery's body, decoded by its `type`.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum Event {
            #(
                #[doc = #docs]
                #idents(#idents),
            )*
            /// A `type` this crate does not know, no `type` at all, or a body that does not fit
            /// its event's type; the JSON is kept as received.
            Unknown {
                /// The body's `type`, when it has a string one.
                event_type: ::std::option::Option<::std::string::String>,
                /// The body as received.
                raw: ::serde_json::Value,
            },
        }

        impl Event {
            /// Decodes a body by its `type`. Fields of the wrong type read as `None`; a body that
            /// still does not fit, an unknown or missing `type`, or a body that is not an
            /// object is [`Event::Unknown`] with the JSON kept.
            #[must_use]
            pub fn from_value(value: ::serde_json::Value) -> Self {
                let event_type = value
                    .get("type")
                    .and_then(::serde_json::Value::as_str)
                    .map(::std::borrow::ToOwned::to_owned);
                let decoded = match event_type.as_deref() {
                    #(
                        Some(#wires) => <#idents as ::serde::Deserialize>::deserialize(&value)
                            .ok()
                            .map(Self::#idents),
                    )*
                    _ => None,
                };
                decoded.unwrap_or(Self::Unknown { event_type, raw: value })
            }

            /// Decodes a raw body; see [`Event::from_value`].
            ///
            /// # Errors
            ///
            /// Only when the body is not JSON at all.
            pub fn from_slice(body: &[u8]) -> ::std::result::Result<Self, ::serde_json::Error> {
                ::serde_json::from_slice(body).map(Self::from_value)
            }

            /// The event's wire `type`: the known one, or the unknown body's own.
            #[must_use]
            pub fn event_type(&self) -> ::std::option::Option<&str> {
                match self {
                    #( Self::#idents(_) => Some(#wires), )*
                    Self::Unknown { event_type, .. } => event_type.as_deref(),
                }
            }
        }
    })
    .map_err(|e| format!("webhook events: Event does not parse: {e}"))?;
    file.items.extend(event_items.items);

    let mut text = header(project);
    text.push_str("//\n// The event docs' schemas were repaired before generation:\n");
    for (kind, n) in &report.repairs {
        let _ = writeln!(text, "// - {kind}: {n}");
    }
    text.push_str(
        "\n#![allow(clippy::all, clippy::pedantic, clippy::unwrap_used, missing_debug_implementations)]\n\n",
    );
    text.push_str(&prettyplease::unparse(&file));
    Ok(text)
}

fn render_examples(project: &Project, events: &[EventDoc], report: &LoadReport) -> Result<String> {
    let mut wires = Vec::new();
    let mut jsons = Vec::new();
    for event in events {
        for example in &event.examples {
            wires.push(event.wire_type.as_str());
            jsons.push(example.as_str());
        }
    }
    let file: syn::File = syn::parse2(quote! {
        /// `(event's wire type, example body)` for every example in the event docs.
        pub const EXAMPLES: &[(&str, &str)] = &[#((#wires, #jsons)),*];
    })
    .map_err(|e| format!("webhook examples do not parse: {e}"))?;
    let mut text = header(project);
    let _ = write!(
        text,
        "// Example blocks that are not valid JSON, skipped: {}.\n\n",
        if report.invalid_examples.is_empty() {
            "none".to_owned()
        } else {
            report.invalid_examples.join(", ")
        }
    );
    text.push_str(&prettyplease::unparse(&file));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Event\n\n#### Schema\n\n```json json_schema\n{\"type\": \"object\"}\n```\n\n\
        #### Example\n\n```json\n{\"type\": \"A\"}\n```\n\n```js\nignored()\n```\n\n\
        #### Example 2\n\n```json{\n  \"b\": 1\n}\n```\n";

    #[test]
    fn blocks_are_split_into_schemas_and_examples() {
        let blocks = extract(DOC);
        assert_eq!(blocks.schemas, vec!["{\"type\": \"object\"}\n".to_owned()]);
        assert_eq!(
            blocks.examples,
            vec![
                "{\"type\": \"A\"}\n".to_owned(),
                "{\n  \"b\": 1\n}\n".to_owned()
            ]
        );
        // A plain `json` block under a "Schema" heading (UserCreate.md) is a schema.
        let plain = extract("#### Schema\n```json\n{\"a\": \"string\"}\n```\n");
        assert_eq!(plain.schemas.len(), 1);
        assert!(plain.examples.is_empty());
    }

    #[test]
    fn trailing_commas_go_but_not_inside_strings() {
        assert_eq!(
            strip_trailing_commas("{\"a\": \",}\", \"b\": [1, 2, ],\n}"),
            "{\"a\": \",}\", \"b\": [1, 2 ]\n}"
        );
    }

    #[test]
    fn schemas_are_repaired() {
        let mut repairs = Repairs::new();
        let loose = serde_json::json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "X",
            "type": "object",
            "required": ["a"],
            "properties": {
                "a": { "type": "Date" },
                "b": { "type": ["string", "number"] },
                "c": { "type": "string", "required": true, "default": "x" },
                "d": "boolean",
                "e": { "type": "array", "items": [{ "type": "string" }] }
            }
        });
        assert_eq!(
            repair(&loose, &mut repairs),
            serde_json::json!({
                "type": "object",
                "properties": {
                    "a": { "type": "string" },
                    "b": {},
                    "c": { "type": "string" },
                    "d": { "type": "boolean" },
                    "e": { "type": "array", "items": { "type": "string" } }
                }
            })
        );
        let sample =
            serde_json::json!({ "type": "string", "n": { "x": "boolean" }, "l": ["string"] });
        assert_eq!(
            repair(&sample, &mut repairs),
            serde_json::json!({
                "type": "object",
                "properties": {
                    "type": { "type": "string" },
                    "n": { "type": "object", "properties": { "x": { "type": "boolean" } } },
                    "l": { "type": "array", "items": { "type": "string" } }
                }
            })
        );
        assert!(repairs.contains_key("sample shape written as a schema"));
    }

    #[test]
    fn wire_types_default_to_the_stem_and_entries_must_name_docs() {
        let mapping: Mapping = toml::from_str(
            "[[event]]\nfile = \"AppInstall\"\ntype = \"INSTALL\"\nreason = \"r\"\n",
        )
        .expect("mapping");
        assert_eq!(mapping.wire_type("AppInstall"), "INSTALL");
        assert_eq!(mapping.wire_type("ContactCreate"), "ContactCreate");
        let stems: BTreeSet<String> = ["ContactCreate".to_owned()].into();
        let err = mapping
            .validate(&stems)
            .expect_err("AppInstall is not a doc");
        assert!(err.to_string().contains("AppInstall"), "{err}");
        assert_eq!(rust_name("PLAN_CHANGE"), "PlanChange");
        assert_eq!(rust_name("INSTALL"), "Install");
    }

    #[test]
    fn the_project_mapping_names_existing_docs() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let project = Project::load(&root).expect("project");
        let mapping = Mapping::load(&project).expect("specs/webhooks.toml");
        let stems: BTreeSet<String> = specs::pinned_under(&project, EVENTS_DIR)
            .map(|rel| rel[EVENTS_DIR.len()..rel.len() - 3].to_owned())
            .collect();
        assert_eq!(stems.len(), 58);
        mapping.validate(&stems).expect("every entry names a doc");
        assert_eq!(
            mapping.wire_type("ConversationUnreadWebhook"),
            "ConversationUnreadUpdate"
        );
    }
}
