//! The pagination table: for every list operation, how it pages, read off the repaired spec
//! (query parameters and the response envelope), corrected by `specs/pagination.toml`.
//!
//! Codegen turns each row into a `Paging` constant and `.pages()` / `.stream()` on the
//! operation's builder, and writes the whole table, with every list operation left out and
//! why, to `crates/highlevel/PAGINATION.md`.

use std::fmt::Write as _;

use serde_json::Value;

use crate::Result;
use crate::config::Module;
pub use crate::config::{CursorParam, PagingOverride};

/// Query parameters that move a request through a list.
const POSITION_PARAMS: [&str; 9] = [
    "offset",
    "pageToken",
    "skip",
    "page",
    "cursor",
    "lastMessageId",
    "startAfter",
    "startAfterId",
    "startAfterDate",
];
/// Query parameters that size a page.
const SIZE_PARAMS: [&str; 2] = ["limit", "pageSize"];
/// Envelope objects that hold paging facts.
const ENVELOPES: [&str; 2] = ["meta", "pagination"];

/// How one list operation pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub module: String,
    /// progenitor's snake_case id.
    pub id: String,
    pub upstream_id: String,
    pub path: String,
    pub style: Style,
    pub page_size_param: Option<String>,
    pub max_page_size: Option<u64>,
    /// The size asked for when there is no maximum: the spec's default, or (for a required
    /// parameter without one) its example or 20.
    pub default_page_size: Option<u64>,
    /// The top-level response property holding the items.
    pub items: String,
    /// JSON pointers into the response.
    pub total: Option<String>,
    pub has_more: Option<String>,
    /// What the items are, for the tests' paging server.
    pub item: ItemShape,
    /// The reasons of the overrides applied.
    pub overridden: Vec<String>,
}

impl Row {
    /// The query parameters the stream reads or sets.
    pub fn query_params(&self) -> Vec<String> {
        let mut params: Vec<String> = self.page_size_param.iter().cloned().collect();
        match &self.style {
            Style::Offset { param } | Style::PageNumber { param, .. } => {
                params.push(param.clone());
            }
            Style::Cursor(cursor) => params.extend(cursor.iter().map(|c| c.param.clone())),
        }
        params
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    Offset { param: String },
    PageNumber { param: String, first: u64 },
    Cursor(Vec<CursorParam>),
}

/// What an item of the list is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemShape {
    /// An object; `key` is a property that tells items apart (`id`), if the schema has one.
    Object { key: Option<String> },
    /// A string, number or anything else.
    Scalar,
}

/// A list operation without helpers, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub module: String,
    pub upstream_id: String,
    pub path: String,
    pub reason: String,
}

