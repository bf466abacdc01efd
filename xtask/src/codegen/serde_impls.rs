//! `Deserialize` and `Serialize` for generated types, written out instead of derived.
//!
//! serde's derives were most of a module crate's compile time: `Deserialize` gives every
//! struct a field-name enum with its own visitor, a sequence visitor (JSON objects never use
//! it) and, per field decoded through `highlevel_runtime::lenient::optional`, two wrapper
//! types; an open string enum's derive buffers every value to try the `Unrecognized` fallback.
//! In Contacts the `Deserialize` derives alone were half of the crate (6.0 s with them, 3.0 s
//! with none; issue 15). The impls written here read and write the same JSON with a fraction
//! of the code:
//!
//! - a struct's `Deserialize`: one `visit_map`, keys found by
//!   `highlevel_runtime::lenient::FieldIndex`, each value decoded in place (optional fields
//!   through `lenient::put_optional`), unknown keys skipped, a missing required field serde's
//!   own "missing field" error; a key sent twice keeps its last value;
//! - a struct's `Serialize`: `serialize_struct` with each field under its JSON name, a field
//!   whose `skip_serializing_if` holds left out (the length counts only those written);
//! - an open string enum: the string, matched against the listed values, else `Unrecognized`;
//!   written back as the same string;
//! - a `transparent` newtype: its field's own impls;
//! - an `anyOf` object (every field a `flatten`ed lenient `Option` of one variant): each variant
//!   read from the whole object (`None` where it does not fit), and written as one object of the
//!   variants present (`highlevel_runtime::lenient::{flattened, flatten_into}`).
//!
//! A field `deserialize_with = "::std::option::Option::deserialize"` (required, but may be
//! `null`) is read as a required `Option`.
//!
//! A type with anything else in its serde attributes (`untagged`, another `flatten` or `with`,
//! generics) keeps serde's derives: the written impls never guess. A module crate that still
//! has one asks serde for its `derive` feature (`super::emit`); the others, and so a build
//! with only them, do not compile serde_derive at all.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{Ident, Token, parse_quote};

use super::postprocess::{UNRECOGNIZED_VARIANT, derives, is_option};
use crate::Result;

const LENIENT_OPTIONAL: &str = "highlevel_runtime::lenient::optional";
/// A required field that may be `null`: serde reads it through `Option`'s own impl.
const NULLABLE: &str = "::std::option::Option::deserialize";

/// Replaces serde's derived `Deserialize` and `Serialize` by written impls wherever the type
/// allows; returns how many impls were written.
///
/// # Errors
///
/// A written impl that does not parse (a bug here, reported instead of a crate that does not
/// compile).
pub fn apply(file: &mut syn::File) -> Result<usize> {
    let mut writer = WrittenImpls {
        written: 0,
        unparsable: None,
    };
    writer.visit_file_mut(file);
    match writer.unparsable {
        Some(message) => Err(message.into()),
        None => Ok(writer.written),
    }
}

struct WrittenImpls {
    written: usize,
    unparsable: Option<String>,
}

impl WrittenImpls {
    fn rewrite(&mut self, items: &mut Vec<syn::Item>) {
        match rewrite_items(items) {
            Ok(written) => self.written += written,
            Err(message) => self.unparsable = Some(message),
        }
    }
}

impl VisitMut for WrittenImpls {
    fn visit_item_mod_mut(&mut self, module: &mut syn::ItemMod) {
        if let Some((_, items)) = &mut module.content {
            self.rewrite(items);
        }
        visit_mut::visit_item_mod_mut(self, module);
    }

    fn visit_file_mut(&mut self, file: &mut syn::File) {
        self.rewrite(&mut file.items);
        visit_mut::visit_file_mut(self, file);
    }
}

