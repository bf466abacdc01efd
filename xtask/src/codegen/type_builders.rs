//! Which of typify's type builders a module crate keeps.
//!
//! With progenitor's builder interface, typify gives every struct a builder
//! (`types::builder::X`, reached by `types::X::builder()`): the way to write a request body field
//! by field, and what an operation's `.body_map(..)` hands you. A type that only ever comes back
//! in responses is read, never written, so its builder is code no caller runs; and builders are
//! a large share of a module crate's compile time (Contacts' `types` module: 4.1 s with all of
//! them, 2.9 s with none; issue 15). The builders kept are those of every type an operation's
//! parameters or body can carry, directly or through a field.
//!
//! Each kept setter converts its value through `highlevel_runtime::builder::field` instead of
//! typify's own `try_into().map_err(|e| format!(..))`: the same conversion and message, but one
//! generic function checked once in the runtime rather than a closure and a `format!` per setter
//! checked in every module crate (Contacts' crate: 2.48 to 2.30 s, Invoices' 6.52 to 5.95 s, under
//! `-Ztime-passes`).

use std::collections::{BTreeMap, BTreeSet};

use syn::ext::IdentExt;
use syn::visit::Visit;

/// Removes the builders of types no request can carry; returns how many were removed.
pub fn drop_response_only(file: &mut syn::File) -> usize {
    let roots = request_types(file);
    let Some(types) = module_items_mut(&mut file.items, "types") else {
        return 0;
    };
    let references: BTreeMap<String, BTreeSet<String>> = types
        .iter()
        .filter_map(|item| Some((defined_name(item)?, referenced_names(item))))
        .collect();
    let kept = reachable(&roots, &references);

    let mut dropped = 0;
    if let Some(builders) = module_items_mut(types, "builder") {
        builders.retain(|item| {
            let keep = builder_item_type(item).is_none_or(|name| kept.contains(&name));
            if !keep && matches!(item, syn::Item::Struct(_)) {
                dropped += 1;
            }
            keep
        });
    }
    for item in types.iter_mut() {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() || type_name(&imp.self_ty).is_some_and(|n| kept.contains(&n)) {
            continue;
        }
        imp.items
            .retain(|i| !matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "builder"));
    }
    types.retain(|item| !matches!(item, syn::Item::Impl(imp) if imp.items.is_empty()));
    if module_items_mut(types, "builder").is_some_and(|b| b.is_empty()) {
        types.retain(|item| !matches!(item, syn::Item::Mod(m) if m.ident == "builder"));
    }
    dropped
}

