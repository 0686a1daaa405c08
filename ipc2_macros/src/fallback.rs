//! What the macros emit when their input has errors, so the user sees our messages instead of a
//! cascade of "cannot find ..." errors (the approach of thiserror's `fallback.rs`).
//!
//! `#[ipc2::service]` emits the user's trait, plus the errors. Emitting the trait keeps every
//! other use of it (impls, calls) resolving. It is emitted as written minus the syntax only this
//! macro understands (`#[ipc2(...)]`, `mut` on argument patterns), which would produce errors of
//! their own.
//!
//! `ipc2::combine!` declares nothing the user wrote, so it emits the set generated for the
//! services that passed their checks (each once; none for an empty list), plus the errors: uses
//! of `ToolsWorkers`, `ToolsServer` and the services' clients then still resolve. An unusable
//! `crate = "..."` falls back to `::ipc2`. A set named like one of its services gets no items,
//! since they would clash with that service's; input that does not parse at all gets only syn's
//! error, since the set's name is not known.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{FnArg, Item, ItemTrait, Pat, TraitItem};

use crate::attr::is_ipc2;

/// The input item unchanged (apart from [`strip_macro_syntax`] on a trait) followed by one
/// `compile_error!` per error.
pub(crate) fn expand(input: &Item, errors: syn::Error) -> TokenStream {
    let item = match input {
        Item::Trait(item) => {
            let mut item = item.clone();
            strip_macro_syntax(&mut item);
            // https://github.com/rust-lang/rust/pull/116184 (the lint's introduction)
            // The trait stays `async fn` here; rustc's `async_fn_in_trait` lint on it would only
            // add noise next to the errors that explain what to change.
            quote!(#[allow(async_fn_in_trait)] #item)
        }
        other => other.to_token_stream(),
    };
    let errors = errors.into_compile_error();
    quote!(#item #errors)
}

/// The set generated from what passed the checks, if anything could be, followed by one
/// `compile_error!` per error.
pub(crate) fn combine(items: Option<TokenStream>, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    quote!(#items #errors)
}

/// Removes what is valid only under the macro, or what rustc would reject a second time after
/// our own error: `#[ipc2(...)]` attributes; on body-less methods, argument patterns other than
/// a name (rustc rejects patterns in functions without bodies; the macro accepts `mut x` because
/// implementations may want it, and reports the others); `const` and C-variadic arguments.
pub(crate) fn strip_macro_syntax(item: &mut ItemTrait) {
    item.attrs.retain(|attr| !is_ipc2(attr));
    for trait_item in &mut item.items {
        let TraitItem::Fn(method) = trait_item else {
            continue;
        };
        method.attrs.retain(|attr| !is_ipc2(attr));
        method.sig.constness = None;
        method.sig.variadic = None;
        if method.default.is_some() {
            continue;
        }
        for input in &mut method.sig.inputs {
            let FnArg::Typed(arg) = input else {
                continue;
            };
            match &mut *arg.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                    pat.mutability = None;
                }
                Pat::Wild(_) => {}
                other => {
                    *other = Pat::Wild(syn::PatWild {
                        attrs: Vec::new(),
                        underscore_token: syn::Token![_](other.span()),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_keeps_trait_and_adds_errors() {
        let input: Item = syn::parse_quote! {
            #[ipc2(oneway)]
            pub trait Calc {
                #[ipc2(oneway)]
                /// Logs.
                async fn log(&self, mut line: String, (a, b): (u8, u8), ref c: u8);
                const fn kept(&self, mut x: u8) {}
            }
        };
        let error = syn::Error::new(proc_macro2::Span::call_site(), "boom");
        let output = expand(&input, error).to_string();
        let expected = quote! {
            #[allow(async_fn_in_trait)]
            pub trait Calc {
                /// Logs.
                async fn log(&self, line: String, _: (u8, u8), _: u8);
                fn kept(&self, mut x: u8) {}
            }
            ::core::compile_error! { "boom" }
        };
        assert_eq!(output, expected.to_string());
    }

    #[test]
    fn fallback_keeps_non_trait_items_unchanged() {
        let input: Item = syn::parse_quote!(
            struct Calc;
        );
        let error = syn::Error::new(proc_macro2::Span::call_site(), "boom");
        let output = expand(&input, error).to_string();
        assert!(output.starts_with("struct Calc ;"), "{output}");
    }
}