/// Writes each impl right after its type, so `defaults::…` paths resolve as in the derive.
fn rewrite_items(items: &mut Vec<syn::Item>) -> std::result::Result<usize, String> {
    let mut rewritten = Vec::with_capacity(items.len());
    let mut pending = Vec::new();
    let mut written = 0;
    for mut item in std::mem::take(items) {
        let impls = match &mut item {
            syn::Item::Struct(s) => {
                let impls = vec![
                    struct_deserialize(s),
                    struct_serialize(s),
                    transparent_deserialize(s),
                    transparent_serialize(s),
                    any_of_deserialize(s),
                    any_of_serialize(s),
                ];
                if !derives(&s.attrs, "Deserialize") && !derives(&s.attrs, "Serialize") {
                    // Without a serde derive, `#[serde]` is no attribute at all.
                    s.attrs.retain(|a| !a.path().is_ident("serde"));
                    for field in s.fields.iter_mut() {
                        field.attrs.retain(|a| !a.path().is_ident("serde"));
                    }
                }
                impls
            }
            syn::Item::Enum(e) => {
                let impls = vec![enum_deserialize(e), enum_serialize(e)];
                if !derives(&e.attrs, "Deserialize") && !derives(&e.attrs, "Serialize") {
                    for variant in &mut e.variants {
                        variant.attrs.retain(|a| !a.path().is_ident("serde"));
                    }
                }
                impls
            }
            _ => Vec::new(),
        };
        for imp in impls.into_iter().flatten() {
            let parsed = syn::parse2::<syn::Item>(imp).map_err(|e| {
                format!(
                    "serde_impls: an impl written for `{}` does not parse: {e}",
                    item_name(&item)
                )
            })?;
            written += 1;
            pending.push(parsed);
        }
        rewritten.push(item);
        rewritten.append(&mut pending);
    }
    *items = rewritten;
    Ok(written)
}

fn item_name(item: &syn::Item) -> String {
    match item {
        syn::Item::Struct(s) => s.ident.to_string(),
        syn::Item::Enum(e) => e.ident.to_string(),
        _ => String::new(),
    }
}

/// Takes `trait_name` (`Deserialize`, `Serialize`) out of the type's derive list; false when it
/// was not there.
fn drop_derived(attrs: &mut [syn::Attribute], trait_name: &str) -> bool {
    for attr in attrs.iter_mut() {
        if !attr.path().is_ident("derive") {
            continue;
        }
        let Ok(paths) = attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
        else {
            continue;
        };
        let is_derived = |p: &syn::Path| p.segments.last().is_some_and(|s| s.ident == trait_name);
        if !paths.iter().any(is_derived) {
            continue;
        }
        let kept: Vec<&syn::Path> = paths.iter().filter(|p| !is_derived(p)).collect();
        *attr = parse_quote! { #[derive(#(#kept),*)] };
        return true;
    }
    false
}

/// Whether serde's derive of `trait_name` can give way to a written impl: no container
/// attribute, no generics.
fn writable(attrs: &[syn::Attribute], generics: &syn::Generics, trait_name: &str) -> bool {
    derives(attrs, trait_name) && !has_serde_attr(attrs) && generics.params.is_empty()
}

fn has_serde_attr(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("serde"))
}

/// What a field's `#[serde(...)]` attributes ask of deserialization.
#[derive(Debug, Default, PartialEq)]
struct FieldSerde {
    rename: Option<String>,
    default: Option<FieldDefault>,
    lenient: bool,
    /// `deserialize_with = "::std::option::Option::deserialize"`.
    nullable: bool,
    skip_serializing_if: Option<syn::ExprPath>,
}

#[derive(Debug, PartialEq)]
enum FieldDefault {
    Trait,
    Function(syn::ExprPath),
}

