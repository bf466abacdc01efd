//! progenitor's output names `progenitor_client`'s items; here each is pointed at
//! `highlevel_runtime`'s, so a module crate does not depend on progenitor-client at all.
//!
//! That crate asks serde for its `derive` macros and reqwest for `stream` (tokio's `fs`,
//! tokio-util) in every build of an application using the SDK, and, as its internals are what
//! the generated code calls, it had to be pinned to the exact version that generated it.
//!
//! - `ResponseValue` and `ByteStream` are the runtime's (re-exported as before);
//! - a request that cannot be built is `highlevel_runtime::send::RequestError` (imported as
//!   `RequestError`), not progenitor's `Error<()>`;
//! - query parameters are written by `highlevel_runtime::query::Param`;
//! - a form body is reqwest's own `.form(&body)`, whose failure surfaces when the request is
//!   built;
//! - the `ClientInfo` impl and the `ClientHooks` assertion, which only progenitor's own
//!   `send()` bodies needed, are dropped (`super::send_bodies` replaced those bodies).
//!
//! Any `progenitor_client` path or progenitor `Error` left afterwards fails the generation.

use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{Item, parse_quote};

use crate::Result;

/// Rewrites `file` in place.
///
/// # Errors
///
/// A `progenitor_client` path, or a use of progenitor's `Error`, that this pass does not
/// know how to replace: a newer progenitor emitting something new.
pub fn point_at_runtime(file: &mut syn::File) -> Result<()> {
    file.items.retain(|item| !is_progenitor_only(item));
    let mut paths = Paths {
        unknown: None,
        root_use_rewritten: false,
    };
    paths.visit_file_mut(file);
    if let Some(unknown) = paths.unknown {
        return Err(format!("no runtime item stands in for `{unknown}`").into());
    }
    if !paths.root_use_rewritten {
        return Err("no `pub use progenitor_client::..` at the crate root to rewrite".into());
    }
    // The root's names, as the `builder` module imports them with `use super::{..}`.
    file.items.insert(
        0,
        parse_quote! {
            #[allow(unused_imports)]
            use highlevel_runtime::send::RequestError;
        },
    );
    let text = file.to_token_stream().to_string();
    if text.contains("progenitor_client") {
        return Err("a `progenitor_client` path is left after pointing at the runtime".into());
    }
    Ok(())
}

/// `impl ClientInfo<..> for Client`, the `assert_client_hooks` constant, and the
/// `use progenitor_client::{..}` of the crate root (the root's `pub use` is rewritten).
fn is_progenitor_only(item: &Item) -> bool {
    match item {
        Item::Impl(imp) => imp.trait_.as_ref().is_some_and(|(_, path, _)| {
            path.segments
                .last()
                .is_some_and(|s| s.ident == "ClientInfo" || s.ident == "ClientHooks")
        }),
        Item::Const(constant) => constant
            .expr
            .to_token_stream()
            .to_string()
            .contains("assert_client_hooks"),
        Item::Use(used) => {
            matches!(used.vis, syn::Visibility::Inherited)
                && used
                    .tree
                    .to_token_stream()
                    .to_string()
                    .starts_with("progenitor_client")
        }
        _ => false,
    }
}

struct Paths {
    /// The first path this pass found no stand-in for.
    unknown: Option<String>,
    /// Whether the crate root's `pub use progenitor_client::..` was found (and rewritten).
    root_use_rewritten: bool,
}

impl Paths {
    fn unknown(&mut self, what: impl ToTokens) {
        self.unknown
            .get_or_insert_with(|| what.to_token_stream().to_string());
    }
}

impl VisitMut for Paths {
    fn visit_item_use_mut(&mut self, item: &mut syn::ItemUse) {
        let tree = item.tree.to_token_stream().to_string();
        if tree.starts_with("progenitor_client") {
            // The crate root's `pub use progenitor_client::{ByteStream, ClientInfo, Error,
            // ResponseValue}`: what users name as `highlevel_<module>::ResponseValue`.
            item.tree = parse_quote!(highlevel_runtime::{ByteStream, ResponseValue});
            self.root_use_rewritten = true;
        } else if tree.starts_with("super :: {") && tree.contains("ClientHooks") {
            // The `builder` module's import of the root's names.
            item.tree = parse_quote!(super::{ByteStream, RequestError, ResponseValue});
        }
    }

    fn visit_type_path_mut(&mut self, ty: &mut syn::TypePath) {
        if ty.qself.is_none() && is_progenitor_error(&ty.path) {
            *ty = parse_quote!(RequestError);
            return;
        }
        visit_mut::visit_type_path_mut(self, ty);
    }

