//! Rewrites of progenitor's output that its settings cannot express.
//!
//! - Open enums: every string enum typify emits gains an `Unrecognized(String)` variant that
//!   receives values the spec does not list, so one new server value never fails a response.
//!   Parsing from a string (`FromStr`, `TryFrom`) stays strict.
//! - Lenient fields: every `Option` field of a deserialized type decodes through
//!   `highlevel_runtime::lenient::optional`, so a value of the wrong type (the spec says array,
//!   the server sends an object) reads as `None` instead of failing the whole response.
//! - Sends: each builder's `send()` builds its request and returns the runtime's future
//!   (`highlevel_runtime::send`), which runs the hooks with the operation's metadata, decodes
//!   (empty bodies, JSON path on failure) and returns `highlevel_runtime::Error`; no
//!   `api-version` header is built (`super::send_bodies`).
//! - Deprecations: the `Client` method of an operation the spec marks `deprecated: true` gets
//!   `#[deprecated(note = ...)]`, so callers see it at compile time (progenitor ignores the flag).
//!   Only that method: the builder and its `.stream()`/`.pages()` are reached through it, and the
//!   metadata tables are read by the runtime, not called by users.
//! - Runtime items: what progenitor-client provided comes from `highlevel_runtime`
//!   (`super::runtime_items`), so module crates do not depend on progenitor-client.
//! - Type builders: only the types a request can carry keep typify's builder, and its setters
//!   convert through `highlevel_runtime::builder::field` (`super::type_builders`).

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::visit_mut::VisitMut;
use syn::{Ident, parse_quote};

use crate::Result;
use crate::config::Module;
use crate::repair::OperationFacts;

/// The variant added to every string enum.
pub const UNRECOGNIZED_VARIANT: &str = "Unrecognized";

pub fn apply(
    module: &Module,
    code: TokenStream,
    operations: &[OperationFacts],
) -> Result<syn::File> {
    let mut file: syn::File = syn::parse2(code).map_err(|e| {
        format!(
            "module `{}`: progenitor output does not parse: {e}",
            module.name
        )
    })?;

    let mut enums = OpenEnums::default();
    enums.visit_file_mut(&mut file);
    if let Some(name) = enums.collisions.first() {
        return Err(format!(
            "module `{}`: enum `{name}` already has a variant named `{UNRECOGNIZED_VARIANT}`",
            module.name
        )
        .into());
    }
    let mut displays = OpenEnumDisplays {
        enums: &enums.opened,
    };
    displays.visit_file_mut(&mut file);

    LenientFields.visit_file_mut(&mut file);
    super::type_builders::drop_response_only(&mut file);
    super::type_builders::setters_call_the_runtime(&mut file)
        .map_err(|why| format!("module `{}`: {why}", module.name))?;
    super::type_builders::conversions_check_fields_once(&mut file)
        .map_err(|why| format!("module `{}`: {why}", module.name))?;

    let mut sends = SdkSends {
        known: operations.iter().map(|o| o.id.clone()).collect(),
        wrapped: BTreeSet::new(),
        error: None,
    };
    sends.visit_file_mut(&mut file);
    if let Some(error) = sends.error {
        return Err(format!("module `{}`: {error}", module.name).into());
    }
    let missing: Vec<_> = sends.known.difference(&sends.wrapped).collect();
    if !missing.is_empty() {
        return Err(format!(
            "module `{}`: progenitor emitted no builder for operations {missing:?}",
            module.name
        )
        .into());
    }

    let mut deprecations = DeprecatedMethods {
        notes: operations
            .iter()
            .filter_map(|o| Some((o.id.clone(), o.deprecation.clone()?)))
            .collect(),
        marked: BTreeSet::new(),
    };
    deprecations.visit_file_mut(&mut file);
    super::runtime_items::point_at_runtime(&mut file)
        .map_err(|why| format!("module `{}`: {why}", module.name))?;
    let unmarked: Vec<_> = deprecations
        .notes
        .keys()
        .filter(|id| !deprecations.marked.contains(*id))
        .collect();
    if !unmarked.is_empty() {
        return Err(format!(
            "module `{}`: no `Client` method to mark deprecated for operations {unmarked:?}",
            module.name
        )
        .into());
    }
    Ok(file)
}

/// Adds `#[deprecated(note)]` to the `Client` method (named after the operation id) of each
/// deprecated operation.
struct DeprecatedMethods {
    /// Operation id -> note.
    notes: std::collections::BTreeMap<String, String>,
    marked: BTreeSet<String>,
}