/// The module's list operations: rows with helpers, and those left out.
pub fn derive(
    module: &Module,
    spec: &Value,
    overrides: &[&PagingOverride],
) -> Result<(Vec<Row>, Vec<LeftOut>)> {
    let mut rows = Vec::new();
    let mut left = Vec::new();
    let mut used = vec![false; overrides.len()];
    for (path, method, op) in crate::openapi::operations(spec) {
        if method != "get" {
            continue;
        }
        let query = query_params(spec, op);
        let names: Vec<&str> = query.iter().map(|(name, _)| *name).collect();
        if !names
            .iter()
            .any(|n| POSITION_PARAMS.contains(n) || SIZE_PARAMS.contains(n))
        {
            continue;
        }
        let upstream_id = op
            .get("x-upstream-operation-id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let found = overrides.iter().position(|o| o.operation == upstream_id);
        if let Some(i) = found {
            used[i] = true;
        }
        let fix = found.map(|i| overrides[i]);
        let leave = |reason: String| LeftOut {
            module: module.name.clone(),
            upstream_id: upstream_id.clone(),
            path: path.to_owned(),
            reason,
        };
        if let Some(fix) = fix.filter(|f| f.exclude) {
            left.push(leave(fix.reason.clone()));
            continue;
        }
        match row(module, spec, path, op, &query, fix) {
            Ok(mut row) => {
                row.id = id;
                row.upstream_id = upstream_id.clone();
                rows.push(row);
            }
            Err(reason) => left.push(leave(reason)),
        }
    }
    if let Some(unused) = overrides.iter().zip(&used).find(|(_, used)| !**used) {
        return Err(format!(
            "specs/pagination.toml: module `{}` has no list operation `{}`; drop or fix the entry",
            module.name, unused.0.operation
        )
        .into());
    }
    Ok((rows, left))
}

/// One row, or why the operation cannot have helpers.
fn row(
    module: &Module,
    spec: &Value,
    path: &str,
    op: &Value,
    query: &[(&str, &Value)],
    fix: Option<&PagingOverride>,
) -> std::result::Result<Row, String> {
    let has = |name: &str| query.iter().any(|(n, _)| *n == name);
    let response =
        success_schema(spec, op).ok_or("the answer has no JSON object schema to find items in")?;
    let properties = response
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("the answer has no JSON object schema to find items in")?;
    let items = match fix.and_then(|f| f.items.clone()) {
        Some(items) => items,
        None => item_list(spec, properties)?,
    };
    let item_schema = properties
        .get(&items)
        .map(|p| resolve(spec, p))
        .and_then(|p| p.get("items"))
        .map(|i| resolve(spec, i))
        .ok_or_else(|| format!("the answer has no item list `{items}`"))?;
    let item = match item_schema.get("properties").and_then(Value::as_object) {
        Some(props) => ItemShape::Object {
            key: ["id", "_id"]
                .iter()
                .map(|k| (*k).to_owned())
                .find(|k| props.contains_key(k))
                .or_else(|| {
                    props
                        .iter()
                        .find(|(_, s)| {
                            resolve(spec, s).get("type").and_then(Value::as_str) == Some("string")
                        })
                        .map(|(k, _)| k.clone())
                }),
        },
        // Untyped objects decode to a JSON map, which keeps any key.
        None if item_schema.get("type").and_then(Value::as_str) == Some("object")
            || item_schema.get("type").is_none() =>
        {
            ItemShape::Object {
                key: Some("id".into()),
            }
        }
        None => ItemShape::Scalar,
    };
    let find = |name: &str| envelope_pointer(spec, properties, name);
    let cursor_fix = fix.map(|f| f.cursor.clone()).unwrap_or_default();
    let style = if !cursor_fix.is_empty() {
        Style::Cursor(cursor_fix)
    } else if let Some(param) = ["cursor", "lastMessageId", "pageToken"]
        .into_iter()
        .find(|p| has(p))
    {
        let source = match param {
            "cursor" => find("nextCursor"),
            // v3 (AIP-158): `pagination.nextPageToken`.
            "pageToken" => find("nextPageToken"),
            _ => find(param),
        };
        let source = source.ok_or_else(|| format!("the answer carries no next `{param}`"))?;
        Style::Cursor(vec![CursorParam {
            param: param.into(),
            response: Some(source),
            last_item: Vec::new(),
        }])
    } else if has("startAfter") || has("startAfterId") || has("startAfterDate") {
        let mut params = Vec::new();
        for param in ["startAfter", "startAfterId", "startAfterDate"] {
            if !has(param) {
                continue;
            }
            let source = find(param).ok_or_else(|| {
                format!("the answer carries no next `{param}` and its description names none")
            })?;
            params.push(CursorParam {
                param: param.into(),
                response: Some(source),
                last_item: Vec::new(),
            });
        }
        Style::Cursor(params)
    } else if let Some(param) = ["offset", "skip"].into_iter().find(|p| has(p)) {
        Style::Offset {
            param: param.into(),
        }
    } else if has("page") {
        let schema = query_schema(query, "page");
        if schema.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("string") {
            return Err("`page` is text here, not a page number".into());
        }
        let zero = |key: &str| schema.and_then(|s| s.get(key)).and_then(Value::as_i64) == Some(0);
        Style::PageNumber {
            param: "page".into(),
            first: if zero("minimum") || zero("default") {
                0
            } else {
                1
            },
        }
    } else {
        return Err("no query parameter moves to a next page (only a size is accepted)".into());
    };
    let page_size_param = SIZE_PARAMS.into_iter().find(|p| has(p)).map(str::to_owned);
    let max_page_size = fix.and_then(|f| f.max_page_size).or_else(|| {
        let (_, param) = query
            .iter()
            .find(|(n, _)| Some(*n) == page_size_param.as_deref())?;
        maximum(param)
    });
    let default_page_size = page_size_param.as_deref().and_then(|name| {
        let (_, param) = query.iter().find(|(n, _)| *n == name)?;
        let number = |key: &str| {
            let value = param.get("schema")?.get(key)?;
            value
                .as_u64()
                .or_else(|| value.as_str()?.parse().ok())
                .filter(|n| *n > 0)
        };
        let required = param.get("required").and_then(Value::as_bool) == Some(true);
        number("default").or_else(|| required.then(|| number("example").unwrap_or(20)))
    });
    let total = fix.and_then(|f| f.total.clone()).or_else(|| {
        ["total", "totalCount", "totalRecords"]
            .into_iter()
            .find_map(|name| number_pointer(spec, properties, name))
    });
    let has_more = fix.and_then(|f| f.has_more.clone()).or_else(|| {
        ["hasMore", "hasNext", "nextPage", "hasNextPage"]
            .into_iter()
            .find_map(|name| bool_pointer(spec, properties, name))
    });
    Ok(Row {
        module: module.name.clone(),
        id: String::new(),
        upstream_id: String::new(),
        path: path.to_owned(),
        style,
        page_size_param,
        max_page_size,
        default_page_size,
        items,
        total,
        has_more,
        item,
        overridden: fix.map(|f| vec![f.reason.clone()]).unwrap_or_default(),
    })
}

/// The query parameters of an operation (references resolved), by name.
fn query_params<'s>(spec: &'s Value, op: &'s Value) -> Vec<(&'s str, &'s Value)> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| resolve(spec, p))
        .filter(|p| p.get("in").and_then(Value::as_str) == Some("query"))
        .filter_map(|p| Some((p.get("name")?.as_str()?, p)))
        .collect()
}

