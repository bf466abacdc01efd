//! `cargo xtask codegen`: the repaired specs through progenitor into one crate per module.

mod attributes;
pub(crate) mod builders;
mod emit;
mod inlining;
mod links;
mod paging;
pub(crate) mod postprocess;
mod runtime_items;
mod send_bodies;
mod serde_impls;
mod type_builders;
mod urls;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use proc_macro2::TokenStream;
use serde_json::Value;

use crate::Result;
use crate::config::{Module, Project, SpecSet};
use crate::conformance;
use crate::migration;
use crate::openapi;
use crate::pagination;
use crate::repair::{self, OperationFacts};
use crate::specs;

pub use emit::{form_extra_field, form_struct_name, safe_ident};
pub use links::LICENSE_FILES;
pub use paging::const_ident as paging_const_ident;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// One module after generation, ready to be written out.
pub struct GeneratedModule<'a> {
    pub module: &'a Module,
    pub code: syn::File,
    pub operations: Vec<OperationFacts>,
    /// The module's rows of the pagination table.
    pub paging: Vec<pagination::Row>,
}

/// Generates every module; writes the files, or returns the paths that differ from disk.
pub fn run(project: &Project, mode: Mode) -> Result<Vec<String>> {
    let started = std::time::Instant::now();
    let mut files = BTreeMap::new();
    let mut counts = Vec::new();
    let mut paging = Vec::new();
    let mut previous: Option<(&SpecSet, specs::ModuleDocs)> = None;
    for set in &project.sets {
        let common = specs::read_json(project, &set.common)?;
        let docs = specs::load_set(project, set)?;
        specs::check_references(set, &docs, &common)?;
        if let Some((old, old_docs)) = &previous {
            files.insert(
                migration::report_path(old, set),
                migration::report(old, old_docs, set, &docs, &project.pin.commit),
            );
        }
        if !set.generate {
            previous = Some((set, docs));
            continue;
        }
        let per_module = in_parallel(&set.modules, |module| {
            generate_module(project, module, &docs[&module.name], &common)
                .map_err(|e| e.to_string())
        });
        for (module, outcome) in set.modules.iter().zip(per_module) {
            let (module_files, operations, rows, left) = outcome?;
            files.extend(module_files);
            counts.push((module, operations));
            paging.push((module, rows, left));
        }
        previous = Some((set, docs));
    }
    files.insert(
        PAGINATION_TABLE.into(),
        pagination::table_markdown(&paging, &project.pin.commit),
    );
    files.extend(emit::facade_files(project, &counts)?);
    files.extend(emit::conformance_index(project)?);
    files.extend(crate::scopes::scope_file(project)?);
    files.extend(crate::webhook_events::event_files(project)?);
    files.insert(
        attributes::PATH.into(),
        attributes::gitattributes(project, &files),
    );
    let links = links::license_links(project.generated_modules().map(|m| m.crate_name.as_str()));
    let outcome = match mode {
        Mode::Write => {
            write_files(project, &files)?;
            links::write(&project.root, &links)?;
            Vec::new()
        }
        Mode::Check => {
            let mut differing = differing_files(project, &files);
            differing.extend(links::differing(&project.root, &links));
            differing
        }
    };
    let operations: usize = counts.iter().map(|(_, n)| n).sum();
    let lines: usize = files.values().map(|text| text.lines().count()).sum();
    eprintln!(
        "codegen: {} modules, {operations} operations, {} files, {lines} lines in {:.1} s",
        counts.len(),
        files.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(outcome)
}

/// Where the pagination table is written.
pub const PAGINATION_TABLE: &str = "crates/highlevel/PAGINATION.md";

/// A module's files, operation count, and its pagination rows and list operations left out.
type ModuleOutput = (
    BTreeMap<String, String>,
    usize,
    Vec<pagination::Row>,
    Vec<pagination::LeftOut>,
);

/// One module from its cached spec to its crate's files (and its conformance calls); returns
/// them, its operation count and its pagination rows.
fn generate_module(
    project: &Project,
    module: &Module,
    upstream: &Value,
    common: &Value,
) -> Result<ModuleOutput> {
    let overlays: Vec<_> = project.overlays_for(module).collect();
    let schema_overlays: Vec<_> = project.schema_overlays_for(module).collect();
    let repaired = repair::repair(module, upstream.clone(), &overlays, &schema_overlays)?;
    let code = generate(module, &repaired.spec)?;
    let paging_overrides: Vec<_> = project.paging_overrides_for(module).collect();
    let (rows, left) = pagination::derive(module, &repaired.spec, &paging_overrides)?;
    let mut code = postprocess::apply(module, code, &repaired.operations)?;
    paging::add_helpers(module, &mut code, &rows)?;
    // Last: the paging helpers read the fields' JSON names from their `#[serde(rename)]`,
    // which go where no serde derive is left to read them.
    serde_impls::apply(&mut code).map_err(|e| format!("module `{}`: {e}", module.name))?;
    inlining::compile_where_called(&mut code);
    let generated = GeneratedModule {
        module,
        code,
        operations: repaired.operations,
        paging: rows,
    };
    let calls = conformance::calls::module_calls(
        module,
        upstream,
        common,
        &generated.code,
        &generated.operations,
        &generated.paging,
    )?;
    let mut files = emit::module_files(project, &generated)?;
    files.extend(emit::conformance_calls(project, module, calls)?);
    Ok((files, generated.operations.len(), generated.paging, left))
}

/// Maps `f` over `items` on every core, keeping the input order (the output must not depend
/// on scheduling). Token streams are not `Send`, so each module is finished on its thread.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(index) else { break };
                        done.push((index, f(item)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}

fn settings() -> progenitor::GenerationSettings {
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(quote::quote! { highlevel_runtime::Runtime })
        .with_hooks(progenitor::HooksMode::Expected);
    settings
}

/// Runs progenitor on a repaired spec. progenitor and typify report many defects by panicking;
/// a failure is narrowed down to the operation (and its JSON pointer) that causes it.
fn generate(module: &Module, spec: &Value) -> Result<TokenStream> {
    match try_generate(spec) {
        Ok(tokens) => Ok(tokens),
        Err(whole) => {
            for (path, method, op) in openapi::operations(spec) {
                let single = repair::only_operation(spec, path, method);
                if let Err(cause) = try_generate(&single) {
                    let upstream = op
                        .get("x-upstream-operation-id")
                        .or_else(|| op.get("operationId"))
                        .and_then(Value::as_str)
                        .unwrap_or("without operationId");
                    return Err(format!(
                        "set `{}`, module `{}` ({}): operation `{upstream}` at #{} cannot be generated: {cause}",
                        module.set,
                        module.name,
                        module.spec,
                        openapi::operation_pointer(path, method),
                    )
                    .into());
                }
            }
            let names: Vec<String> = spec
                .pointer("/components/schemas")
                .and_then(Value::as_object)
                .map(|s| s.keys().cloned().collect())
                .unwrap_or_default();
            for name in names {
                if let Err(cause) = try_generate(&repair::only_component(spec, &name)) {
                    return Err(format!(
                        "set `{}`, module `{}` ({}): schema #/components/schemas/{} cannot be generated: {cause}",
                        module.set,
                        module.name,
                        module.spec,
                        openapi::pointer_token(&name),
                    )
                    .into());
                }
            }
            Err(format!(
                "set `{}`, module `{}` ({}): cannot be generated: {whole}",
                module.set, module.name, module.spec
            )
            .into())
        }
    }
}

thread_local! {
    /// Set while progenitor runs: its panics are caught and reported as errors, not printed.
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn install_quiet_panic_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

fn try_generate(spec: &Value) -> std::result::Result<TokenStream, String> {
    let openapi: openapiv3::OpenAPI = serde_json::from_value(spec.clone())
        .map_err(|e| format!("not an OpenAPI 3.0 document: {e}"))?;
    install_quiet_panic_hook();
    QUIET_PANICS.with(|quiet| quiet.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        progenitor::Generator::new(&settings()).generate_tokens(&openapi)
    }));
    QUIET_PANICS.with(|quiet| quiet.set(false));
    match outcome {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .map(|m| format!("generator panicked: {m}"))
            .unwrap_or_else(|| "generator panicked".to_owned())),
    }
}