impl VisitMut for DeprecatedMethods {
    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let is_client = matches!(&*item.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if item.trait_.is_some() || !is_client {
            return;
        }
        for impl_item in &mut item.items {
            let syn::ImplItem::Fn(f) = impl_item else {
                continue;
            };
            let id = f.sig.ident.to_string();
            if let Some(note) = self.notes.get(&id) {
                f.attrs.push(parse_quote! { #[deprecated(note = #note)] });
                self.marked.insert(id);
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct OpenEnums {
    pub(crate) opened: BTreeSet<String>,
    pub(crate) collisions: Vec<String>,
}

fn is_string_enum(item: &syn::ItemEnum) -> bool {
    let container_serde = item.attrs.iter().any(|attr| attr.path().is_ident("serde"));
    !item.variants.is_empty()
        && derives(&item.attrs, "Deserialize")
        && !container_serde
        // typify writes `#[serde(rename)]` only where the value differs from the variant name.
        && item.variants.iter().all(|v| matches!(v.fields, syn::Fields::Unit))
}

impl VisitMut for OpenEnums {
    fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
        if !is_string_enum(item) {
            return;
        }
        let name = item.ident.to_string();
        if item
            .variants
            .iter()
            .any(|v| v.ident == UNRECOGNIZED_VARIANT)
        {
            self.collisions.push(name);
            return;
        }
        for attr in &mut item.attrs {
            if !attr.path().is_ident("derive") {
                continue;
            }
            if let Ok(list) = attr.meta.require_list() {
                let kept: Vec<syn::Path> = list
                    .parse_args_with(
                        syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                    )
                    .map(|paths| paths.into_iter().filter(|p| !p.is_ident("Copy")).collect())
                    .unwrap_or_default();
                *attr = parse_quote! { #[derive(#(#kept),*)] };
            }
        }
        let variant = Ident::new(UNRECOGNIZED_VARIANT, Span::call_site());
        item.variants.push(parse_quote! {
            /// A value the spec does not list, kept verbatim. Received values land here;
            /// parsing a string (`FromStr`, `TryFrom`) still accepts only the listed values.
            #[serde(untagged)]
            #variant(::std::string::String)
        });
        self.opened.insert(name);
    }
}

pub(crate) struct LenientFields;

/// Whether the item's `#[derive(...)]` lists `trait_name` (`Deserialize`, `Serialize`).
pub(crate) fn derives(attrs: &[syn::Attribute], trait_name: &str) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("derive")
            && attr
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                )
                .is_ok_and(|paths| {
                    paths
                        .iter()
                        .any(|p| p.segments.last().is_some_and(|s| s.ident == trait_name))
                })
    })
}

pub(crate) fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

impl VisitMut for LenientFields {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        if !derives(&item.attrs, "Deserialize") {
            return;
        }
        let syn::Fields::Named(fields) = &mut item.fields else {
            return;
        };
        for field in &mut fields.named {
            if !is_option(&field.ty) {
                continue;
            }
            let serde_tokens: Vec<String> = field
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("serde"))
                .filter_map(|a| a.meta.require_list().ok().map(|l| l.tokens.to_string()))
                .collect();
            if serde_tokens.iter().any(|t| t.contains("with")) {
                continue;
            }
            let has_default = serde_tokens
                .iter()
                .any(|t| t.split(',').any(|part| part.trim().starts_with("default")));
            field.attrs.push(if has_default {
                parse_quote! { #[serde(deserialize_with = "highlevel_runtime::lenient::optional")] }
            } else {
                parse_quote! { #[serde(default, deserialize_with = "highlevel_runtime::lenient::optional")] }
            });
        }
    }
}

pub(crate) struct OpenEnumDisplays<'a> {
    pub(crate) enums: &'a BTreeSet<String>,
}

impl VisitMut for OpenEnumDisplays<'_> {
    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let is_display = item
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last())
            .is_some_and(|s| s.ident == "Display");
        let self_name = match &*item.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        if !is_display || !self_name.is_some_and(|n| self.enums.contains(&n)) {
            return;
        }
        let variant = Ident::new(UNRECOGNIZED_VARIANT, Span::call_site());
        for impl_item in &mut item.items {
            if let syn::ImplItem::Fn(f) = impl_item {
                for stmt in &mut f.block.stmts {
                    if let syn::Stmt::Expr(syn::Expr::Match(m), _) = stmt {
                        m.arms.push(parse_quote! {
                            Self::#variant(ref value) => f.write_str(value),
                        });
                    }
                }
            }
        }
    }
}

struct SdkSends {
    known: BTreeSet<String>,
    wrapped: BTreeSet<String>,
    error: Option<String>,
}