    fn visit_expr_path_mut(&mut self, expr: &mut syn::ExprPath) {
        let segments: Vec<String> = expr
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        match segments.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["Error", "InvalidRequest"] => {
                *expr = parse_quote!(RequestError::InvalidRequest);
            }
            ["progenitor_client", "QueryParam", "new"] => {
                *expr = parse_quote!(highlevel_runtime::query::Param::new);
            }
            ["Error", ..] | ["progenitor_client", ..] => self.unknown(&*expr),
            _ => visit_mut::visit_expr_path_mut(self, expr),
        }
    }

    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        // `builder.form_urlencoded(&body)?` (progenitor's extension trait) is
        // `builder.form(&body)`.
        if let syn::Expr::Try(tried) = expr
            && let syn::Expr::MethodCall(call) = &*tried.expr
            && call.method == "form_urlencoded"
        {
            let mut call = call.clone();
            call.method = syn::Ident::new("form", call.method.span());
            *expr = syn::Expr::MethodCall(call);
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}

/// `Error<..>`: progenitor's error, named through the crate root's import.
fn is_progenitor_error(path: &syn::Path) -> bool {
    path.leading_colon.is_none()
        && path.segments.len() == 1
        && path.segments[0].ident == "Error"
        && matches!(
            path.segments[0].arguments,
            syn::PathArguments::AngleBracketed(_)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(code: proc_macro2::TokenStream) -> Result<String> {
        let mut file: syn::File = syn::parse2(code).expect("parses");
        point_at_runtime(&mut file)?;
        Ok(prettyplease::unparse(&file))
    }

    #[test]
    fn progenitor_client_items_become_the_runtimes() {
        let code = rewritten(quote::quote! {
            pub use progenitor_client::{ByteStream, ClientInfo, Error, ResponseValue};
            #[allow(unused_imports)]
            use progenitor_client::{encode_path, ClientHooks, OperationInfo, RequestBuilderExt};
            impl ClientInfo<highlevel_runtime::Runtime> for Client {
                fn baseurl(&self) -> &str { self.baseurl.as_str() }
            }
            const _: () = {
                fn assert_client_hooks() where Client: ClientHooks<highlevel_runtime::Runtime> {}
            };
            pub mod builder {
                use super::{encode_path, ByteStream, ClientInfo, ClientHooks, Error, OperationInfo, RequestBuilderExt, ResponseValue};
                fn send(limit: Result<Option<i64>, String>, body: Result<Body, String>) {
                    let request = (move || -> Result<::reqwest::Request, Error<()>> {
                        let limit = limit.map_err(Error::InvalidRequest)?;
                        let body = body.map_err(Error::InvalidRequest)?;
                        let request = client
                            .client
                            .post(url)
                            .query(&progenitor_client::QueryParam::new("limit", &limit))
                            .form_urlencoded(&body)?
                            .build()?;
                        Ok(request)
                    })();
                }
            }
        })
        .expect("every item has a stand-in");
        let expected = prettyplease::unparse(
            &syn::parse2(quote::quote! {
                #[allow(unused_imports)]
                use highlevel_runtime::send::RequestError;
                pub use highlevel_runtime::{ByteStream, ResponseValue};
                pub mod builder {
                    use super::{ByteStream, RequestError, ResponseValue};
                    fn send(limit: Result<Option<i64>, String>, body: Result<Body, String>) {
                        let request = (move || -> Result<::reqwest::Request, RequestError> {
                            let limit = limit.map_err(RequestError::InvalidRequest)?;
                            let body = body.map_err(RequestError::InvalidRequest)?;
                            let request = client
                                .client
                                .post(url)
                                .query(&highlevel_runtime::query::Param::new("limit", &limit))
                                .form(&body)
                                .build()?;
                            Ok(request)
                        })();
                    }
                }
            })
            .expect("parses"),
        );
        assert_eq!(code, expected);
    }

    #[test]
    fn an_item_without_a_stand_in_fails_the_generation() {
        for code in [
            quote::quote! { fn f() { let e = Error::UnexpectedResponse(r); } },
            quote::quote! { fn f() { progenitor_client::encode_path("x"); } },
            quote::quote! { fn f() -> progenitor_client::Something { todo!() } },
            // Nothing to point at the runtime: not progenitor's output.
            quote::quote! { fn f() {} },
        ] {
            let error = rewritten(code.clone()).expect_err(&code.to_string());
            assert!(
                error.to_string().contains("progenitor_client")
                    || error.to_string().contains("Error ::"),
                "{error}"
            );
        }
    }
}
