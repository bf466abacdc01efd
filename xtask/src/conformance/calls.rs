//! One conformance call per generated operation, written as Rust the test suite compiles.
//!
//! Each call goes through the facade exactly as a user writes it: the module accessor, the
//! generated builder, one setter per upstream path and query parameter, the body, `send()`.
//! Argument values come from the upstream schemas ([`super::values`]); their Rust types are
//! read off the generated builders' setters, so the values are decoded into exactly the types
//! a user would pass.

use heck::{ToPascalCase, ToSnakeCase};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_json::Value;
use syn::visit_mut::VisitMut;

use super::values::{Documents, value_for};
use crate::Result;
use crate::codegen::builders::{Setters, builder_setters, setter_for};
use crate::config::Module;
use crate::openapi::pointer_token;
use crate::pagination::{ItemShape, Row};
use crate::repair::{BodyKind, FormFieldKind, OperationFacts};

/// Statuses the suite forces with `Prefer: code=N` where the upstream operation declares them.
const FORCED_STATUSES: [&str; 2] = ["401", "422"];

/// The body of `tests/tests/conformance/calls/<module>.rs`: a `calls()` list for the module.
pub fn module_calls(
    module: &Module,
    upstream: &Value,
    common: &Value,
    code: &syn::File,
    operations: &[OperationFacts],
    paging: &[Row],
) -> Result<TokenStream> {
    let docs = Documents {
        module: upstream,
        common,
    };
    let builders = builder_setters(code);
    let client: syn::Expr = syn::parse_str(&module.client_expression("hl"))
        .map_err(|e| format!("module `{}`: facade accessor: {e}", module.name))?;
    let facade_path: syn::Path = syn::parse_str(&format!("highlevel::{}", module.facade_path()))
        .map_err(|e| format!("module `{}`: facade path: {e}", module.name))?;
    let set = &module.set;
    let mut calls = Vec::new();
    let mut paging_calls = Vec::new();
    for op in operations {
        let fail = |what: String| {
            format!(
                "conformance calls: module `{}`, operation `{}`: {what}",
                module.name, op.upstream_id
            )
        };
        let builder_name = op.id.to_pascal_case();
        let setters = builders
            .get(&builder_name)
            .ok_or_else(|| fail(format!("no generated builder `{builder_name}`")))?;
        let path_item = upstream.pointer(&format!("/paths/{}", pointer_token(&op.path)));
        let spec_op = path_item
            .and_then(|item| item.get(op.method.to_ascii_lowercase()))
            .ok_or_else(|| {
                fail(format!(
                    "{} {} not in the upstream spec",
                    op.method, op.path
                ))
            })?;
        let method = syn::Ident::new(&op.id, Span::call_site());
        let row = paging.iter().find(|r| r.id == op.id);
        let paging_params = row.map(Row::query_params).unwrap_or_default();
        let mut chain = Vec::new();
        // The same arguments without the paging parameters, which the stream sets itself.
        let mut paging_chain = Vec::new();
        let mut unset: Vec<&String> = setters.keys().collect();
        for param in parameters(upstream, path_item, spec_op) {
            let location = param.get("in").and_then(Value::as_str).unwrap_or("");
            if !matches!(location, "path" | "query") {
                continue;
            }
            let Some(name) = param.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(setter) = setter_for(setters, name) else {
                continue;
            };
            unset.retain(|s| *s != setter);
            let mut schema = param.get("schema").cloned().unwrap_or(Value::Null);
            if let (Some(example), Some(fields)) = (param.get("example"), schema.as_object_mut()) {
                fields.entry("example").or_insert_with(|| example.clone());
            }
            let value = as_parameter(value_for(docs, &schema), setters.get(setter));
            let call = setter_call(module, setters, setter, &value);
            if !paging_params.iter().any(|p| p == name) {
                paging_chain.push(call.clone());
            }
            chain.push(call);
        }
        if setters.contains_key("body") {
            unset.retain(|s| *s != "body");
            chain.push(body_call(module, docs, op, spec_op, setters, &fail)?);
        }
        // Path parameters the upstream operation leaves undeclared (the generator declares
        // them): any string fills the path segment.
        for setter in unset {
            let call = setter_call(
                module,
                setters,
                setter,
                &Value::String("conformance".into()),
            );
            paging_chain.push(call.clone());
            chain.push(call);
        }
        // A call to a deprecated operation is meant (the suite covers every operation), so
        // its warning is silenced on that statement alone.
        let allow_deprecated = op
            .deprecation
            .is_some()
            .then(|| quote! { #[allow(deprecated)] });
        if let Some(row) = row {
            let constant = crate::codegen::paging_const_ident(row);
            let item_key = match &row.item {
                ItemShape::Object { key: Some(key) } => quote! { Some(#key) },
                ItemShape::Object { key: None } | ItemShape::Scalar => quote! { None },
            };
            let module_name = &module.name;
            let upstream_id = &op.upstream_id;
            paging_calls.push(quote! {
                PagingCall {
                    set: #set,
                    module: #module_name,
                    operation_id: #upstream_id,
                    paging: &#facade_path::pagination::#constant,
                    item_key: #item_key,
                    run: |hl, options| {
                        boxed_stream(async move {
                            let client = #client;
                            #allow_deprecated
                            let stream = client.#method() #(#paging_chain)* .stream();
                            Ok(collect(stream, options).await)
                        })
                    },
                }
            });
        }
        let forced: Vec<u16> = FORCED_STATUSES
            .iter()
            .filter(|status| spec_op.pointer(&format!("/responses/{status}")).is_some())
            .filter_map(|status| status.parse().ok())
            .collect();
        let module_name = &module.name;
        let upstream_id = &op.upstream_id;
        let http_method = &op.method;
        let path = &op.path;
        calls.push(quote! {
            Call {
                set: #set,
                module: #module_name,
                operation_id: #upstream_id,
                method: #http_method,
                path: #path,
                forced_statuses: &[#(#forced),*],
                run: |hl| {
                    boxed(async move {
                        let client = #client;
                        #allow_deprecated
                        let response = client.#method() #(#chain)* .send().await;
                        Ok(observe(response))
                    })
                },
            }
        });
    }
    Ok(quote! {
        #[allow(unused_imports)]
        use highlevel_tests::conformance::{Call, arg, boxed, observe};
        #[allow(unused_imports)]
        use highlevel_tests::paging::{PagingCall, boxed_stream, collect};

        /// One call per operation of the module, with arguments built from the upstream spec.
        pub fn calls() -> Vec<Call> {
            Vec::from([#(#calls),*])
        }

        /// One `.stream()` per row of the pagination table in this module, with the same
        /// arguments less the paging parameters.
        pub fn paging_calls() -> Vec<PagingCall> {
            Vec::from([#(#paging_calls),*])
        }
    })
}

/// Path-item and operation parameters, references resolved (operation ones win).
fn parameters<'a>(upstream: &'a Value, item: Option<&'a Value>, op: &'a Value) -> Vec<&'a Value> {
    let resolve = |p: &'a Value| -> Option<&'a Value> {
        match p.get("$ref").and_then(Value::as_str) {
            Some(target) => target
                .strip_prefix('#')
                .and_then(|pointer| upstream.pointer(pointer)),
            None => Some(p),
        }
    };
    let mut out: Vec<&Value> = Vec::new();
    for source in [item.and_then(|i| i.get("parameters")), op.get("parameters")] {
        for param in source
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(resolve)
        {
            let key = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
            out.retain(|known| key(known) != key(param));
            out.push(param);
        }
    }
    out
}

/// A path or query value travels as text: where the generated setter takes a string (our
/// repairs untype some contradicted parameters), the upstream value is passed as its text.
fn as_parameter(value: Value, ty: Option<&syn::Type>) -> Value {
    let takes_string = ty.is_some_and(|ty| {
        matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "String"))
    });
    match value {
        Value::Bool(_) | Value::Number(_) if takes_string => Value::String(value.to_string()),
        other => other,
    }
}

fn setter_call(module: &Module, setters: &Setters, setter: &str, value: &Value) -> TokenStream {
    let ident = syn::Ident::new(setter, Span::call_site());
    let ty = setters
        .get(setter)
        .map(|ty| qualified(module, ty))
        .unwrap_or_else(|| quote! { ::std::string::String });
    let json = raw_string(&value.to_string());
    quote! { .#ident(arg::<#ty>(#json)?) }
}

/// `text` as a raw string literal, so the JSON reads as JSON in the generated file.
fn raw_string(text: &str) -> TokenStream {
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{text}\"{hashes}")
        .parse()
        .unwrap_or_else(|_| quote! { #text })
}

fn body_call(
    module: &Module,
    docs: Documents<'_>,
    op: &OperationFacts,
    spec_op: &Value,
    setters: &Setters,
    fail: &dyn Fn(String) -> String,
) -> Result<TokenStream> {
    let content = spec_op.pointer("/requestBody/content");
    match op.request_body {
        BodyKind::Multipart => Ok(multipart_body(module, op)),
        BodyKind::OctetStream => Ok(quote! { .body(b"conformance".to_vec()) }),
        BodyKind::Json | BodyKind::FormUrlencoded => {
            let schema = content
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|media| media.get("schema"))
                .ok_or_else(|| fail("request body without a schema".into()))?;
            let value = value_for(docs, schema);
            Ok(setter_call(module, setters, "body", &value))
        }
        BodyKind::None => Err(fail("a body setter but no request body".into()).into()),
    }
}

/// The module's path under the facade (`highlevel::v3::contacts`).
fn facade_segments(module: &Module) -> Vec<syn::Ident> {
    module
        .facade_path()
        .split("::")
        .map(|segment| syn::Ident::new(segment, Span::call_site()))
        .collect()
}

fn multipart_body(module: &Module, op: &OperationFacts) -> TokenStream {
    let facade = facade_segments(module);
    let form = syn::Ident::new(&crate::codegen::form_struct_name(op), Span::call_site());
    let extra = syn::Ident::new(&crate::codegen::form_extra_field(op), Span::call_site());
    let fields = op.multipart_fields.iter().map(|field| {
        let ident = syn::Ident::new(
            &crate::codegen::safe_ident(&field.name.to_snake_case()),
            Span::call_site(),
        );
        let value = match field.kind {
            FormFieldKind::File => quote! {
                highlevel::runtime::FilePart::new("conformance.txt", b"conformance".to_vec())
                    .with_content_type("text/plain")
            },
            FormFieldKind::Text => quote! { "conformance".to_owned() },
            FormFieldKind::Boolean => quote! { true },
            FormFieldKind::Number => quote! { 1.0 },
            // Two values: Prism reads a field sent once as a string, not a list.
            FormFieldKind::TextList => {
                quote! { vec!["conformance".to_owned(), "conformance-2".to_owned()] }
            }
        };
        let value = if field.required || field.kind == FormFieldKind::TextList {
            value
        } else {
            quote! { Some(#value) }
        };
        quote! { #ident: #value }
    });
    quote! {
        .body(highlevel::#(#facade)::*::multipart::#form {
            #(#fields,)*
            #extra: Vec::new(),
        })
    }
}

/// `ty` as the test crate names it: the generated crate's `types::…` through the facade.
fn qualified(module: &Module, ty: &syn::Type) -> TokenStream {
    struct Qualify(Vec<syn::Ident>);
    impl VisitMut for Qualify {
        fn visit_type_path_mut(&mut self, node: &mut syn::TypePath) {
            let first = node.path.segments.first().map(|s| s.ident.to_string());
            if node.qself.is_none()
                && node.path.leading_colon.is_none()
                && matches!(first.as_deref(), Some("types" | "super"))
            {
                let facade = &self.0;
                let rest: Vec<_> = node
                    .path
                    .segments
                    .iter()
                    .skip_while(|s| s.ident == "super")
                    .cloned()
                    .collect();
                *node = syn::parse_quote! { highlevel::#(#facade)::*::#(#rest)::* };
            }
            syn::visit_mut::visit_type_path_mut(self, node);
        }
    }
    let mut ty = ty.clone();
    Qualify(facade_segments(module)).visit_type_mut(&mut ty);
    quote! { #ty }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_and_their_types_are_read_off_the_builders() {
        let code: syn::File = syn::parse_quote! {
            pub mod builder {
                impl<'a> GetThing<'a> {
                    pub fn new(client: &'a super::Client) -> Self { todo!() }
                    pub fn location_id<V>(mut self, value: V) -> Self
                    where
                        V: std::convert::TryInto<::std::string::String>,
                    { todo!() }
                    pub fn body<V>(mut self, value: V) -> Self
                    where
                        V: std::convert::TryInto<types::ThingDto>,
                        <V as std::convert::TryInto<types::ThingDto>>::Error: std::fmt::Display,
                    { todo!() }
                    pub fn body_map<F>(mut self, f: F) -> Self
                    where F: std::ops::FnOnce(types::builder::ThingDto) -> types::builder::ThingDto,
                    { todo!() }
                }
            }
        };
        let builders = builder_setters(&code);
        let setters = &builders["GetThing"];
        assert_eq!(
            setters.keys().collect::<Vec<_>>(),
            vec!["body", "location_id"]
        );
        let module = Module::for_tests("things");
        assert_eq!(
            qualified(&module, &setters["body"]).to_string(),
            quote! { highlevel::things::types::ThingDto }.to_string()
        );
        assert_eq!(
            setter_for(setters, "locationId"),
            Some(&"location_id".to_owned())
        );
        assert_eq!(
            setter_for(setters, "LocationID"),
            Some(&"location_id".to_owned())
        );
        assert_eq!(setter_for(setters, "body"), None);
    }
}