/// `Result<ResponseValue<T>, Error<()>>` -> `T`.
fn success_type(output: &syn::ReturnType) -> Option<syn::Type> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let result = last_segment_args(ty)?;
    let syn::GenericArgument::Type(response_value) = result.first()? else {
        return None;
    };
    let inner = last_segment_args(response_value)?;
    match inner.first()? {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

fn last_segment_args(
    ty: &syn::Type,
) -> Option<&syn::punctuated::Punctuated<syn::GenericArgument, syn::Token![,]>> {
    let syn::Type::Path(p) = ty else { return None };
    match &p.path.segments.last()?.arguments {
        syn::PathArguments::AngleBracketed(a) => Some(&a.args),
        _ => None,
    }
}

/// The `operation_id: "..."` literal progenitor writes into `OperationInfo`.
fn operation_id(block: &syn::Block) -> Option<String> {
    struct Find(Option<String>);
    impl<'ast> syn::visit::Visit<'ast> for Find {
        fn visit_expr_struct(&mut self, s: &'ast syn::ExprStruct) {
            if s.path.is_ident("OperationInfo") {
                for field in &s.fields {
                    if let (syn::Member::Named(name), syn::Expr::Lit(lit)) =
                        (&field.member, &field.expr)
                        && name == "operation_id"
                        && let syn::Lit::Str(value) = &lit.lit
                    {
                        self.0 = Some(value.value());
                    }
                }
            }
            syn::visit::visit_expr_struct(self, s);
        }
    }
    let mut find = Find(None);
    syn::visit::Visit::visit_block(&mut find, block);
    find.0
}

/// The `# Errors` section of every `send()`: each [`highlevel_runtime::Error`] variant a call
/// can end in. A download's body is returned unread, so it is neither decoded nor capped.
fn send_errors_doc(download: bool) -> Vec<&'static str> {
    let mut lines = vec![
        "",
        " # Errors",
        "",
        " [`highlevel_runtime::Error`], naming this operation:",
        " - `Api`: a 4xx/5xx answer (status, message, `traceId`, headers, raw body);",
    ];
    if !download {
        lines.extend([
            " - `Decode`: a 2xx body that does not fit even the lenient type;",
            " - `ResponseTooLarge`: a body past the handle's `max_response_bytes`;",
        ]);
    }
    lines.extend([
        " - `Transport`: the request could not be sent or the answer not read;",
        " - `RateLimited`: the daily quota is spent, or HighLevel asked for a longer wait than",
        "   the retry policy allows (ordinary throttling is waited out, not reported);",
        " - `Auth`: OAuth has no usable token for the handle's location or agency;",
        " - `InvalidRequest` (a missing or invalid argument) or `Hook` (a token, or a multipart",
        "   body, that cannot be sent): nothing was sent.",
    ]);
    lines
}

pub fn const_name(operation_id: &str) -> String {
    operation_id.to_ascii_uppercase()
}

impl VisitMut for SdkSends {
    fn visit_impl_item_fn_mut(&mut self, f: &mut syn::ImplItemFn) {
        if f.sig.ident != "send" || f.sig.asyncness.is_none() {
            return;
        }
        let Some(success) = success_type(&f.sig.output) else {
            self.error = Some(format!("unexpected `send` signature: {}", quote! { #f }));
            return;
        };
        let Some(id) = operation_id(&f.block) else {
            self.error = Some("a `send` without an OperationInfo".into());
            return;
        };
        if !self.known.contains(&id) {
            self.error = Some(format!(
                "`send` for operation `{id}` that the spec does not have"
            ));
            return;
        }
        let meta = Ident::new(&const_name(&id), Span::call_site());
        if let Err(error) = super::send_bodies::rewrite(f, &success, &meta) {
            self.error = Some(error);
            return;
        }
        for line in send_errors_doc(super::send_bodies::is_download(&success)) {
            f.attrs.push(parse_quote! { #[doc = #line] });
        }
        self.wrapped.insert(id);
    }
}

#[cfg(test)]
mod tests {
    use super::send_errors_doc;

    /// The variants of the runtime's `Error`, read from its source: one added there and not
    /// to the `send()` docs fails the test below.
    fn error_variants() -> Vec<String> {
        let source = include_str!("../../../crates/highlevel-runtime/src/error.rs");
        let file = syn::parse_file(source).expect("error.rs parses");
        file.items
            .iter()
            .find_map(|item| match item {
                syn::Item::Enum(e) if e.ident == "Error" => {
                    Some(e.variants.iter().map(|v| v.ident.to_string()).collect())
                }
                _ => None,
            })
            .expect("error.rs has an `Error` enum")
    }

    #[test]
    fn a_sends_errors_name_every_variant_one_call_can_end_in() {
        let json = send_errors_doc(false).concat();
        let download = send_errors_doc(true).concat();
        let variants = error_variants();
        assert!(variants.len() >= 9, "{variants:?}");
        for variant in variants {
            let named = format!("`{variant}`");
            match variant.as_str() {
                // Only a stream of pages ends in it, never one call.
                "Pagination" => assert!(!json.contains(&named) && !download.contains(&named)),
                // A download's body is returned unread.
                "Decode" | "ResponseTooLarge" => {
                    assert!(json.contains(&named), "{variant}");
                    assert!(!download.contains(&named), "{variant}");
                }
                _ => assert!(
                    json.contains(&named) && download.contains(&named),
                    "{variant}"
                ),
            }
        }
    }
}
