//! Each `send()` calls the runtime's hooks with its own operation's metadata.
//!
//! progenitor's builders go through `ClientHooks` with an `OperationInfo` that only carries the
//! operation's name, so the hooks had to look the metadata up by name on every call, and they
//! send progenitor's `api-version` header (the spec's `info.version`), which HighLevel does not
//! read and the runtime then had to remove. Both cost every request something; the generator
//! knows the operation, so it passes `&operations::<OPERATION>` and never adds the header.
//!
//! The `ClientHooks` impl stays: progenitor asserts that `Client` implements it.

use proc_macro2::Ident;
use syn::parse_quote;
use syn::visit_mut::{self, VisitMut};

/// The header progenitor adds to every request.
const PROGENITOR_API_VERSION: &str = "api-version";

/// Rewrites one `send()` body: `client.pre/exec` become direct calls of
/// `highlevel_runtime::hooks::{pre, exec}` with `meta`, `client.post` (a no-op) and the
/// `OperationInfo` go, and so does progenitor's `api-version` header.
///
/// # Errors
///
/// A message when the body does not have progenitor's shape (a hook call or the
/// `OperationInfo` is missing), so a progenitor upgrade that changes it fails generation
/// instead of silently keeping the lookup.
pub fn rewrite(block: &mut syn::Block, meta: &Ident) -> Result<(), String> {
    let mut calls = HookCalls {
        meta,
        pre: false,
        exec: false,
    };
    calls.visit_block_mut(block);
    let mut removed_info = false;
    let mut removed_post = false;
    block.stmts.retain(|stmt| {
        if is_operation_info(stmt) {
            removed_info = true;
            return false;
        }
        if is_post_call(stmt) {
            removed_post = true;
            return false;
        }
        true
    });
    if !(calls.pre && calls.exec && removed_info && removed_post) {
        return Err(format!(
            "`send` for `{meta}` has no `client.pre`/`exec`/`post` or `OperationInfo` where \
             progenitor 0.15 writes them"
        ));
    }
    drop_api_version_header(block);
    Ok(())
}

struct HookCalls<'a> {
    meta: &'a Ident,
    pre: bool,
    exec: bool,
}

impl VisitMut for HookCalls<'_> {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        if let syn::Expr::MethodCall(call) = expr
            && is_client(&call.receiver)
        {
            let meta = self.meta;
            match call.method.to_string().as_str() {
                "pre" if call.args.len() == 2 => {
                    let request = &call.args[0];
                    *expr = parse_quote! {
                        highlevel_runtime::hooks::pre(
                            &client.inner,
                            #request,
                            Some(&crate::operations::#meta),
                        )
                    };
                    self.pre = true;
                    // `.await?` stays on the call; progenitor's `Error::Custom` carries
                    // the hook's message, as the `ClientHooks` impl did.
                    return;
                }
                "exec" if call.args.len() == 2 => {
                    let request = &call.args[0];
                    *expr = parse_quote! {
                        highlevel_runtime::hooks::exec(
                            &client.inner,
                            &client.client,
                            #request,
                            Some(&crate::operations::#meta),
                        )
                    };
                    self.exec = true;
                    return;
                }
                _ => {}
            }
        }
        visit_mut::visit_expr_mut(self, expr);
        // `hooks::pre` answers `Result<(), String>`: map it where its `?` is.
        if let syn::Expr::Try(tried) = expr
            && let syn::Expr::Await(awaited) = &*tried.expr
            && is_hooks_pre(&awaited.base)
        {
            let awaited = awaited.clone();
            *expr = parse_quote! { #awaited.map_err(Error::Custom)? };
        }
    }
}

fn is_client(expr: &syn::Expr) -> bool {
    matches!(expr, syn::Expr::Path(p) if p.path.is_ident("client"))
}

fn is_hooks_pre(expr: &syn::Expr) -> bool {
    let syn::Expr::Call(call) = expr else {
        return false;
    };
    let syn::Expr::Path(path) = &*call.func else {
        return false;
    };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segments == ["highlevel_runtime", "hooks", "pre"]
}

/// `let info = OperationInfo { .. };`
fn is_operation_info(stmt: &syn::Stmt) -> bool {
    matches!(stmt, syn::Stmt::Local(local)
        if local.init.as_ref().is_some_and(|init|
            matches!(&*init.expr, syn::Expr::Struct(s) if s.path.is_ident("OperationInfo"))))
}

/// `client.post(&result, &info).await?;`
fn is_post_call(stmt: &syn::Stmt) -> bool {
    let syn::Stmt::Expr(syn::Expr::Try(tried), Some(_)) = stmt else {
        return false;
    };
    let syn::Expr::Await(awaited) = &*tried.expr else {
        return false;
    };
    matches!(&*awaited.base, syn::Expr::MethodCall(call)
        if call.method == "post" && is_client(&call.receiver))
}

/// Removes `header_map.append("api-version", ..)`; when that leaves the map empty (every
/// HighLevel operation today), the map and its `.headers(header_map)` go too.
fn drop_api_version_header(block: &mut syn::Block) {
    let before = block.stmts.len();
    block.stmts.retain(|stmt| !is_api_version_append(stmt));
    if block.stmts.len() == before {
        return;
    }
    let mut left_empty = false;
    for stmt in &mut block.stmts {
        if let syn::Stmt::Local(local) = stmt
            && let syn::Pat::Ident(name) = &local.pat
            && name.ident == "header_map"
            && let Some(init) = &mut local.init
            && let syn::Expr::Call(call) = &mut *init.expr
            && let Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(capacity),
                ..
            })) = call.args.first_mut()
            && let Ok(n) = capacity.base10_parse::<usize>()
        {
            let left = n.saturating_sub(1);
            left_empty = left == 0;
            *capacity = syn::LitInt::new(&format!("{left}usize"), capacity.span());
        }
    }
    if !left_empty {
        return;
    }
    block.stmts.retain(|stmt| {
        !matches!(stmt, syn::Stmt::Local(local)
            if matches!(&local.pat, syn::Pat::Ident(name) if name.ident == "header_map"))
    });
    DropHeadersCall.visit_block_mut(block);
}