fn write_files(project: &Project, files: &BTreeMap<String, String>) -> Result<()> {
    for stale in stale_generated_crates(project, files) {
        std::fs::remove_dir_all(project.root.join(&stale))
            .map_err(|e| format!("cannot remove {stale}: {e}"))?;
    }
    for stale in stale_conformance_calls(project, files) {
        std::fs::remove_file(project.root.join(&stale))
            .map_err(|e| format!("cannot remove {stale}: {e}"))?;
    }
    for (rel, text) in files {
        let path = project.root.join(rel);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == *text) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {rel}: {e}"))?;
    }
    Ok(())
}

fn differing_files(project: &Project, files: &BTreeMap<String, String>) -> Vec<String> {
    let mut differing: Vec<String> = files
        .iter()
        .filter(|(rel, text)| {
            std::fs::read_to_string(project.root.join(rel)).map_or(true, |old| old != **text)
        })
        .map(|(rel, _)| rel.clone())
        .collect();
    differing.extend(
        stale_generated_crates(project, files)
            .into_iter()
            .map(|dir| format!("{dir}/ (generated crate for no module)")),
    );
    differing.extend(
        stale_conformance_calls(project, files)
            .into_iter()
            .map(|file| format!("{file} (conformance calls for no module)")),
    );
    differing
}

