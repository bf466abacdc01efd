//! Each `send()` builds its request and hands it to `highlevel_runtime::send`.
//!
//! progenitor writes every `send()` as an async body: build the request, call the
//! `ClientHooks`, match the status, decode. Each such body is type-checked, borrow-checked
//! and turned into a state machine in its module crate, whether the user calls the
//! operation or not (Contacts' crate took 3.5 s with them and 3.0 s without, under
//! `-Ztime-passes`). Here only the building stays, as a closure run on the spot; the rest is
//! one generic future in the runtime (`send::json` or `send::stream`), instantiated per
//! response type where an operation is awaited. Like every function of a module crate,
//! `send()` is then made `#[inline]` (`super::inlining`), so the module crate does not
//! generate its code either.
//!
//! The runtime is handed the operation's metadata (`&operations::<OPERATION>`) instead of
//! looking it up by name, and progenitor's `api-version` header (the spec's `info.version`,
//! which HighLevel does not read) is never built.
//!
//! Nothing calls progenitor's `ClientHooks` then, so its glue goes (`super::runtime_items`).

use proc_macro2::Ident;
use quote::quote;
use syn::parse_quote;
use syn::visit_mut::{self, VisitMut};

/// The header progenitor adds to every request.
const PROGENITOR_API_VERSION: &str = "api-version";

/// Which runtime future finishes a `send()`, from the 2xx arm progenitor wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    /// `ResponseValue::from_response(response).await`: `send::json`.
    Json,
    /// `Ok(ResponseValue::stream(response))`: `send::stream`.
    Stream,
}

/// Rewrites one `send()`: the builder's fields taken, the request built in a closure (an
/// argument error or a body that does not serialize stays an `Err` for the runtime to
/// report), then the runtime's future for `success`, returned unawaited.
///
/// # Errors
///
/// A message naming `meta` when the body does not have progenitor 0.15's shape (the fields
/// taken first, then the request built, `OperationInfo`, `pre`, `exec`, `post`, and a
/// 2xx-or-unexpected match), so a progenitor upgrade that changes it fails generation
/// instead of sending requests some other way.
pub fn rewrite(f: &mut syn::ImplItemFn, success: &syn::Type, meta: &Ident) -> Result<(), String> {
    let shape_error =
        |what: &str| format!("`send` for `{meta}`: {what} where progenitor 0.15 writes it");
    let stmts = std::mem::take(&mut f.block.stmts);
    let Some(info_at) = stmts.iter().position(is_operation_info) else {
        return Err(shape_error("no `OperationInfo`"));
    };
    let (build, tail) = stmts.split_at(info_at);
    let Some((fields, build)) = build.split_first() else {
        return Err(shape_error("no statements before `OperationInfo`"));
    };
    if !is_self_destructured(fields) {
        return Err(shape_error("no `let Self { .. } = self;` first"));
    }
    if !build.last().is_some_and(is_request_built) {
        return Err(shape_error("no `let mut request = ...build()?;` last"));
    }
    let finish = exchange_finish(&tail[1..])
        .ok_or_else(|| shape_error("no `pre`, `exec`, `post` and 2xx-or-unexpected match"))?;
    if is_download(success) != (finish == Finish::Stream) {
        return Err(shape_error("a 2xx arm that does not fit the success type"));
    }
    let mut build = build.to_vec();
    drop_api_version_header(&mut build);
    super::urls::built_by_the_runtime(&mut build, &meta.to_string())?;
    let runtime_send = match finish {
        Finish::Json => quote! { highlevel_runtime::send::json },
        Finish::Stream => quote! { highlevel_runtime::send::stream },
    };
    f.block = parse_quote! {{
        #fields
        let request = (move || -> Result<::reqwest::Request, Error<()>> {
            #(#build)*
            Ok(request)
        })();
        #runtime_send(&client.inner, &client.client, &crate::operations::#meta, request)
    }};
    f.sig.asyncness = None;
    // `+ Send` names what the runtime's future already is: the docs show that a spawned task
    // may await it, and a change that made it `!Send` fails the module crate's build, not the
    // caller's.
    f.sig.output = parse_quote! {
        -> impl ::std::future::Future<
            Output = Result<ResponseValue<#success>, highlevel_runtime::Error>,
        > + Send
    };
    Ok(())
}

/// `let Self { .. } = self;`
fn is_self_destructured(stmt: &syn::Stmt) -> bool {
    matches!(stmt, syn::Stmt::Local(local)
        if matches!(&local.pat, syn::Pat::Struct(s) if s.path.is_ident("Self"))
            && local.init.as_ref().is_some_and(|init|
                matches!(&*init.expr, syn::Expr::Path(p) if p.path.is_ident("self"))))
}