fn is_api_version_append(stmt: &syn::Stmt) -> bool {
    let syn::Stmt::Expr(syn::Expr::MethodCall(call), Some(_)) = stmt else {
        return false;
    };
    call.method == "append"
        && matches!(&*call.receiver, syn::Expr::Path(p) if p.path.is_ident("header_map"))
        && call.args.first().is_some_and(|name| {
            quote::quote! { #name }
                .to_string()
                .contains(&format!("\"{PROGENITOR_API_VERSION}\""))
        })
}

/// `x.headers(header_map)` -> `x`.
struct DropHeadersCall;

impl VisitMut for DropHeadersCall {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        visit_mut::visit_expr_mut(self, expr);
        if let syn::Expr::MethodCall(call) = expr
            && call.method == "headers"
            && call.args.len() == 1
            && matches!(&call.args[0], syn::Expr::Path(p) if p.path.is_ident("header_map"))
        {
            *expr = (*call.receiver).clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    /// A `send()` body as progenitor 0.15.1 writes it (trimmed to what the rewrite reads).
    fn progenitor_send() -> syn::Block {
        parse_quote! {{
            let Self { client, location_id } = self;
            let location_id = location_id.map_err(Error::InvalidRequest)?;
            let url = format!("{}/locations/{}", client.baseurl, encode_path(&location_id.to_string()));
            let mut header_map = ::reqwest::header::HeaderMap::with_capacity(1usize);
            header_map.append(
                ::reqwest::header::HeaderName::from_static("api-version"),
                ::reqwest::header::HeaderValue::from_static(super::Client::api_version()),
            );
            #[allow(unused_mut)]
            let mut request = client
                .client
                .get(url)
                .header(::reqwest::header::ACCEPT, ::reqwest::header::HeaderValue::from_static("application/json"))
                .headers(header_map)
                .build()?;
            let info = OperationInfo { operation_id: "get_location" };
            client.pre(&mut request, &info).await?;
            let result = client.exec(request, &info).await;
            client.post(&result, &info).await?;
            let response = result?;
            match response.status().as_u16() {
                200..=299 => highlevel_runtime::decode_json(response).await,
                _ => Err(Error::UnexpectedResponse(response)),
            }
        }}
    }

    fn rewritten(mut block: syn::Block) -> String {
        let meta = Ident::new("GET_LOCATION", proc_macro2::Span::call_site());
        rewrite(&mut block, &meta).expect("progenitor's shape");
        quote! { #block }.to_string()
    }

    #[test]
    fn hooks_are_called_with_the_operations_metadata() {
        let code = rewritten(progenitor_send());
        assert!(code.contains(
            "highlevel_runtime :: hooks :: pre (& client . inner , & mut request , Some (& crate :: operations :: GET_LOCATION) ,) . await . map_err (Error :: Custom) ?"
        ), "{code}");
        assert!(code.contains(
            "highlevel_runtime :: hooks :: exec (& client . inner , & client . client , request , Some (& crate :: operations :: GET_LOCATION) ,) . await"
        ), "{code}");
        for gone in [
            "OperationInfo",
            "client . pre",
            "client . exec",
            "client . post",
            "& info",
        ] {
            assert!(!code.contains(gone), "`{gone}` left in {code}");
        }
    }

    #[test]
    fn progenitors_api_version_header_is_not_built() {
        let code = rewritten(progenitor_send());
        for gone in ["api-version", "header_map", ". headers ("] {
            assert!(!code.contains(gone), "`{gone}` left in {code}");
        }
        assert!(
            code.contains(". get (url) . header (:: reqwest :: header :: ACCEPT"),
            "{code}"
        );
    }

    #[test]
    fn other_header_parameters_keep_their_map() {
        let mut block = progenitor_send();
        let stmt: syn::Stmt = parse_quote! {
            header_map.append("x-trace", value.to_string().try_into()?);
        };
        block.stmts.insert(5, stmt);
        if let syn::Stmt::Local(local) = &mut block.stmts[3]
            && let Some(init) = &mut local.init
        {
            *init.expr = parse_quote! { ::reqwest::header::HeaderMap::with_capacity(2usize) };
        }
        let code = rewritten(block);
        assert!(!code.contains("api-version"), "{code}");
        assert!(code.contains("with_capacity (1usize)"), "{code}");
        assert!(code.contains("\"x-trace\""), "{code}");
        assert!(code.contains(". headers (header_map)"), "{code}");
    }

    #[test]
    fn a_send_of_another_shape_is_an_error() {
        let mut block: syn::Block = parse_quote! {{
            let response = client.client.get(url).send().await?;
            Ok(response)
        }};
        let meta = Ident::new("GET_LOCATION", proc_macro2::Span::call_site());
        let error = rewrite(&mut block, &meta).expect_err("not progenitor's shape");
        assert!(error.contains("GET_LOCATION"), "{error}");
    }
}