fn query_schema<'s>(query: &[(&str, &'s Value)], name: &str) -> Option<&'s Value> {
    query
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, p)| p.get("schema"))
}

/// The largest page size: the schema's `maximum`, else a number after "max" in the
/// description ("maximum is 100", "(max 500)", "will allow maximum up to 100").
fn maximum(param: &Value) -> Option<u64> {
    if let Some(max) = param.pointer("/schema/maximum").and_then(Value::as_u64) {
        return Some(max);
    }
    let text = param.get("description").and_then(Value::as_str)?;
    let lower = text.to_ascii_lowercase();
    lower.match_indices("max").find_map(|(at, _)| {
        let rest = &lower[at..];
        let clause = rest
            .split(['.', ',', ';', '(', ')'])
            .next()
            .unwrap_or_default();
        clause
            .split(|c: char| !c.is_ascii_digit())
            .find(|digits| !digits.is_empty())
            .and_then(|digits| digits.parse().ok())
    })
}

fn resolve<'s>(spec: &'s Value, mut node: &'s Value) -> &'s Value {
    for _ in 0..16 {
        let Some(target) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match target.strip_prefix('#').and_then(|p| spec.pointer(p)) {
            Some(next) => node = next,
            None => break,
        }
    }
    node
}

/// The schema of the first 2xx JSON answer, resolved.
fn success_schema<'s>(spec: &'s Value, op: &'s Value) -> Option<&'s Value> {
    let responses = op.get("responses")?.as_object()?;
    let (_, response) = responses.iter().find(|(code, _)| code.starts_with('2'))?;
    let schema = resolve(spec, response)
        .pointer("/content/application~1json/schema")
        .map(|s| resolve(spec, s))?;
    Some(schema)
}

