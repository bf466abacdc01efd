//! Every non-generic function of a module crate is `#[inline]`, so the module crate compiles
//! none of them to machine code: each is generated in the crates that call it, as a generic
//! function is.
//!
//! A user calls a handful of a module's operations; the module crate used to generate code
//! for all of them anyway. A type builder's conversion, a list operation's `Paginated`
//! methods (which pull in its `send()`, the runtime's future and the response's decoder),
//! an enum's `Display` and `FromStr`: 144,420 LLVM lines in Invoices' crate before, 318 after
//! (`cargo llvm-lines`). What stays is type checking, which the module crate does once for
//! every crate that uses it.
//!
//! Runs last, over everything the other passes wrote.

use syn::parse_quote;
use syn::visit_mut::{self, VisitMut};

/// Adds `#[inline]` to every function in `file` that has no type or const parameter and no
/// inline attribute of its own.
pub fn compile_where_called(file: &mut syn::File) {
    InlineEverything.visit_file_mut(file);
}

struct InlineEverything;

impl VisitMut for InlineEverything {
    fn visit_impl_item_fn_mut(&mut self, f: &mut syn::ImplItemFn) {
        mark(&mut f.attrs, &f.sig);
        visit_mut::visit_impl_item_fn_mut(self, f);
    }

    fn visit_item_fn_mut(&mut self, f: &mut syn::ItemFn) {
        mark(&mut f.attrs, &f.sig);
        visit_mut::visit_item_fn_mut(self, f);
    }
}

fn mark(attrs: &mut Vec<syn::Attribute>, sig: &syn::Signature) {
    let generic = sig
        .generics
        .params
        .iter()
        .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)));
    let already = attrs.iter().any(|a| a.path().is_ident("inline"));
    if !generic && !already {
        attrs.push(parse_quote! { #[inline] });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn inlined(code: proc_macro2::TokenStream) -> String {
        let mut file: syn::File = syn::parse2(code).expect("parses");
        compile_where_called(&mut file);
        prettyplease::unparse(&file)
    }

    #[test]
    fn non_generic_functions_gain_inline_once() {
        let out = inlined(quote! {
            pub mod types {
                impl ::std::str::FromStr for Status {
                    type Err = ConversionError;
                    fn from_str(value: &str) -> Result<Self, ConversionError> { todo!() }
                }
                impl<'a> Builder<'a> {
                    pub fn pages(self) -> Pages<'a, Self> { todo!() }
                    #[inline]
                    pub fn send(self) -> Sent<'a> { todo!() }
                }
                pub fn default_limit() -> u64 { 10 }
            }
        });
        // Three added, and `send`'s own kept without a second: a doubled one would make five.
        assert_eq!(out.matches("#[inline]").count(), 4, "{out}");
    }

    #[test]
    fn generic_functions_are_left_as_they_are() {
        let out = inlined(quote! {
            impl Setters {
                pub fn name<T: Into<String>>(mut self, value: T) -> Self { todo!() }
                fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> { todo!() }
            }
        });
        assert!(!out.contains("#[inline]"), "{out}");
    }

    #[test]
    fn items_nested_in_a_function_are_reached() {
        let out = inlined(quote! {
            impl<'de> Deserialize<'de> for Thing {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    struct Visitor;
                    impl<'de> de::Visitor<'de> for Visitor {
                        type Value = Thing;
                        fn expecting(&self, f: &mut Formatter<'_>) -> fmt::Result { todo!() }
                    }
                    todo!()
                }
            }
        });
        assert_eq!(out.matches("#[inline]").count(), 1, "{out}");
        assert!(out.contains("#[inline]\n            fn expecting"), "{out}");
    }
}