/// Makes every type builder setter convert through `highlevel_runtime::builder::field`;
/// returns how many were rewritten.
///
/// # Errors
///
/// A setter of any other shape than typify's, named, so that a typify change fails generation
/// instead of slipping through unrewritten.
pub fn setters_call_the_runtime(file: &mut syn::File) -> Result<usize, String> {
    let Some(builders) = type_builder_items(file) else {
        return Ok(0);
    };
    let mut rewritten = 0;
    for item in builders.iter_mut() {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let owner = type_name(&imp.self_ty).unwrap_or_default();
        for member in &mut imp.items {
            let syn::ImplItem::Fn(setter) = member else {
                continue;
            };
            let name = setter.sig.ident.to_string();
            rewrite_setter(setter)
                .ok_or_else(|| format!("type builder `{owner}::{name}` is not typify's setter"))?;
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

/// `self.f = value.try_into().map_err(|e| format!("error converting supplied value for f:
/// {e}")); self` becomes `self.f = highlevel_runtime::builder::field(value, "f"); self`.
fn rewrite_setter(setter: &mut syn::ImplItemFn) -> Option<()> {
    let [syn::Stmt::Expr(syn::Expr::Assign(assign), Some(_)), last] = &mut setter.block.stmts[..]
    else {
        return None;
    };
    let returns_self =
        matches!(last, syn::Stmt::Expr(syn::Expr::Path(p), None) if p.path.is_ident("self"));
    let syn::Expr::Field(target) = &*assign.left else {
        return None;
    };
    let syn::Member::Named(field) = &target.member else {
        return None;
    };
    let field_name = field.unraw().to_string();
    let message = format!("error converting supplied value for {field_name}: {{e}}");
    let expected = quote::quote! { value.try_into().map_err(|e| format!(#message)) };
    let right = &assign.right;
    if !returns_self || quote::quote! { #right }.to_string() != expected.to_string() {
        return None;
    }
    *assign.right = syn::parse_quote! { highlevel_runtime::builder::field(value, #field_name) };
    Some(())
}

/// Makes every type builder's `TryFrom` take its fields in one pattern, and report the first
/// failed field through `highlevel_runtime::builder::first_error`; returns how many were
/// rewritten.
///
/// typify writes `Ok(Self { a: value.a?, b: value.b?, .. })`. Each `?` returns early holding
/// every field not yet taken, so the compiler emits drops for all of them at every field:
/// quadratic in the field count (1,045 builders, 6,008 fields across the modules; Contacts'
/// three largest conversions were 17 % of its crate's LLVM lines). The pattern tests each field
/// once and, when one failed, drops the builder whole; the failed field is found by plain
/// `match`es, which (unlike `Result::as_ref`/`err`) instantiate no function per field type.
///
/// # Errors
///
/// A conversion of any other shape than typify's, named, as for setters.
pub fn conversions_check_fields_once(file: &mut syn::File) -> Result<usize, String> {
    let Some(builders) = type_builder_items(file) else {
        return Ok(0);
    };
    let mut rewritten = 0;
    for item in builders.iter_mut() {
        let syn::Item::Impl(imp) = item else { continue };
        let Some(builder) = try_from_builder(imp) else {
            continue;
        };
        let owner = type_name(&imp.self_ty).unwrap_or_default();
        let convert = imp.items.iter_mut().find_map(|member| match member {
            syn::ImplItem::Fn(f) if f.sig.ident == "try_from" => Some(f),
            _ => None,
        });
        let fields = convert
            .as_deref()
            .and_then(|f| typify_conversion_fields(&f.block));
        let (Some(convert), Some(fields)) = (convert, fields) else {
            return Err(format!(
                "type builder conversion `TryFrom<{builder}> for {owner}` is not typify's"
            ));
        };
        if fields.is_empty() {
            continue;
        }
        let builder_ident = syn::Ident::new(&builder, proc_macro2::Span::call_site());
        convert.block = syn::parse_quote! {{
            match value {
                #builder_ident { #( #fields: Ok(#fields) ),* } => Ok(Self { #( #fields ),* }),
                value => Err(highlevel_runtime::builder::first_error(
                    &[ #( match &value.#fields { Ok(_) => None, Err(error) => Some(error) } ),* ],
                ).into()),
            }
        }};
        rewritten += 1;
    }
    Ok(rewritten)
}

/// `X` of `impl TryFrom<X> for super::X`.
fn try_from_builder(imp: &syn::ItemImpl) -> Option<String> {
    let (_, trait_path, _) = imp.trait_.as_ref()?;
    let last = trait_path.segments.last()?;
    if last.ident != "TryFrom" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    match arguments.args.first()? {
        syn::GenericArgument::Type(ty) => type_name(ty),
        _ => None,
    }
}

/// The fields of typify's `Ok(Self { f: value.f?, .. })`, in order; `None` for any other body.
fn typify_conversion_fields(block: &syn::Block) -> Option<Vec<syn::Ident>> {
    let [syn::Stmt::Expr(syn::Expr::Call(ok), None)] = &block.stmts[..] else {
        return None;
    };
    let syn::Expr::Path(callee) = &*ok.func else {
        return None;
    };
    let (1, Some(syn::Expr::Struct(built))) = (ok.args.len(), ok.args.first()) else {
        return None;
    };
    if !callee.path.is_ident("Ok") || !built.path.is_ident("Self") || built.rest.is_some() {
        return None;
    }
    built
        .fields
        .iter()
        .map(|field| {
            let syn::Member::Named(name) = &field.member else {
                return None;
            };
            let syn::Expr::Try(taken) = &field.expr else {
                return None;
            };
            let syn::Expr::Field(read) = &*taken.expr else {
                return None;
            };
            let reads_value = matches!(&*read.base, syn::Expr::Path(p) if p.path.is_ident("value"));
            (reads_value && read.member == field.member).then(|| name.clone())
        })
        .collect()
}

/// The types named by the fields of the operations' builders (top-level `mod builder`): their
/// parameters and bodies, the roots of everything a request can carry.
fn request_types(file: &syn::File) -> BTreeSet<String> {
    let mut names = TypesPaths::default();
    let operation_builders = file.items.iter().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == "builder" => m.content.as_ref().map(|(_, items)| items),
        _ => None,
    });
    for item in operation_builders.into_iter().flatten() {
        if let syn::Item::Struct(s) = item {
            names.visit_fields(&s.fields);
        }
    }
    names.0
}

/// The last segment of every path that goes through a `types` module (`types::X`,
/// `types::builder::X`).
#[derive(Default)]
struct TypesPaths(BTreeSet<String>);

impl<'ast> Visit<'ast> for TypesPaths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.iter().any(|s| s.ident == "types")
            && let Some(last) = path.segments.last()
        {
            self.0.insert(last.ident.to_string());
        }
        syn::visit::visit_path(self, path);
    }
}

/// The last segment of every path in an item: inside `types`, other types are named bare,
/// through `super::`, or inside `Vec<..>`/`Option<..>`, whose arguments are visited too.
#[derive(Default)]
struct AllPaths(BTreeSet<String>);

impl<'ast> Visit<'ast> for AllPaths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(last) = path.segments.last() {
            self.0.insert(last.ident.to_string());
        }
        syn::visit::visit_path(self, path);
    }
}

fn referenced_names(item: &syn::Item) -> BTreeSet<String> {
    let mut paths = AllPaths::default();
    match item {
        syn::Item::Struct(s) => paths.visit_fields(&s.fields),
        syn::Item::Enum(e) => e
            .variants
            .iter()
            .for_each(|v| paths.visit_fields(&v.fields)),
        syn::Item::Type(t) => paths.visit_type(&t.ty),
        _ => {}
    }
    paths.0
}

fn reachable(
    roots: &BTreeSet<String>,
    references: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut kept = BTreeSet::new();
    let mut pending: Vec<String> = roots.iter().cloned().collect();
    while let Some(name) = pending.pop() {
        let Some(named) = references.get(&name) else {
            continue;
        };
        if kept.insert(name) {
            pending.extend(named.iter().cloned());
        }
    }
    kept
}

fn defined_name(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Struct(s) => Some(s.ident.to_string()),
        syn::Item::Enum(e) => Some(e.ident.to_string()),
        syn::Item::Type(t) => Some(t.ident.to_string()),
        _ => None,
    }
}

/// The type a `types::builder` item belongs to: the builder struct's name, or the type its
/// impl is for (`Default`, the setters, `TryFrom<X> for super::X`, `From<super::X> for X`).
fn builder_item_type(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Struct(s) => Some(s.ident.to_string()),
        syn::Item::Impl(imp) => type_name(&imp.self_ty),
        _ => None,
    }
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The items of `types::builder`, where typify puts the type builders.
fn type_builder_items(file: &mut syn::File) -> Option<&mut Vec<syn::Item>> {
    module_items_mut(&mut file.items, "types").and_then(|types| module_items_mut(types, "builder"))
}

fn module_items_mut<'a>(items: &'a mut [syn::Item], name: &str) -> Option<&'a mut Vec<syn::Item>> {
    items.iter_mut().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == name => m.content.as_mut().map(|(_, items)| items),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(code: &str) -> syn::File {
        syn::parse_str(code).expect("test code parses")
    }

    fn builder_names(file: &syn::File) -> Vec<String> {
        let types = file.items.iter().find_map(|i| match i {
            syn::Item::Mod(m) if m.ident == "types" => m.content.as_ref().map(|(_, i)| i),
            _ => None,
        });
        let builders = types.into_iter().flatten().find_map(|i| match i {
            syn::Item::Mod(m) if m.ident == "builder" => m.content.as_ref().map(|(_, i)| i),
            _ => None,
        });
        builders
            .into_iter()
            .flatten()
            .filter_map(|i| match i {
                syn::Item::Struct(s) => Some(s.ident.to_string()),
                _ => None,
            })
            .collect()
    }

    const MODULE: &str = r#"
        pub mod types {
            pub struct Body { pub address: ::std::option::Option<Address>, pub tags: Vec<super::types::Tag> }
            pub struct Address { pub city: String }
            pub struct Tag { pub name: String }
            pub struct Reply { pub body: Body, pub meta: Meta }
            pub struct Meta { pub total: i64 }
            pub enum Filter { One(Meta), Two }
            pub struct Query { pub filter: Filter }
            impl Body { pub fn builder() -> builder::Body { Default::default() } }
            impl Reply { pub fn builder() -> builder::Reply { Default::default() } }
            impl Meta { pub fn builder() -> builder::Meta { Default::default() } }
            impl Address { pub fn builder() -> builder::Address { Default::default() } }
            pub mod builder {
                pub struct Body { address: Result<Option<super::Address>, String> }
                impl Default for Body { fn default() -> Self { todo!() } }
                impl ::std::convert::TryFrom<Body> for super::Body { type Error = String; fn try_from(v: Body) -> Result<Self, String> { todo!() } }
                pub struct Address { city: Result<String, String> }
                pub struct Tag { name: Result<String, String> }
                pub struct Reply { body: Result<super::Body, String> }
                impl ::std::convert::From<super::Reply> for Reply { fn from(v: super::Reply) -> Self { todo!() } }
                pub struct Meta { total: Result<i64, String> }
                impl Meta { pub fn total(self) -> Self { self } }
            }
        }
        pub mod builder {
            pub struct CreateThing<'a> {
                client: &'a super::Client,
                body: Result<types::builder::Body, String>,
            }
            pub struct ListThings<'a> {
                client: &'a super::Client,
                query: Result<Option<types::Query>, String>,
            }
        }
    "#;

    #[test]
    fn keeps_the_builders_of_what_requests_carry_and_drops_the_rest() {
        let mut code = file(MODULE);
        let dropped = drop_response_only(&mut code);
        // Body (a body), Address and Tag (its fields), Meta (through the query's Filter).
        assert_eq!(builder_names(&code), ["Body", "Address", "Tag", "Meta"]);
        assert_eq!(dropped, 1, "Reply is only ever a response");
        let text = quote::quote!(#code).to_string();
        assert!(
            !text.contains("From < super :: Reply > for Reply"),
            "{text}"
        );
        assert!(
            !text.contains("fn builder () -> builder :: Reply"),
            "{text}"
        );
        assert!(text.contains("fn builder () -> builder :: Body"), "{text}");
        assert!(text.contains("fn builder () -> builder :: Meta"), "{text}");
    }

    const SETTERS: &str = r#"
        pub mod types {
            pub mod builder {
                pub struct Address { city: Result<String, String>, r#type: Result<Option<String>, String> }
                impl Address {
                    pub fn city<T>(mut self, value: T) -> Self
                    where T: ::std::convert::TryInto<String>, T::Error: ::std::fmt::Display,
                    {
                        self.city = value
                            .try_into()
                            .map_err(|e| format!("error converting supplied value for city: {e}"));
                        self
                    }
                    pub fn type_<T>(mut self, value: T) -> Self
                    where T: ::std::convert::TryInto<Option<String>>, T::Error: ::std::fmt::Display,
                    {
                        self.r#type = value
                            .try_into()
                            .map_err(|e| format!("error converting supplied value for type: {e}"));
                        self
                    }
                }
                impl ::std::convert::TryFrom<Address> for super::Address {
                    type Error = String;
                    fn try_from(v: Address) -> Result<Self, String> { todo!() }
                }
            }
        }
    "#;

    #[test]
    fn setters_convert_through_the_runtime_with_the_same_message() {
        let mut code = file(SETTERS);
        assert_eq!(setters_call_the_runtime(&mut code), Ok(2));
        let text = quote::quote!(#code).to_string();
        assert!(
            text.contains(
                "self . city = highlevel_runtime :: builder :: field (value , \"city\") ; self"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "self . r#type = highlevel_runtime :: builder :: field (value , \"type\") ; self"
            ),
            "{text}"
        );
        assert!(!text.contains("format !"), "{text}");
        assert!(
            text.contains("fn try_from"),
            "trait impls are left alone: {text}"
        );
    }

    #[test]
    fn a_setter_of_another_shape_fails_generation_naming_it() {
        for (from, to) in [
            ("for city: {e}", "for town: {e}"),
            ("map_err(|e|", "map_err(|err|"),
            (
                "                        self\n                    }\n                    pub fn type_",
                "                        Self::default()\n                    }\n                    pub fn type_",
            ),
            ("self.city = value", "let _ = 1; self.city = value"),
        ] {
            assert!(SETTERS.contains(from), "{from}");
            let mut code = file(&SETTERS.replacen(from, to, 1));
            assert_eq!(
                setters_call_the_runtime(&mut code),
                Err("type builder `Address::city` is not typify's setter".to_owned()),
                "{from} -> {to}"
            );
        }
    }

    const CONVERSION: &str = r#"
        pub mod types {
            pub mod builder {
                pub struct Address { city: Result<String, String>, r#type: Result<Option<String>, String> }
                impl ::std::convert::TryFrom<Address> for super::Address {
                    type Error = super::error::ConversionError;
                    fn try_from(value: Address) -> ::std::result::Result<Self, super::error::ConversionError> {
                        Ok(Self { city: value.city?, r#type: value.r#type? })
                    }
                }
                impl ::std::convert::From<super::Address> for Address {
                    fn from(value: super::Address) -> Self {
                        Self { city: Ok(value.city), r#type: Ok(value.r#type) }
                    }
                }
            }
        }
    "#;

    #[test]
    fn conversions_take_every_field_in_one_pattern_and_report_the_first_error() {
        let mut code = file(CONVERSION);
        assert_eq!(conversions_check_fields_once(&mut code), Ok(1));
        let text = quote::quote!(#code).to_string();
        assert!(
            text.contains(
                "match value { Address { city : Ok (city) , r#type : Ok (r#type) } => \
                 Ok (Self { city , r#type }) , value => Err (highlevel_runtime :: builder :: \
                 first_error (& [match & value . city { Ok (_) => None , Err (error) => \
                 Some (error) } , match & value . r#type { Ok (_) => None , Err (error) => \
                 Some (error) }] ,) . into ()) , }"
            ),
            "{text}"
        );
        assert!(!text.contains('?'), "{text}");
        assert!(
            text.contains("Self { city : Ok (value . city)"),
            "the reverse conversion is left alone: {text}"
        );
    }

    #[test]
    fn a_conversion_of_another_shape_fails_generation_naming_it() {
        for (from, to) in [
            ("city: value.city?", "city: value.town?"),
            ("city: value.city?", "city: other.city?"),
            ("city: value.city?", "city: value.city.unwrap_or_default()"),
            ("Ok(Self {", "Err(Self {"),
            ("r#type: value.r#type? })", "..Default::default() })"),
        ] {
            assert!(CONVERSION.contains(from), "{from}");
            let mut code = file(&CONVERSION.replacen(from, to, 1));
            assert_eq!(
                conversions_check_fields_once(&mut code),
                Err(
                    "type builder conversion `TryFrom<Address> for Address` is not typify's"
                        .to_owned()
                ),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn a_module_without_requests_that_carry_types_loses_every_builder_and_the_module() {
        let mut code = file(
            r#"
            pub mod types {
                pub struct Reply { pub id: String }
                impl Reply { pub fn builder() -> builder::Reply { Default::default() } }
                pub mod builder { pub struct Reply { id: Result<String, String> } }
            }
            pub mod builder { pub struct GetThing<'a> { client: &'a super::Client, id: Result<String, String> } }
            "#,
        );
        assert_eq!(drop_response_only(&mut code), 1);
        let text = quote::quote!(#code).to_string();
        assert!(!text.contains("mod builder { pub struct Reply"), "{text}");
        assert!(!text.contains("impl Reply"), "{text}");
        assert!(text.contains("pub struct GetThing"), "{text}");
    }
}
