//! The generated side of the pagination table: a `Paging` constant per row (in the crate's
//! `pagination` module) and, on the row's builder, the `Paginated` implementation plus
//! `.pages()` and `.stream()`. Field and type names are read off progenitor's output, so a
//! row whose operation does not look as the table says fails codegen instead of compiling
//! into a helper that reads nothing.

use heck::{ToPascalCase, ToShoutySnakeCase};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use super::builders::{builder_setters, setter_for};
use crate::Result;
use crate::config::Module;
use crate::pagination::{Row, Style};

/// The name of a row's `Paging` constant.
pub fn const_ident(row: &Row) -> Ident {
    Ident::new(&row.id.to_shouty_snake_case(), Span::call_site())
}

/// Adds the `Paginated` implementations and helpers into the generated `builder` module.
pub fn add_helpers(module: &Module, file: &mut syn::File, rows: &[Row]) -> Result<()> {
    let setters = builder_setters(file);
    let types = module_items(file, "types").cloned().unwrap_or_default();
    let mut additions = Vec::new();
    for row in rows {
        let fail = |what: String| {
            format!(
                "pagination: module `{}`, operation `{}`: {what}",
                module.name, row.upstream_id
            )
        };
        let builder = row.id.to_pascal_case();
        let builder_setters = setters
            .get(&builder)
            .ok_or_else(|| fail(format!("no generated builder `{builder}`")))?;
        let page_type = page_type(file, &builder)
            .ok_or_else(|| fail(format!("`{builder}::send` returns no typed page")))?;
        let page_name =
            last_segment(&page_type).ok_or_else(|| fail("the page type has no name".into()))?;
        let (items_field, items_optional, item_type) = items_field(&types, &page_name, &row.items)
            .ok_or_else(|| {
                fail(format!(
                    "the page type `{page_name}` has no list field for `{}`",
                    row.items
                ))
            })?;
        let item_type = qualify(&types, item_type);
        let mut numbers = Vec::new();
        let mut sets = Vec::new();
        for param in row.query_params() {
            let setter = setter_for(builder_setters, &param).ok_or_else(|| {
                fail(format!(
                    "the builder has no setter for query parameter `{param}`"
                ))
            })?;
            let ident = Ident::new(setter, Span::call_site());
            let ty = &builder_setters[setter];
            numbers.push(quote! { #param => self.#ident.query_number(), });
            let convert = conversion(ty);
            sets.push(quote! { #param => Ok(self.#ident(#convert)), });
        }
        let envelope_fields: Vec<TokenStream> = envelope_names(row)
            .into_iter()
            .map(|wire| {
                let field = field_named(&types, &page_name, &wire)
                    .map(|(ident, _)| ident)
                    .ok_or_else(|| fail(format!("the page type has no field for `{wire}`")))?;
                Ok(quote! { highlevel_runtime::pagination::put_field(&mut envelope, #wire, &page.#field); })
            })
            .collect::<Result<_>>()?;
        let (items_ref, items_owned) = if items_optional {
            (
                quote! { page.#items_field.as_deref().unwrap_or(&[]) },
                quote! { page.#items_field.unwrap_or_default() },
            )
        } else {
            (quote! { &page.#items_field }, quote! { page.#items_field })
        };
        let builder_ident = Ident::new(&builder, Span::call_site());
        let constant = const_ident(row);
        let operation_id = &row.id;
        let pages_doc = format!(
            " Every page of `{} {}`, lazily: one request at a time (see \
             [`Pages::prefetch`](highlevel_runtime::pagination::Pages::prefetch)), each through \
             the runtime (auth, rate limits, retries). {}",
            "GET",
            row.path,
            style_doc(row)
        );
        let stream_doc = format!(
            " Every item of `GET {}`, page after page, lazily; ends after the last page and \
             stops with `Error::Pagination` instead of looping when the server repeats itself. {}",
            row.path,
            style_doc(row)
        );
        additions.push(quote! {
            impl<'a> highlevel_runtime::pagination::Paginated for #builder_ident<'a> {
                type Page = #page_type;
                type Item = #item_type;

                fn paging() -> &'static highlevel_runtime::pagination::Paging {
                    &crate::pagination::#constant
                }

                fn requested_number(&self, param: &'static str) -> Option<u64> {
                    #[allow(unused_imports)]
                    use highlevel_runtime::pagination::QueryNumber as _;
                    match param {
                        #(#numbers)*
                        _ => None,
                    }
                }

                fn with_query(
                    self,
                    param: &'static str,
                    value: &::serde_json::Value,
                ) -> Result<Self, String> {
                    match param {
                        #(#sets)*
                        other => Err(format!("`{other}` is not a query parameter of `{}`", #operation_id)),
                    }
                }

                fn fetch<'f>(self) -> highlevel_runtime::pagination::PageFuture<'f, Self::Page>
                where
                    Self: 'f,
                {
                    highlevel_runtime::pagination::page_request(self.send())
                }

                fn items(page: &Self::Page) -> &[Self::Item] {
                    #items_ref
                }

                fn into_items(page: Self::Page) -> Vec<Self::Item> {
                    #items_owned
                }

                #[allow(unused_mut, unused_variables)]
                fn envelope(page: &Self::Page) -> ::serde_json::Value {
                    let mut envelope = ::serde_json::Map::new();
                    #(#envelope_fields)*
                    ::serde_json::Value::Object(envelope)
                }
            }

            impl<'a> #builder_ident<'a> {
                #[doc = #pages_doc]
                pub fn pages(self) -> highlevel_runtime::pagination::Pages<'a, Self> {
                    highlevel_runtime::pagination::Pages::new(self)
                }

                #[doc = #stream_doc]
                pub fn stream(self) -> highlevel_runtime::pagination::Items<'a, Self> {
                    highlevel_runtime::pagination::Items::new(self)
                }
            }
        });
    }
    if additions.is_empty() {
        return Ok(());
    }
    let parsed: syn::File = syn::parse2(quote! { #(#additions)* }).map_err(|e| {
        format!(
            "module `{}`: pagination helpers do not parse: {e}",
            module.name
        )
    })?;
    let builder = file.items.iter_mut().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == "builder" => m.content.as_mut().map(|(_, items)| items),
        _ => None,
    });
    let builder =
        builder.ok_or_else(|| format!("module `{}`: no `builder` module", module.name))?;
    builder.extend(parsed.items);
    Ok(())
}

/// The crate's `src/pagination.rs`: one `Paging` constant per row and `ALL`.
pub fn pagination_module(rows: &[Row]) -> TokenStream {
    let mut constants = Vec::new();
    let mut names = Vec::new();
    for row in rows {
        let name = const_ident(row);
        let id = &row.id;
        let style = match &row.style {
            Style::Offset { param } => quote! { PagingStyle::Offset { param: #param } },
            Style::PageNumber { param, first } => {
                quote! { PagingStyle::PageNumber { param: #param, first: #first } }
            }
            Style::Cursor(params) => {
                let params = params.iter().map(|c| {
                    let param = &c.param;
                    let source = match &c.response {
                        Some(pointer) => quote! { CursorSource::Response(#pointer) },
                        None => {
                            let pointers = &c.last_item;
                            quote! { CursorSource::LastItem(&[#(#pointers),*]) }
                        }
                    };
                    quote! { CursorParam { param: #param, source: #source } }
                });
                quote! { PagingStyle::Cursor { params: &[#(#params),*] } }
            }
        };
        let option = |value: &Option<String>| match value {
            Some(v) => quote! { Some(#v) },
            None => quote! { None },
        };
        let size = option(&row.page_size_param);
        let max = match row.max_page_size {
            Some(max) => quote! { Some(#max) },
            None => quote! { None },
        };
        let default = match row.default_page_size {
            Some(size) => quote! { Some(#size) },
            None => quote! { None },
        };
        let total = option(&row.total);
        let has_more = option(&row.has_more);
        let items = &row.items;
        let doc = format!(
            " How `GET {}` pages (`.pages()` / `.stream()` on its builder).",
            row.path
        );
        constants.push(quote! {
            #[doc = #doc]
            pub const #name: Paging = Paging {
                operation_id: #id,
                style: #style,
                page_size_param: #size,
                max_page_size: #max,
                default_page_size: #default,
                items: #items,
                total: #total,
                has_more: #has_more,
            };
        });
        names.push(name);
    }
    let count = rows.len();
    quote! {
        //! How this module's list operations page: the rows of the pagination table
        //! (`crates/highlevel/PAGINATION.md`) that belong to it.

        #[allow(unused_imports)]
        pub use highlevel_runtime::pagination::{CursorParam, CursorSource, Items, Pages, Paging, PagingStyle};

        #(#constants)*

        /// Every list operation of this module with `.pages()` and `.stream()`.
        pub static ALL: [&Paging; #count] = [#(&#names),*];
    }
}

fn style_doc(row: &Row) -> String {
    match &row.style {
        Style::Offset { param } => format!("Moves by `{param}`."),
        Style::PageNumber { param, first } => format!("Moves by `{param}`, from {first}."),
        Style::Cursor(params) => format!(
            "Moves by the cursor `{}` each answer names.",
            params
                .iter()
                .map(|c| c.param.as_str())
                .collect::<Vec<_>>()
                .join("` + `")
        ),
    }
}

/// The top-level response properties the row's pointers read.
fn envelope_names(row: &Row) -> Vec<String> {
    let mut pointers: Vec<&String> = row.total.iter().chain(&row.has_more).collect();
    if let Style::Cursor(params) = &row.style {
        pointers.extend(params.iter().filter_map(|c| c.response.as_ref()));
    }
    let mut names: Vec<String> = pointers
        .into_iter()
        .filter_map(|p| p.trim_start_matches('/').split('/').next())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// How a JSON next-page value becomes the setter's argument type.
fn conversion(ty: &syn::Type) -> TokenStream {
    quote! { <#ty as highlevel_runtime::pagination::FromQuery>::from_query(value)? }
}

fn module_items<'f>(file: &'f syn::File, name: &str) -> Option<&'f Vec<syn::Item>> {
    file.items.iter().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == name => m.content.as_ref().map(|(_, items)| items),
        _ => None,
    })
}

/// `T` of `ResponseValue<T>` in the builder's `send` return type.
fn page_type(file: &syn::File, builder: &str) -> Option<syn::Type> {
    let items = module_items(file, "builder")?;
    for item in items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() || last_segment(&imp.self_ty).as_deref() != Some(builder) {
            continue;
        }
        for inner in &imp.items {
            let syn::ImplItem::Fn(f) = inner else {
                continue;
            };
            if f.sig.ident != "send" {
                continue;
            }
            let syn::ReturnType::Type(_, ty) = &f.sig.output else {
                continue;
            };
            return find_generic(ty, "ResponseValue");
        }
    }
    None
}

/// The first type argument of the first path segment named `name` inside `ty`, looking
/// through `impl Future<Output = ..>` (what `send()` returns).
fn find_generic(ty: &syn::Type, name: &str) -> Option<syn::Type> {
    let segments: Vec<&syn::PathSegment> = match ty {
        syn::Type::Path(path) => path.path.segments.iter().collect(),
        syn::Type::ImplTrait(bounds) => bounds
            .bounds
            .iter()
            .filter_map(|bound| match bound {
                syn::TypeParamBound::Trait(t) => Some(t.path.segments.iter()),
                _ => None,
            })
            .flatten()
            .collect(),
        _ => return None,
    };
    for segment in segments {
        let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
            continue;
        };
        for arg in &args.args {
            let inner = match arg {
                syn::GenericArgument::Type(inner) => inner,
                syn::GenericArgument::AssocType(assoc) => &assoc.ty,
                _ => continue,
            };
            if segment.ident == name {
                return Some(inner.clone());
            }
            if let Some(found) = find_generic(inner, name) {
                return Some(found);
            }
        }
    }
    None
}

fn last_segment(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// A field of the `types` struct `name` by its wire name: its ident and type.
fn field_named(types: &[syn::Item], name: &str, wire: &str) -> Option<(Ident, syn::Type)> {
    let strukt = types.iter().find_map(|item| match item {
        syn::Item::Struct(s) if s.ident == name => Some(s),
        _ => None,
    })?;
    strukt.fields.iter().find_map(|field| {
        let ident = field.ident.clone()?;
        (wire_name(field).as_deref() == Some(wire)).then(|| (ident, field.ty.clone()))
    })
}

/// The name a field has in JSON: its `#[serde(rename = "…")]`, else its identifier.
fn wire_name(field: &syn::Field) -> Option<String> {
    for attr in &field.attrs {
        if !attr.path().is_ident("serde") {
            continue;
        }
        let mut renamed = None;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                renamed = Some(value.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
        if renamed.is_some() {
            return renamed;
        }
    }
    field
        .ident
        .as_ref()
        .map(|i| i.to_string().trim_start_matches("r#").to_owned())
}

/// The items field: its ident, whether it is an `Option`, and the item type.
fn items_field(types: &[syn::Item], page: &str, wire: &str) -> Option<(Ident, bool, syn::Type)> {
    let (ident, ty) = field_named(types, page, wire)?;
    if let Some(list) = find_generic(&ty, "Option") {
        return Some((ident, true, find_generic(&list, "Vec")?));
    }
    Some((ident, false, find_generic(&ty, "Vec")?))
}

/// `T` as seen from the `builder` module: a type of the `types` module gets its path.
fn qualify(types: &[syn::Item], ty: syn::Type) -> TokenStream {
    let local = match &ty {
        syn::Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            let name = &p.path.segments[0].ident;
            types.iter().any(|item| match item {
                syn::Item::Struct(s) => s.ident == *name,
                syn::Item::Enum(e) => e.ident == *name,
                syn::Item::Type(t) => t.ident == *name,
                _ => false,
            })
        }
        _ => false,
    };
    if local {
        quote! { types::#ty }
    } else {
        quote! { #ty }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_come_from_serde_renames() {
        let file: syn::File = syn::parse_quote! {
            pub mod types {
                pub struct Page {
                    #[serde(rename = "startAfterId", skip_serializing_if = "Option::is_none")]
                    pub start_after_id: Option<String>,
                    #[serde(default)]
                    pub contacts: Option<Vec<Contact>>,
                    pub r#type: Option<String>,
                }
                pub struct Contact {}
            }
        };
        let types = module_items(&file, "types").expect("types module");
        assert_eq!(
            field_named(types, "Page", "startAfterId")
                .expect("renamed field")
                .0,
            "start_after_id"
        );
        assert_eq!(
            field_named(types, "Page", "type")
                .expect("raw field")
                .0
                .to_string(),
            "r#type"
        );
        let (field, optional, item) = items_field(types, "Page", "contacts").expect("items field");
        assert_eq!(field, "contacts");
        assert!(optional);
        assert_eq!(qualify(types, item).to_string(), "types :: Contact");
    }
}
