//! Each `send()` builds its URL with `highlevel_runtime::path::url`.
//!
//! progenitor writes `let url = format!("{}/contacts/{}/notes", client.baseurl,
//! encode_path(&contact_id.to_string()));`. Run per request, that is the formatting machinery
//! over every piece and two `String`s per parameter before the URL's own: about 2,000
//! instructions of a `GET /locations/{id}` (the cost bench's `-- instructions` table). The
//! runtime writes the same bytes into one `String`, each parameter encoded as it is formatted.
//!
//! The rewrite compares the statement to progenitor 0.15's exact shape and fails generation,
//! naming the operation, on any other, so a progenitor upgrade cannot build URLs some other way
//! unnoticed.

use syn::punctuated::Punctuated;
use syn::{Token, parse_quote};

/// Rewrites the `let url = format!(..);` among a `send()`'s building statements.
///
/// # Errors
///
/// A message naming `operation` when there is no such statement, or it is not progenitor's
/// shape: a literal of `{}` placeholders only, `client.baseurl` first, and
/// `encode_path(&<parameter>.to_string())` for each other placeholder.
pub fn built_by_the_runtime(stmts: &mut [syn::Stmt], operation: &str) -> Result<(), String> {
    let shape_error =
        |what: &str| format!("`send` for `{operation}`: {what} where progenitor 0.15 writes it");
    let Some(init) = stmts.iter_mut().find_map(url_init) else {
        return Err(shape_error("no `let url = format!(..);`"));
    };
    let syn::Expr::Macro(format) = &*init.expr else {
        return Err(shape_error("a `let url` that is not `format!`"));
    };
    if !format.mac.path.is_ident("format") {
        return Err(shape_error("a `let url` that is not `format!`"));
    }
    let args = format
        .mac
        .parse_body_with(Punctuated::<syn::Expr, Token![,]>::parse_terminated)
        .map_err(|e| shape_error(&format!("`format!` arguments that do not parse ({e})")))?;
    let mut args = args.into_iter();
    let Some(syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(template),
        ..
    })) = args.next()
    else {
        return Err(shape_error("a `format!` without a literal template"));
    };
    let template = template.value();
    if template.replace("{}", "").contains(['{', '}']) {
        return Err(shape_error("a template with braces other than `{}`"));
    }
    let mut pieces = template.split("{}");
    let (Some(""), Some(head)) = (pieces.next(), pieces.next()) else {
        return Err(shape_error(
            "a template that does not start with the base URL",
        ));
    };
    let tails: Vec<&str> = pieces.collect();
    let base: syn::Expr = parse_quote! { client.baseurl };
    if args.next().as_ref() != Some(&base) {
        return Err(shape_error("a first argument other than `client.baseurl`"));
    }
    let params = args
        .map(|arg| {
            encoded_parameter(&arg).ok_or_else(|| {
                shape_error("a path argument other than `encode_path(&<parameter>.to_string())`")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if params.len() != tails.len() {
        return Err(shape_error("as many placeholders as arguments"));
    }
    let pairs = params.iter().zip(&tails).map(|(param, tail)| {
        quote::quote! { (&#param as &dyn ::std::fmt::Display, #tail) }
    });
    *init.expr = parse_quote! {
        highlevel_runtime::path::url(&client.baseurl, #head, &[#(#pairs),*])
    };
    Ok(())
}

/// The initializer of `let url = ..;`.
fn url_init(stmt: &mut syn::Stmt) -> Option<&mut syn::LocalInit> {
    match stmt {
        syn::Stmt::Local(local) if matches!(&local.pat, syn::Pat::Ident(name) if name.ident == "url") => {
            local.init.as_mut()
        }
        _ => None,
    }
}

/// `<parameter>` of `encode_path(&<parameter>.to_string())`.
fn encoded_parameter(arg: &syn::Expr) -> Option<syn::Expr> {
    let syn::Expr::Call(call) = arg else {
        return None;
    };
    let encodes = matches!(&*call.func, syn::Expr::Path(p) if p.path.is_ident("encode_path"));
    let [syn::Expr::Reference(reference)] = &call.args.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let syn::Expr::MethodCall(to_string) = &*reference.expr else {
        return None;
    };
    let plain = encodes
        && reference.mutability.is_none()
        && to_string.method == "to_string"
        && to_string.args.is_empty()
        && to_string.turbofish.is_none();
    plain.then(|| (*to_string.receiver).clone())
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn rewritten(stmts: proc_macro2::TokenStream) -> Result<String, String> {
        let block: syn::Block = parse_quote! {{ #stmts }};
        let mut stmts = block.stmts;
        built_by_the_runtime(&mut stmts, "GET_CONTACT")?;
        Ok(stmts
            .iter()
            .map(|s| quote! { #s }.to_string())
            .collect::<Vec<_>>()
            .join(" "))
    }

    #[test]
    fn parameters_and_literal_pieces_go_to_the_runtime_in_order() {
        let out = rewritten(quote! {
            let contact_id = contact_id.map_err(Error::InvalidRequest)?;
            let url = format!(
                "{}/contacts/{}/notes/{}",
                client.baseurl,
                encode_path(&contact_id.to_string()),
                encode_path(&r#type.to_string()),
            );
            let mut request = client.client.get(url).build()?;
        })
        .expect("progenitor's shape");
        let expected = quote! {
            let contact_id = contact_id.map_err(Error::InvalidRequest)?;
            let url = highlevel_runtime::path::url(
                &client.baseurl,
                "/contacts/",
                &[
                    (&contact_id as &dyn ::std::fmt::Display, "/notes/"),
                    (&r#type as &dyn ::std::fmt::Display, "")
                ]
            );
            let mut request = client.client.get(url).build()?;
        };
        let block: syn::Block = parse_quote! {{ #expected }};
        let expected: Vec<String> = block
            .stmts
            .iter()
            .map(|s| quote! { #s }.to_string())
            .collect();
        assert_eq!(out, expected.join(" "));
    }

    #[test]
    fn a_path_without_parameters_is_one_piece() {
        let out = rewritten(quote! {
            let url = format!("{}/locations/search", client.baseurl);
        })
        .expect("progenitor's shape");
        assert_eq!(
            out,
            quote! {
                let url = highlevel_runtime::path::url(&client.baseurl, "/locations/search", &[]);
            }
            .to_string()
        );
    }

    #[test]
    fn any_other_shape_fails_naming_the_operation() {
        for (stmts, why) in [
            (
                quote! { let path = format!("{}/a", client.baseurl); },
                "no `let url",
            ),
            (quote! { let url = concat!("{}/a", "b"); }, "not `format!`"),
            (
                quote! { let url = format!("{}/a/{id}", client.baseurl); },
                "braces",
            ),
            (
                quote! { let url = format!("/a/{}", client.baseurl); },
                "start with the base",
            ),
            (
                quote! { let url = format!("{}/a", self.baseurl); },
                "client.baseurl",
            ),
            (
                quote! { let url = format!("{}/a/{}", client.baseurl, id.to_string()); },
                "encode_path",
            ),
            (
                quote! { let url = format!("{}/a/{}", client.baseurl, encode_path(&id)); },
                "encode_path",
            ),
            (
                quote! { let url = format!("{}/a/{}/{}", client.baseurl, encode_path(&id.to_string())); },
                "placeholders",
            ),
        ] {
            let error = rewritten(stmts.clone()).expect_err(&stmts.to_string());
            assert!(
                error.contains("GET_CONTACT") && error.contains(why),
                "{error}"
            );
        }
    }
}