/// Files in the generated conformance calls folder that no module produces any more.
fn stale_conformance_calls(project: &Project, files: &BTreeMap<String, String>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(project.root.join(conformance::CALLS_DIR)) else {
        return Vec::new();
    };
    let mut stale: Vec<String> = entries
        .flatten()
        .map(|e| {
            format!(
                "{}/{}",
                conformance::CALLS_DIR,
                e.file_name().to_string_lossy()
            )
        })
        .filter(|rel| !files.contains_key(rel))
        .collect();
    stale.sort();
    stale
}

/// Generated crate folders (marked by the generated header in their Cargo.toml) that the
/// module table no longer produces.
fn stale_generated_crates(project: &Project, files: &BTreeMap<String, String>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(project.root.join("crates")) else {
        return Vec::new();
    };
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let dir: PathBuf = entry.path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let rel = format!("crates/{}", entry.file_name().to_string_lossy());
        if manifest.starts_with(emit::GENERATED_TOML_HEADER)
            && !files.contains_key(&format!("{rel}/Cargo.toml"))
        {
            stale.push(rel);
        }
    }
    stale.sort();
    stale
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn module() -> Module {
        Module::for_tests("things")
    }

    fn spec(paths: serde_json::Value, schemas: serde_json::Value) -> Value {
        json!({ "openapi": "3.0.0", "info": { "title": "Things", "version": "1.0" },
                "paths": paths, "components": { "schemas": schemas } })
    }

    #[test]
    fn a_failing_operation_is_named_with_its_json_pointer() {
        // `type: any` makes typify panic; left unrepaired, the failure must name the culprit.
        let spec = spec(
            json!({
                "/ok": { "get": { "operationId": "fine", "responses": { "200": { "description": "ok" } } } },
                "/things/{id}": { "get": { "operationId": "broken",
                    "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                    "responses": { "200": { "description": "ok", "content": { "application/json": {
                        "schema": { "type": "object", "properties": { "x": { "type": "any" } } } } } } } } }
            }),
            json!({}),
        );
        let err = generate(&module(), &spec)
            .expect_err("type any must fail")
            .to_string();
        assert!(err.contains("module `things`"), "{err}");
        assert!(err.contains("operation `broken`"), "{err}");
        assert!(err.contains("#/paths/~1things~1{id}/get"), "{err}");
    }

    #[test]
    fn a_failing_component_is_named_when_no_operation_uses_it() {
        let spec = spec(
            json!({ "/ok": { "get": { "operationId": "fine", "responses": { "200": { "description": "ok" } } } } }),
            json!({ "Bad": { "type": "object", "properties": { "x": { "type": "any" } } } }),
        );
        let err = generate(&module(), &spec)
            .expect_err("type any must fail")
            .to_string();
        assert!(err.contains("#/components/schemas/Bad"), "{err}");
    }

    /// The `Client` method of a `deprecated: true` operation carries `#[deprecated]` with the
    /// spec's sentence about it (or the fallback); other methods and the builders do not.
    #[test]
    fn deprecated_operations_warn_through_their_client_method() {
        let get = |id: &str, extra: serde_json::Value| {
            let mut op = json!({ "operationId": id,
                "responses": { "200": { "description": "ok" } } });
            if let (Some(op), Some(extra)) = (op.as_object_mut(), extra.as_object()) {
                op.extend(extra.clone());
            }
            json!({ "get": op })
        };
        let upstream = spec(
            json!({
                "/old": get("get-old", json!({ "deprecated": true,
                    "description": "Lists old things.\n\n**Deprecated.** Use [New things](https://example.com) instead. More." })),
                "/quiet": get("get-quiet", json!({ "deprecated": true, "description": "Lists quiet things" })),
                "/new": get("get-new", json!({ "description": "Lists new things. Not deprecated." })),
            }),
            json!({}),
        );
        let repaired = repair::repair(&module(), upstream, &[], &[]).expect("repairs");
        let code = generate(&module(), &repaired.spec).expect("generates");
        let file = postprocess::apply(&module(), code, &repaired.operations).expect("rewrites");
        let text = prettyplease::unparse(&file);

        let attribute_before = |method: &str| {
            let at = text
                .find(&format!("pub fn {method}(&self)"))
                .unwrap_or_else(|| panic!("no Client method {method}: {text}"));
            let start = text[..at].rfind("*/").unwrap_or(0);
            text[start..at].trim().to_owned()
        };
        assert_eq!(
            attribute_before("get_old"),
            "*/\n    #[deprecated(note = \"Deprecated. Use New things instead.\")]"
        );
        assert_eq!(
            attribute_before("get_quiet"),
            "*/\n    #[deprecated(note = \"deprecated in HighLevel's API spec\")]"
        );
        assert_eq!(attribute_before("get_new"), "*/");
        assert_eq!(
            text.matches("#[deprecated").count(),
            2,
            "only the two Client methods: {text}"
        );
    }

    /// The whole pipeline on a tiny spec: repairs, progenitor, then the rewrites.
    #[test]
    fn generated_code_opens_enums_and_routes_send_through_the_runtime() {
        let upstream = spec(
            json!({ "/things/{thingId}": { "get": { "operationId": "get-thing",
                "parameters": [
                    { "name": "Version", "in": "header", "required": true, "schema": { "type": "string", "enum": ["2021-04-15"] } },
                    { "name": "limit", "in": "query", "schema": { "type": "number" } } ],
                "responses": {
                    "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Thing" } } } },
                    "400": { "description": "bad", "content": { "application/json": { "schema": { "$ref": "../common/common-schemas.json#/components/schemas/BadRequestDTO" } } } } } } } }),
            json!({ "Thing": { "type": "object", "required": ["kind"], "properties": {
                "kind": { "type": "string", "enum": ["a", "b"] },
                "mode": { "type": "string", "enum": ["Pending", "Done"] } } } }),
        );
        let repaired = repair::repair(&module(), upstream, &[], &[]).expect("repairs");
        let code = generate(&module(), &repaired.spec).expect("generates");
        let file = postprocess::apply(&module(), code, &repaired.operations).expect("rewrites");
        let text = prettyplease::unparse(&file);

        assert!(
            text.contains("Unrecognized(::std::string::String)"),
            "{text}"
        );
        assert!(
            text.contains("Self::Unrecognized(ref value) => f.write_str(value)"),
            "{text}"
        );
        assert!(!text.contains("Copy,"), "open enums cannot be Copy: {text}");
        assert_eq!(
            text.matches("Unrecognized(::std::string::String)").count(),
            2,
            "enums whose values need no rename are opened too: {text}"
        );
        assert!(
            text.split_whitespace().collect::<String>().contains(
                "highlevel_runtime::send::json(&client.inner,&client.client,\
                 &crate::operations::GET_THING,request,)"
            ),
            "{text}"
        );
        assert!(
            text.contains("Output = Result<ResponseValue<types::Thing>, highlevel_runtime::Error>"),
            "{text}"
        );
        assert!(
            text.contains("limit: Result<Option<i64>, String>"),
            "paging is an integer: {text}"
        );
        assert!(
            !text.contains("fn version"),
            "Version is not a builder parameter: {text}"
        );
        assert_eq!(
            repaired.operations[0].version.as_deref(),
            Some("2021-04-15")
        );
    }
}