/// The one array property holding objects (or the one array property at all).
fn item_list(
    spec: &Value,
    properties: &serde_json::Map<String, Value>,
) -> std::result::Result<String, String> {
    let arrays: Vec<(&String, &Value)> = properties
        .iter()
        .filter(|(_, s)| resolve(spec, s).get("type").and_then(Value::as_str) == Some("array"))
        .collect();
    let of_objects: Vec<&String> = arrays
        .iter()
        .filter(|(_, s)| {
            resolve(spec, s)
                .get("items")
                .map(|i| resolve(spec, i))
                .is_some_and(|i| i.get("properties").is_some())
        })
        .map(|(name, _)| *name)
        .collect();
    match (arrays.as_slice(), of_objects.as_slice()) {
        ([], _) => Err("the answer declares no item list".into()),
        ([(only, _)], _) | (_, [only]) => Ok((*only).clone()),
        _ => Err(format!(
            "the answer has several lists ({}); specs/pagination.toml must name the items",
            arrays
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The pointer to a property `name` at the top of the answer or inside `meta`/`pagination`.
fn envelope_pointer(
    spec: &Value,
    properties: &serde_json::Map<String, Value>,
    name: &str,
) -> Option<String> {
    typed_pointer(spec, properties, name, |_| true)
}

fn number_pointer(
    spec: &Value,
    properties: &serde_json::Map<String, Value>,
    name: &str,
) -> Option<String> {
    typed_pointer(spec, properties, name, |ty| {
        matches!(ty, Some("number" | "integer"))
    })
}

fn bool_pointer(
    spec: &Value,
    properties: &serde_json::Map<String, Value>,
    name: &str,
) -> Option<String> {
    typed_pointer(spec, properties, name, |ty| ty == Some("boolean"))
}

fn typed_pointer(
    spec: &Value,
    properties: &serde_json::Map<String, Value>,
    name: &str,
    fits: impl Fn(Option<&str>) -> bool,
) -> Option<String> {
    let type_of = |s: &Value| {
        resolve(spec, s)
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(schema) = properties.get(name)
        && fits(type_of(schema).as_deref())
    {
        return Some(format!("/{name}"));
    }
    ENVELOPES.into_iter().find_map(|envelope| {
        let mut inner = resolve(spec, properties.get(envelope)?);
        // v3 wraps the envelope's `$ref` in a one-part `allOf` (to give it a description).
        if let Some([only]) = inner
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            inner = resolve(spec, only);
        }
        let schema = inner.get("properties")?.get(name)?;
        fits(type_of(schema).as_deref()).then(|| format!("/{envelope}/{name}"))
    })
}

/// `crates/highlevel/PAGINATION.md`: the table, for review and for the facade's rustdoc.
/// `v2 57 of 82, v3 …`: per set, the rows with helpers of its list operations.
fn per_set(modules: &[(&Module, Vec<Row>, Vec<LeftOut>)]) -> String {
    let mut sets: Vec<(&str, usize, usize)> = Vec::new();
    for (module, rows, left) in modules {
        match sets.iter_mut().find(|(set, ..)| *set == module.set) {
            Some((_, r, l)) => {
                *r += rows.len();
                *l += left.len();
            }
            None => sets.push((&module.set, rows.len(), left.len())),
        }
    }
    sets.iter()
        .map(|(set, rows, left)| format!("{set} {rows} of {}", rows + left))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn table_markdown(modules: &[(&Module, Vec<Row>, Vec<LeftOut>)], commit: &str) -> String {
    let rows: usize = modules.iter().map(|(_, r, _)| r.len()).sum();
    let left: usize = modules.iter().map(|(_, _, l)| l.len()).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- @generated by `cargo xtask codegen` from the pinned specs and specs/pagination.toml; do not edit by hand. -->\n\
         # Pagination table\n\n\
         {total} list operations in the specs (GET operations with a paging or page-size query \
         parameter) at `{commit}`: **{rows} with `.pages()` and `.stream()`**, {left} left out \
         (reasons below); per set: {per_set}.\n\n\
         How to read a row: *moves by* is the query parameter the stream advances (an offset \
         grows by the items received, a page number by one, a cursor is copied from the answer \
         or from the page's last item); *page size asked* is what the stream sends \
         when the caller sets no size: the maximum the spec states, else its default; *items* is the response \
         property holding the list; *ends on* lists what ends the stream besides an empty page \
         and a page shorter than asked for.\n",
        total = rows + left,
        commit = &commit[..commit.len().min(7)],
        per_set = per_set(modules)
    );
    let _ = writeln!(
        out,
        "| set | module | operation | path | moves by | page size asked | items | ends on |\n|---|---|---|---|---|---|---|---|"
    );
    for (module, module_rows, _) in modules {
        for row in module_rows {
            let moves = match &row.style {
                Style::Offset { param } => format!("offset `{param}`"),
                Style::PageNumber { param, first } => format!("page `{param}` from {first}"),
                Style::Cursor(params) => params
                    .iter()
                    .map(|c| match (&c.response, c.last_item.as_slice()) {
                        (Some(pointer), _) => format!("cursor `{}` ← `{pointer}`", c.param),
                        (None, pointers) => format!(
                            "cursor `{}` ← last item `{}`",
                            c.param,
                            pointers.join("` or `")
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let size = match (
                &row.page_size_param,
                row.max_page_size,
                row.default_page_size,
            ) {
                (Some(p), Some(max), _) => format!("`{p}` = {max} (maximum)"),
                (Some(p), None, Some(default)) => format!("`{p}` = {default} (default)"),
                (Some(p), None, None) => format!("`{p}` unset (server's default)"),
                (None, ..) => "no parameter (server's)".into(),
            };
            let mut ends = Vec::new();
            if let Some(t) = &row.total {
                ends.push(format!("total `{t}` reached"));
            }
            if let Some(h) = &row.has_more {
                ends.push(format!("`{h}` false"));
            }
            if matches!(row.style, Style::Cursor(_)) {
                ends.push("no next cursor".into());
            }
            let mut operation = format!("`{}`", row.upstream_id);
            for reason in &row.overridden {
                let _ = write!(operation, " *(override: {reason})*");
            }
            let _ = writeln!(
                out,
                "| {} | {} | {operation} | `{}` | {moves} | {size} | `{}` | {} |",
                module.set,
                row.module,
                row.path,
                row.items,
                if ends.is_empty() {
                    "—".to_owned()
                } else {
                    ends.join("; ")
                }
            );
        }
    }
    let _ = writeln!(
        out,
        "\n## Left out\n\n| set | module | operation | path | why |\n|---|---|---|---|---|"
    );
    for (module, _, module_left) in modules {
        for l in module_left {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | `{}` | {} |",
                module.set, l.module, l.upstream_id, l.path, l.reason
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn module() -> Module {
        Module::for_tests("things")
    }

    fn spec(params: Value, response: Value) -> Value {
        json!({
            "paths": { "/things": { "get": {
                "operationId": "list_things",
                "x-upstream-operation-id": "list-things",
                "parameters": params,
                "responses": { "200": { "content": { "application/json": { "schema": response } } } }
            } } },
            "components": { "schemas": {
                "Thing": { "type": "object", "properties": { "name": { "type": "string" }, "id": { "type": "string" } } }
            } }
        })
    }

    fn q(name: &str, schema: Value, description: &str) -> Value {
        json!({ "in": "query", "name": name, "schema": schema, "description": description })
    }

    fn things() -> Value {
        json!({ "type": "array", "items": { "$ref": "#/components/schemas/Thing" } })
    }

    #[test]
    fn offset_pages_with_a_total_and_a_maximum_from_the_description() {
        let spec = spec(
            json!([
                q(
                    "limit",
                    json!({"type": "integer"}),
                    "Defaults to 10, maximum is 100"
                ),
                q("offset", json!({"type": "integer"}), "")
            ]),
            json!({ "type": "object", "properties": { "things": things(), "total": { "type": "number" } } }),
        );
        let (rows, left) = derive(&module(), &spec, &[]).expect("derives");
        assert!(left.is_empty());
        let row = &rows[0];
        assert_eq!(row.id, "list_things");
        assert_eq!(
            row.style,
            Style::Offset {
                param: "offset".into()
            }
        );
        assert_eq!(row.page_size_param.as_deref(), Some("limit"));
        assert_eq!(row.max_page_size, Some(100));
        assert_eq!(row.items, "things");
        assert_eq!(row.total.as_deref(), Some("/total"));
        assert_eq!(
            row.item,
            ItemShape::Object {
                key: Some("id".into())
            }
        );
    }

    #[test]
    fn cursors_come_from_the_meta_envelope_and_page_numbers_start_where_the_spec_says() {
        let spec_cursor = spec(
            json!([
                q("startAfterId", json!({"type": "string"}), ""),
                q("limit", json!({"type": "integer", "maximum": 100}), "")
            ]),
            json!({ "type": "object", "properties": { "things": things(),
                "meta": { "type": "object", "properties": { "startAfterId": { "type": "string" }, "total": { "type": "number" } } } } }),
        );
        let (rows, _) = derive(&module(), &spec_cursor, &[]).expect("derives");
        assert_eq!(
            rows[0].style,
            Style::Cursor(vec![CursorParam {
                param: "startAfterId".into(),
                response: Some("/meta/startAfterId".into()),
                last_item: vec![]
            }])
        );
        assert_eq!(rows[0].total.as_deref(), Some("/meta/total"));
        let spec_pages = spec(
            json!([q("page", json!({"type": "integer", "minimum": 0}), "")]),
            json!({ "type": "object", "properties": { "things": things(), "hasMore": { "type": "boolean" } } }),
        );
        let (rows, _) = derive(&module(), &spec_pages, &[]).expect("derives");
        assert_eq!(
            rows[0].style,
            Style::PageNumber {
                param: "page".into(),
                first: 0
            }
        );
        assert_eq!(rows[0].page_size_param, None);
        assert_eq!(rows[0].has_more.as_deref(), Some("/hasMore"));
    }

    #[test]
    fn operations_that_cannot_page_are_left_out_with_the_reason() {
        let limit_only = spec(
            json!([q("limit", json!({"type": "integer"}), "")]),
            json!({ "type": "object", "properties": { "things": things() } }),
        );
        let (rows, left) = derive(&module(), &limit_only, &[]).expect("derives");
        assert!(rows.is_empty());
        assert!(left[0].reason.contains("only a size"), "{}", left[0].reason);
        let no_list = spec(
            json!([q("skip", json!({"type": "integer"}), "")]),
            json!({ "type": "object", "properties": { "name": { "type": "string" } } }),
        );
        let (_, left) = derive(&module(), &no_list, &[]).expect("derives");
        assert!(
            left[0].reason.contains("no item list"),
            "{}",
            left[0].reason
        );
        let text_page = spec(
            json!([q("page", json!({"type": "string"}), "Facebook page")]),
            json!({ "type": "object", "properties": { "things": things() } }),
        );
        let (_, left) = derive(&module(), &text_page, &[]).expect("derives");
        assert!(left[0].reason.contains("text"), "{}", left[0].reason);
        let cursor_nowhere = spec(
            json!([q("cursor", json!({"type": "string"}), "")]),
            json!({ "type": "object", "properties": { "things": things() } }),
        );
        let (_, left) = derive(&module(), &cursor_nowhere, &[]).expect("derives");
        assert!(
            left[0].reason.contains("no next `cursor`"),
            "{}",
            left[0].reason
        );
    }

    #[test]
    fn overrides_name_what_the_spec_does_not_and_must_match_an_operation() {
        let spec = spec(
            json!([q(
                "startAfterDate",
                json!({}),
                "the sort value of the last document"
            )]),
            json!({ "type": "object", "properties": { "things": things(), "more": things() } }),
        );
        let fix = PagingOverride {
            sets: vec!["v2".into()],
            module: "things".into(),
            operation: "list-things".into(),
            exclude: false,
            items: Some("things".into()),
            total: None,
            has_more: None,
            max_page_size: Some(50),
            cursor: vec![CursorParam {
                param: "startAfterDate".into(),
                response: None,
                last_item: vec!["/sort/0".into()],
            }],
            reason: "because".into(),
        };
        let (rows, left) = derive(&module(), &spec, &[&fix]).expect("derives");
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(rows[0].items, "things");
        assert_eq!(rows[0].max_page_size, Some(50));
        assert_eq!(rows[0].overridden, vec!["because".to_owned()]);
        let stale = PagingOverride {
            operation: "gone".into(),
            ..fix
        };
        assert!(derive(&module(), &spec, &[&stale]).is_err());
    }

    #[test]
    fn maxima_are_read_from_the_usual_phrasings() {
        for (text, max) in [
            ("Maximum allowed value is 100.", Some(100)),
            (
                "Limit Per Page records count. will allow maximum up to 100 and default will be 20",
                Some(100),
            ),
            ("Maximum number of items to return (max 500)", Some(500)),
            ("The default is 50, and the maximum is 1000.", Some(1000)),
            ("Page size (max 50).", Some(50)),
            ("Maximum number of records to return", None),
        ] {
            assert_eq!(maximum(&json!({ "description": text })), max, "{text}");
        }
    }
}
