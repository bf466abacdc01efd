//! Which of typify's type builders a module crate keeps.
//!
//! With progenitor's builder interface, typify gives every struct a builder
//! (`types::builder::X`, reached by `types::X::builder()`): the way to write a request body field
//! by field, and what an operation's `.body_map(..)` hands you. A type that only ever comes back
//! in responses is read, never written, so its builder is code no caller runs; and builders are
//! a large share of a module crate's compile time (Contacts' `types` module: 4.1 s with all of
//! them, 2.9 s with none; issue 15). The builders kept are those of every type an operation's
//! parameters or body can carry, directly or through a field.

use std::collections::{BTreeMap, BTreeSet};

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