/// `let mut request = client.client.<method>(url)...build()?;`
fn is_request_built(stmt: &syn::Stmt) -> bool {
    let syn::Stmt::Local(local) = stmt else {
        return false;
    };
    let named_request = matches!(&local.pat, syn::Pat::Ident(p) if p.ident == "request");
    let built = local.init.as_ref().is_some_and(|init| {
        matches!(&*init.expr, syn::Expr::Try(tried)
            if matches!(&*tried.expr, syn::Expr::MethodCall(call) if call.method == "build"))
    });
    named_request && built
}

/// Reads what follows `OperationInfo`: `client.pre(..).await?;`, `let result =
/// client.exec(..).await;`, `client.post(..).await?;`, `let response = result?;` and the
/// status match, whose arms must be `200..=299 => <finish>` and `_ => UnexpectedResponse`.
fn exchange_finish(stmts: &[syn::Stmt]) -> Option<Finish> {
    let [pre, exec, post, response, status] = stmts else {
        return None;
    };
    let text = |stmt: &syn::Stmt| quote! { #stmt }.to_string();
    let hooks_in_order = text(pre) == "client . pre (& mut request , & info) . await ? ;"
        && text(exec) == "let result = client . exec (request , & info) . await ;"
        && text(post) == "client . post (& result , & info) . await ? ;"
        && text(response) == "let response = result ? ;";
    let syn::Stmt::Expr(syn::Expr::Match(status), _) = status else {
        return None;
    };
    let scrutinee = &status.expr;
    let [success, other] = &status.arms[..] else {
        return None;
    };
    let (pattern, body) = (&success.pat, &success.body);
    let (other_pattern, other_body) = (&other.pat, &other.body);
    let well_formed = hooks_in_order
        && quote! { #scrutinee }.to_string() == "response . status () . as_u16 ()"
        && quote! { #pattern }.to_string() == "200 ..= 299"
        && quote! { #other_pattern }.to_string() == "_"
        && quote! { #other_body }.to_string() == "Err (Error :: UnexpectedResponse (response))";
    if !well_formed {
        return None;
    }
    // progenitor braces the arm: `200..=299 => { ResponseValue::from_response(response).await }`.
    let body = match &**body {
        syn::Expr::Block(block) => match &block.block.stmts[..] {
            [syn::Stmt::Expr(only, None)] => only,
            _ => return None,
        },
        other => other,
    };
    match quote! { #body }.to_string().as_str() {
        "ResponseValue :: from_response (response) . await" => Some(Finish::Json),
        "Ok (ResponseValue :: stream (response))" => Some(Finish::Stream),
        _ => None,
    }
}

/// `let info = OperationInfo { .. };`
fn is_operation_info(stmt: &syn::Stmt) -> bool {
    matches!(stmt, syn::Stmt::Local(local)
        if local.init.as_ref().is_some_and(|init|
            matches!(&*init.expr, syn::Expr::Struct(s) if s.path.is_ident("OperationInfo"))))
}

/// Removes `header_map.append("api-version", ..)`; when that leaves the map empty (every
/// HighLevel operation today), the map and its `.headers(header_map)` go too.
fn drop_api_version_header(stmts: &mut Vec<syn::Stmt>) {
    let before = stmts.len();
    stmts.retain(|stmt| !is_api_version_append(stmt));
    if stmts.len() == before {
        return;
    }
    let mut left_empty = false;
    for stmt in stmts.iter_mut() {
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
    stmts.retain(|stmt| {
        !matches!(stmt, syn::Stmt::Local(local)
            if matches!(&local.pat, syn::Pat::Ident(name) if name.ident == "header_map"))
    });
    for stmt in stmts {
        DropHeadersCall.visit_stmt_mut(stmt);
    }
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

/// Whether an operation's 2xx answer is a download (progenitor's `ByteStream`), returned
/// unread rather than decoded.
pub fn is_download(success: &syn::Type) -> bool {
    quote! { #success }.to_string().contains("ByteStream")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `send()` as progenitor 0.15.1 writes it (trimmed to what the rewrite reads).
    fn progenitor_send() -> syn::ImplItemFn {
        parse_quote! {
            pub async fn send(self) -> Result<ResponseValue<types::Location>, Error<()>> {
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
                    200..=299 => { ResponseValue::from_response(response).await }
                    _ => Err(Error::UnexpectedResponse(response)),
                }
            }
        }
    }

    fn meta() -> Ident {
        Ident::new("GET_LOCATION", proc_macro2::Span::call_site())
    }

    fn rewritten(mut f: syn::ImplItemFn, success: syn::Type) -> Result<String, String> {
        rewrite(&mut f, &success, &meta())?;
        Ok(quote! { #f }.to_string())
    }

    fn location() -> syn::Type {
        parse_quote! { types::Location }
    }

    /// The request statements, in order, are all that is left of progenitor's body.
    #[test]
    fn send_builds_its_request_and_returns_the_runtimes_future() {
        let code = rewritten(progenitor_send(), location()).expect("progenitor's shape");
        let expected = quote! {
            pub fn send(self) -> impl ::std::future::Future<
                Output = Result<ResponseValue<types::Location>, highlevel_runtime::Error>,
            > + Send {
                let Self { client, location_id } = self;
                let request = (move || -> Result<::reqwest::Request, Error<()>> {
                    let location_id = location_id.map_err(Error::InvalidRequest)?;
                    let url = highlevel_runtime::path::url(
                        &client.baseurl,
                        "/locations/",
                        &[(&location_id as &dyn ::std::fmt::Display, "")]
                    );
                    #[allow(unused_mut)]
                    let mut request = client
                        .client
                        .get(url)
                        .header(::reqwest::header::ACCEPT, ::reqwest::header::HeaderValue::from_static("application/json"))
                        .build()?;
                    Ok(request)
                })();
                highlevel_runtime::send::json(&client.inner, &client.client, &crate::operations::GET_LOCATION, request)
            }
        };
        // Token streams print their spacing differently (`| |`, `> >`); the tokens must match.
        let compact = |text: &str| text.split_whitespace().collect::<String>();
        assert_eq!(compact(&code), compact(&expected.to_string()));
        for gone in [
            "OperationInfo",
            "client . pre",
            "client . exec",
            "client . post",
            "& info",
            "api-version",
            "header_map",
            ". await",
        ] {
            assert!(!code.contains(gone), "`{gone}` left in {code}");
        }
    }

    #[test]
    fn a_download_returns_the_runtimes_stream_future() {
        let mut f = progenitor_send();
        let syn::Stmt::Expr(syn::Expr::Match(status), _) = f.block.stmts.last_mut().expect("stmts")
        else {
            panic!("the fixture ends with the status match");
        };
        status.arms[0].body = parse_quote! { Ok(ResponseValue::stream(response)) };
        let code = rewritten(f.clone(), parse_quote! { ByteStream }).expect("a download");
        assert!(
            code.contains("highlevel_runtime :: send :: stream (& client . inner"),
            "{code}"
        );
        assert!(code.contains("ResponseValue < ByteStream >"), "{code}");
        // A stream arm for a JSON type (or the reverse) is not what progenitor writes.
        let error = rewritten(f, location()).expect_err("arm and type disagree");
        assert!(error.contains("GET_LOCATION"), "{error}");
    }

    #[test]
    fn other_header_parameters_keep_their_map() {
        let mut f = progenitor_send();
        let stmt: syn::Stmt = parse_quote! {
            header_map.append("x-trace", value.to_string().try_into()?);
        };
        f.block.stmts.insert(5, stmt);
        if let syn::Stmt::Local(local) = &mut f.block.stmts[3]
            && let Some(init) = &mut local.init
        {
            *init.expr = parse_quote! { ::reqwest::header::HeaderMap::with_capacity(2usize) };
        }
        let code = rewritten(f, location()).expect("progenitor's shape");
        assert!(!code.contains("api-version"), "{code}");
        assert!(code.contains("with_capacity (1usize)"), "{code}");
        assert!(code.contains("\"x-trace\""), "{code}");
        assert!(code.contains(". headers (header_map)"), "{code}");
    }

    /// Each part of the shape the rewrite relies on, changed, fails generation naming the
    /// operation, instead of sending requests some other way.
    #[test]
    fn a_send_of_another_shape_is_an_error() {
        type Edit = fn(&mut Vec<syn::Stmt>);
        let edits: [(&str, Edit); 7] = [
            ("no destructuring first", |s| {
                s.remove(0);
            }),
            ("request not built last", |s| {
                s.remove(5);
            }),
            ("no OperationInfo", |s| {
                s.remove(6);
            }),
            ("no post hook", |s| {
                s.remove(9);
            }),
            ("a typed error arm", |s| {
                s[11] = parse_quote! {
                    match response.status().as_u16() {
                        200..=299 => ResponseValue::from_response(response).await,
                        400u16 => Err(Error::ErrorResponse(ResponseValue::from_response(response).await?)),
                        _ => Err(Error::UnexpectedResponse(response)),
                    }
                };
            }),
            ("only 200 decoded", |s| {
                s[11] = parse_quote! {
                    match response.status().as_u16() {
                        200u16 => ResponseValue::from_response(response).await,
                        _ => Err(Error::UnexpectedResponse(response)),
                    }
                };
            }),
            ("a statement after the match", |s| {
                s.push(parse_quote! { let unused = 1; });
            }),
        ];
        for (what, edit) in edits {
            let mut f = progenitor_send();
            edit(&mut f.block.stmts);
            let error = rewritten(f, location()).expect_err(what);
            assert!(error.contains("GET_LOCATION"), "{what}: {error}");
        }
    }
}