/// `None` when an attribute asks for something the lean impl does not do.
fn field_serde(attrs: &[syn::Attribute]) -> Option<FieldSerde> {
    let mut found = FieldSerde::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let mut supported = true;
        attr.parse_nested_meta(|meta| {
            let value =
                || -> syn::Result<String> { Ok(meta.value()?.parse::<syn::LitStr>()?.value()) };
            if meta.path.is_ident("rename") {
                found.rename = Some(value()?);
            } else if meta.path.is_ident("default") {
                found.default = Some(if meta.input.peek(Token![=]) {
                    FieldDefault::Function(syn::parse_str(&value()?)?)
                } else {
                    FieldDefault::Trait
                });
            } else if meta.path.is_ident("deserialize_with") {
                let with = value()?;
                if with == LENIENT_OPTIONAL {
                    found.lenient = true;
                } else if with == NULLABLE {
                    found.nullable = true;
                } else {
                    supported = false;
                }
            } else if meta.path.is_ident("skip_serializing_if") {
                found.skip_serializing_if = Some(syn::parse_str(&value()?)?);
            } else {
                supported = false;
                // Read past its value, so the attribute still parses and the unsupported
                // key, not a parse error, is what sends the type back to serde's derive.
                if meta.input.peek(Token![=]) {
                    meta.value()?.parse::<syn::Expr>()?;
                }
            }
            Ok(())
        })
        .ok()?;
        if !supported {
            return None;
        }
    }
    Some(found)
}

