//! What progenitor generated for each operation's builder: its setters and their argument
//! types, read off the generated code so that hand-made calls match it exactly.

use std::collections::BTreeMap;

use heck::ToSnakeCase;

/// A builder's setters: name → the type its `TryInto` bound names.
pub type Setters = BTreeMap<String, syn::Type>;

/// The setter progenitor made for the wire name `name` (it snake-cases and sanitises).
pub fn setter_for<'s>(setters: &'s Setters, name: &str) -> Option<&'s String> {
    let squash = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let snake = name.to_snake_case();
    setters
        .keys()
        .find(|s| **s == snake)
        .or_else(|| setters.keys().find(|s| squash(s) == squash(name)))
        .filter(|s| *s != "body")
}

/// Every builder in the generated `builder` module and its setters' argument types.
pub fn builder_setters(code: &syn::File) -> BTreeMap<String, Setters> {
    let mut out = BTreeMap::new();
    let builder_items = code.items.iter().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == "builder" => m.content.as_ref().map(|(_, items)| items),
        _ => None,
    });
    for item in builder_items.into_iter().flatten() {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let syn::Type::Path(self_ty) = &*imp.self_ty else {
            continue;
        };
        let Some(name) = self_ty.path.segments.last().map(|s| s.ident.to_string()) else {
            continue;
        };
        let setters: &mut Setters = out.entry(name).or_default();
        for inner in &imp.items {
            let syn::ImplItem::Fn(f) = inner else {
                continue;
            };
            if let Some(target) = try_into_target(&f.sig) {
                setters.insert(f.sig.ident.to_string(), target);
            }
        }
    }
    out
}

/// `T` of a setter's `V: std::convert::TryInto<T>` bound.
fn try_into_target(sig: &syn::Signature) -> Option<syn::Type> {
    let clause = sig.generics.where_clause.as_ref()?;
    for predicate in &clause.predicates {
        let syn::WherePredicate::Type(pt) = predicate else {
            continue;
        };
        // Only the bound on the setter's own parameter, not `<V as ..>::Error: Display`.
        if !matches!(&pt.bounded_ty, syn::Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1)
        {
            continue;
        }
        for bound in &pt.bounds {
            let syn::TypeParamBound::Trait(t) = bound else {
                continue;
            };
            let Some(last) = t.path.segments.last() else {
                continue;
            };
            if last.ident != "TryInto" {
                continue;
            }
            if let syn::PathArguments::AngleBracketed(args) = &last.arguments
                && let Some(syn::GenericArgument::Type(target)) = args.args.first()
            {
                return Some(target.clone());
            }
        }
    }
    None
}