fn struct_deserialize(item: &mut syn::ItemStruct) -> Option<TokenStream> {
    if !writable(&item.attrs, &item.generics, "Deserialize") {
        return None;
    }
    let syn::Fields::Named(fields) = &item.fields else {
        return None;
    };
    let mut names = Vec::new();
    let mut locals = Vec::new();
    let mut arms = Vec::new();
    let mut inits = Vec::new();
    for (index, field) in fields.named.iter().enumerate() {
        let serde = field_serde(&field.attrs)?;
        let ident = field.ident.as_ref()?;
        let name = serde
            .rename
            .clone()
            .unwrap_or_else(|| ident.unraw().to_string());
        if names.contains(&name) {
            return None;
        }
        names.push(name.clone());
        let local = format_ident!("field_{index}");
        let put = if serde.lenient {
            quote! { highlevel_runtime::lenient::put_optional }
        } else {
            quote! { highlevel_runtime::lenient::put }
        };
        arms.push(quote! { ::std::option::Option::Some(#index) => #put(&mut map, &mut #local), });
        let init = match &serde.default {
            Some(FieldDefault::Function(path)) => quote! { #local.unwrap_or_else(#path) },
            Some(FieldDefault::Trait) => quote! { #local.unwrap_or_default() },
            // serde reads a missing `Option` as `None` even without `default`, unless it is
            // read through `Option::deserialize` (required, may be `null`).
            None if is_option(&field.ty) && !serde.nullable => {
                quote! { #local.unwrap_or_default() }
            }
            None => quote! { highlevel_runtime::lenient::required(#local, #name)? },
        };
        locals.push(quote! { let mut #local = ::std::option::Option::None; });
        inits.push(quote! { #ident: #init, });
    }
    if !drop_derived(&mut item.attrs, "Deserialize") {
        return None;
    }
    let ty = &item.ident;
    let type_name = ty.to_string();
    let expecting = format!("an object ({type_name})");
    let visitor = Ident::new(&format!("{type_name}Visitor"), Span::call_site());
    Some(quote! {
        impl<'de> ::serde::Deserialize<'de> for #ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                const FIELDS: &[&str] = &[#(#names),*];
                struct #visitor;
                impl<'de> ::serde::de::Visitor<'de> for #visitor {
                    type Value = #ty;
                    fn expecting(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        formatter.write_str(#expecting)
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> ::std::result::Result<#ty, A::Error> {
                        #(#locals)*
                        while let ::std::option::Option::Some(key) =
                            map.next_key_seed(highlevel_runtime::lenient::FieldIndex(FIELDS))?
                        {
                            // One `?` for all arms: each arm's own would be checked apiece.
                            match key {
                                #(#arms)*
                                _ => highlevel_runtime::lenient::skip(&mut map),
                            }?;
                        }
                        ::std::result::Result::Ok(#ty { #(#inits)* })
                    }
                }
                deserializer.deserialize_struct(#type_name, FIELDS, #visitor)
            }
        }
    })
}

fn struct_serialize(item: &mut syn::ItemStruct) -> Option<TokenStream> {
    if !writable(&item.attrs, &item.generics, "Serialize") {
        return None;
    }
    let syn::Fields::Named(fields) = &item.fields else {
        return None;
    };
    let mut always = 0usize;
    let mut optional_counts = Vec::new();
    let mut writes = Vec::new();
    for field in &fields.named {
        let serde = field_serde(&field.attrs)?;
        let ident = field.ident.as_ref()?;
        let name = serde.rename.unwrap_or_else(|| ident.unraw().to_string());
        let write = quote! { state.serialize_field(#name, &self.#ident)?; };
        match serde.skip_serializing_if {
            Some(skip) => {
                optional_counts.push(quote! { + usize::from(!#skip(&self.#ident)) });
                writes.push(quote! { if !#skip(&self.#ident) { #write } });
            }
            None => {
                always += 1;
                writes.push(write);
            }
        }
    }
    if !drop_derived(&mut item.attrs, "Serialize") {
        return None;
    }
    let ty = &item.ident;
    let type_name = ty.to_string();
    Some(quote! {
        impl ::serde::Serialize for #ty {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeStruct as _;
                let len = #always #(#optional_counts)*;
                let mut state = serializer.serialize_struct(#type_name, len)?;
                #(#writes)*
                state.end()
            }
        }
    })
}

/// An open string enum's values: `(variant, JSON string)`, or `None` when the enum is not one
/// (unit variants with at most a `rename`, and the `Unrecognized(String)` fallback).
fn open_enum_values(item: &syn::ItemEnum) -> Option<Vec<(Ident, String)>> {
    let mut values = Vec::new();
    let mut fallback = false;
    for variant in &item.variants {
        let ident = &variant.ident;
        if ident == UNRECOGNIZED_VARIANT {
            fallback = matches!(&variant.fields, syn::Fields::Unnamed(f) if f.unnamed.len() == 1);
            continue;
        }
        if !matches!(variant.fields, syn::Fields::Unit) {
            return None;
        }
        let serde = field_serde(&variant.attrs)?;
        if serde.default.is_some()
            || serde.lenient
            || serde.nullable
            || serde.skip_serializing_if.is_some()
        {
            return None;
        }
        let name = serde.rename.unwrap_or_else(|| ident.unraw().to_string());
        values.push((ident.clone(), name));
    }
    fallback.then_some(values)
}

fn enum_serialize(item: &mut syn::ItemEnum) -> Option<TokenStream> {
    if !writable(&item.attrs, &item.generics, "Serialize") {
        return None;
    }
    let values = open_enum_values(item)?;
    if !drop_derived(&mut item.attrs, "Serialize") {
        return None;
    }
    let arms = values
        .iter()
        .map(|(variant, name)| quote! { Self::#variant => #name, });
    let ty = &item.ident;
    let fallback = Ident::new(UNRECOGNIZED_VARIANT, Span::call_site());
    Some(quote! {
        impl ::serde::Serialize for #ty {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(match self {
                    #(#arms)*
                    Self::#fallback(value) => value,
                })
            }
        }
    })
}

fn enum_deserialize(item: &mut syn::ItemEnum) -> Option<TokenStream> {
    if !writable(&item.attrs, &item.generics, "Deserialize") {
        return None;
    }
    let values = open_enum_values(item)?;
    if !drop_derived(&mut item.attrs, "Deserialize") {
        return None;
    }
    let arms = values
        .iter()
        .map(|(variant, name)| quote! { #name => Self::#variant, });
    let ty = &item.ident;
    let fallback = Ident::new(UNRECOGNIZED_VARIANT, Span::call_site());
    Some(quote! {
        impl<'de> ::serde::Deserialize<'de> for #ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let value = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                ::std::result::Result::Ok(match value.as_str() {
                    #(#arms)*
                    _ => Self::#fallback(value),
                })
            }
        }
    })
}

/// The keys of a type's own `#[serde(...)]` attributes (`transparent`, `untagged`, ...).
fn container_keys(attrs: &[syn::Attribute]) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            keys.push(
                meta.path
                    .get_ident()
                    .map(Ident::to_string)
                    .unwrap_or_default(),
            );
            if meta.input.peek(Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            }
            Ok(())
        })
        .ok()?;
    }
    Some(keys)
}

/// A `#[serde(transparent)]` tuple struct of one field without attributes of its own.
fn is_transparent(item: &syn::ItemStruct) -> bool {
    item.generics.params.is_empty()
        && container_keys(&item.attrs).is_some_and(|keys| keys == ["transparent"])
        && matches!(&item.fields, syn::Fields::Unnamed(fields)
            if fields.unnamed.len() == 1 && !has_serde_attr(&fields.unnamed[0].attrs))
}

fn transparent_deserialize(item: &mut syn::ItemStruct) -> Option<TokenStream> {
    if !is_transparent(item) || !drop_derived(&mut item.attrs, "Deserialize") {
        return None;
    }
    let ty = &item.ident;
    Some(quote! {
        impl<'de> ::serde::Deserialize<'de> for #ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                ::serde::Deserialize::deserialize(deserializer).map(Self)
            }
        }
    })
}

fn transparent_serialize(item: &mut syn::ItemStruct) -> Option<TokenStream> {
    if !is_transparent(item) || !drop_derived(&mut item.attrs, "Serialize") {
        return None;
    }
    let ty = &item.ident;
    Some(quote! {
        impl ::serde::Serialize for #ty {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&self.0, serializer)
            }
        }
    })
}

/// The fields of an `anyOf` object as typify writes it: no attribute of its own, and every
/// field an `Option` with exactly `flatten`, `skip_serializing_if = "Option::is_none"`,
/// `default` and the lenient `deserialize_with`. `None` for any other struct.
fn any_of_fields(item: &syn::ItemStruct) -> Option<Vec<Ident>> {
    if !item.generics.params.is_empty() || has_serde_attr(&item.attrs) {
        return None;
    }
    let syn::Fields::Named(fields) = &item.fields else {
        return None;
    };
    let mut idents = Vec::new();
    for field in &fields.named {
        let mut keys = Vec::new();
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(Ident::to_string)
                    .unwrap_or_default();
                let value = if meta.input.peek(Token![=]) {
                    meta.value()?.parse::<syn::LitStr>()?.value()
                } else {
                    String::new()
                };
                keys.push((key, value));
                Ok(())
            })
            .ok()?;
        }
        keys.sort();
        let expected = [
            ("default", ""),
            ("deserialize_with", LENIENT_OPTIONAL),
            ("flatten", ""),
            ("skip_serializing_if", "::std::option::Option::is_none"),
        ];
        let matches = keys.len() == expected.len()
            && keys
                .iter()
                .zip(expected)
                .all(|((k, v), (ek, ev))| k == ek && v == ev);
        if !matches || !is_option(&field.ty) {
            return None;
        }
        idents.push(field.ident.clone()?);
    }
    (!idents.is_empty()).then_some(idents)
}

fn any_of_deserialize(item: &mut syn::ItemStruct) -> Option<TokenStream> {
    let fields = any_of_fields(item)?;
    if !drop_derived(&mut item.attrs, "Deserialize") {
        return None;
    }
    let ty = &item.ident;
    Some(quote! {
        impl<'de> ::serde::Deserialize<'de> for #ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let value = <::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer)?;
                ::std::result::Result::Ok(Self {
                    #(#fields: highlevel_runtime::lenient::flattened(&value),)*
                })
            }
        }
    })
}

fn any_of_serialize(item: &mut syn::ItemStruct) -> Option<TokenStream> {
    let fields = any_of_fields(item)?;
    if !drop_derived(&mut item.attrs, "Serialize") {
        return None;
    }
    let ty = &item.ident;
    Some(quote! {
        impl ::serde::Serialize for #ty {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap as _;
                let mut map = serializer.serialize_map(::std::option::Option::None)?;
                #(highlevel_runtime::lenient::flatten_into(&mut map, &self.#fields)?;)*
                map.end()
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(source: &str) -> (usize, String) {
        let mut file: syn::File = syn::parse_str(source).expect("test source parses");
        let written = apply(&mut file).expect("written impls parse");
        (written, prettyplease::unparse(&file))
    }

    #[test]
    fn a_struct_gets_a_visit_map_with_renames_defaults_and_lenient_fields() {
        let (written, code) = rewritten(
            r#"
            pub mod types {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                pub struct Contact {
                    pub id: ::std::string::String,
                    #[serde(rename = "firstName", skip_serializing_if = "::std::option::Option::is_none")]
                    #[serde(default, deserialize_with = "highlevel_runtime::lenient::optional")]
                    pub first_name: ::std::option::Option<::std::string::String>,
                    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
                    pub tags: ::std::vec::Vec<::std::string::String>,
                    #[serde(rename = "allowed", default = "defaults::default_bool::<true>")]
                    pub allowed: bool,
                    pub r#type: ::std::option::Option<i64>,
                }
            }
            "#,
        );
        assert_eq!(written, 2);
        assert!(code.contains("#[derive(Clone, Debug)]"), "{code}");
        assert!(
            !code.contains("#[serde"),
            "no derive left to read it:\n{code}"
        );
        for expected in [
            r#"const FIELDS: &[&str] = &["id", "firstName", "tags", "allowed", "type"];"#,
            "highlevel_runtime::lenient::required(field_0, \"id\")?",
            "highlevel_runtime::lenient::put(&mut map, &mut field_0)\n",
            "highlevel_runtime::lenient::put_optional(\n",
            "&mut field_1,\n",
            "_ => highlevel_runtime::lenient::skip(&mut map),\n",
            "}?;\n",
            "first_name: field_1.unwrap_or_default()",
            "tags: field_2.unwrap_or_default()",
            "allowed: field_3.unwrap_or_else(defaults::default_bool::<true>)",
            "r#type: field_4.unwrap_or_default()",
            "deserializer.deserialize_struct(\"Contact\", FIELDS, ContactVisitor)",
            "let len = 3usize\n",
            "+ usize::from(!::std::option::Option::is_none(&self.first_name))\n",
            "+ usize::from(!::std::vec::Vec::is_empty(&self.tags));",
            "serializer.serialize_struct(\"Contact\", len)?;",
            "state.serialize_field(\"id\", &self.id)?;",
            "if !::std::option::Option::is_none(&self.first_name) {\n",
            "state.serialize_field(\"firstName\", &self.first_name)?;",
            "state.serialize_field(\"allowed\", &self.allowed)?;",
            "state.serialize_field(\"type\", &self.r#type)?;",
        ] {
            assert!(code.contains(expected), "missing `{expected}` in:\n{code}");
        }
    }

    #[test]
    fn an_open_string_enum_matches_its_values_and_falls_back() {
        let (written, code) = rewritten(
            r#"
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
            pub enum Status {
                #[serde(rename = "open")]
                Open,
                Closed,
                #[serde(untagged)]
                Unrecognized(::std::string::String),
            }
            "#,
        );
        assert_eq!(written, 2);
        assert!(!code.contains("#[serde"), "{code}");
        for expected in [
            "\"open\" => Self::Open,",
            "\"Closed\" => Self::Closed,",
            "_ => Self::Unrecognized(value),",
            "Self::Open => \"open\",",
            "Self::Unrecognized(value) => value,",
        ] {
            assert!(code.contains(expected), "missing `{expected}` in:\n{code}");
        }
    }

    #[test]
    fn a_type_with_a_written_and_a_derived_impl_keeps_its_serde_attributes() {
        let (written, code) = rewritten(
            "#[derive(::serde::Deserialize, ::serde::Serialize)] pub struct Body { \
             #[serde(rename = \"b\", serialize_with = \"custom\")] pub a: i64 }",
        );
        assert_eq!(written, 0, "{code}");
        let (written, code) = rewritten(
            "#[derive(::serde::Serialize)] pub struct Body { #[serde(rename = \"b\")] pub a: i64 }",
        );
        assert_eq!(written, 1, "{code}");
        assert!(
            code.contains("state.serialize_field(\"b\", &self.a)?;"),
            "{code}"
        );
    }

    #[test]
    fn types_with_other_serde_attributes_keep_the_derive() {
        for source in [
            "#[derive(::serde::Deserialize)] #[serde(transparent)] pub struct Ids { pub ids: Vec<String> }",
            "#[derive(::serde::Deserialize)] pub struct AnyOf { #[serde(flatten)] pub a: Option<A> }",
            "#[derive(::serde::Deserialize)] #[serde(untagged)] pub enum Either { A(i64), B(String) }",
            "#[derive(::serde::Deserialize)] pub struct Open { #[serde(flatten)] pub extra: ::serde_json::Map<String, ::serde_json::Value> }",
            "#[derive(::serde::Deserialize)] pub struct Custom { #[serde(deserialize_with = \"other\")] pub a: Option<i64> }",
            "#[derive(::serde::Deserialize)] pub enum Closed { A, B }",
            "#[derive(::serde::Serialize)] pub struct Body { #[serde(skip_serializing)] pub a: i64 }",
        ] {
            let (written, code) = rewritten(source);
            assert_eq!(written, 0, "{code}");
            assert_eq!(
                code.contains("derive(::serde::"),
                source.contains("derive(::serde::"),
                "{code}"
            );
        }
    }

    #[test]
    fn a_transparent_newtype_uses_its_fields_impls() {
        let (written, code) = rewritten(
            "#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)] \
             #[serde(transparent)] pub struct Dto(pub ::serde_json::Map<String, ::serde_json::Value>);",
        );
        assert_eq!(written, 2, "{code}");
        assert!(code.contains("#[derive(Clone, Debug)]"), "{code}");
        assert!(!code.contains("#[serde"), "{code}");
        assert!(
            code.contains("::serde::Deserialize::deserialize(deserializer).map(Self)"),
            "{code}"
        );
        assert!(
            code.contains("::serde::Serialize::serialize(&self.0, serializer)"),
            "{code}"
        );
    }

    #[test]
    fn an_any_of_object_reads_each_variant_from_the_whole_object() {
        let (written, code) = rewritten(
            r#"
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default)]
            pub struct CustomField {
                #[serde(flatten, skip_serializing_if = "::std::option::Option::is_none")]
                #[serde(default, deserialize_with = "highlevel_runtime::lenient::optional")]
                pub subtype_0: ::std::option::Option<TextField>,
                #[serde(flatten, skip_serializing_if = "::std::option::Option::is_none")]
                #[serde(default, deserialize_with = "highlevel_runtime::lenient::optional")]
                pub subtype_1: ::std::option::Option<NumericField>,
            }
            "#,
        );
        assert_eq!(written, 2, "{code}");
        assert!(code.contains("#[derive(Clone, Debug, Default)]"), "{code}");
        assert!(!code.contains("#[serde"), "{code}");
        for expected in [
            "subtype_0: highlevel_runtime::lenient::flattened(&value),",
            "subtype_1: highlevel_runtime::lenient::flattened(&value),",
            "highlevel_runtime::lenient::flatten_into(&mut map, &self.subtype_0)?;",
            "highlevel_runtime::lenient::flatten_into(&mut map, &self.subtype_1)?;",
        ] {
            assert!(code.contains(expected), "{expected}\n{code}");
        }
    }

    #[test]
    fn a_nullable_required_field_must_be_present() {
        let (written, code) = rewritten(
            r#"
            #[derive(::serde::Deserialize, Clone, Debug)]
            pub struct Update {
                #[serde(rename = "businessId", deserialize_with = "::std::option::Option::deserialize")]
                pub business_id: ::std::option::Option<::std::string::String>,
                pub note: ::std::option::Option<::std::string::String>,
            }
            "#,
        );
        assert_eq!(written, 1, "{code}");
        let packed: String = code.split_whitespace().collect();
        assert!(
            packed.contains(
                r#"business_id:highlevel_runtime::lenient::required(field_0,"businessId",)?"#
            ),
            "{code}"
        );
        assert!(
            packed.contains("note:field_1.unwrap_or_default()"),
            "{code}"
        );
    }
}
