//! Pieces of output that both generators emit, `expand.rs` for a service and `combine.rs` for a
//! combined set, so the two cannot drift apart.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{Ident, Path};

use crate::attr::path_to_string;

/// A local variable or binding of the generated code. `Span::mixed_site()` makes it invisible to
/// the user's tokens, and theirs to it, so it cannot clash with an argument of the same name.
pub(crate) fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// `#[derive(Debug, Serialize, Deserialize)] #[serde(crate = "::ipc2::__private::serde")]`, for
/// the request and response enums of services and of combined sets.
pub(crate) fn serde_derives(krate: &Path) -> TokenStream {
    let serde_path = format!("{}::__private::serde", path_to_string(krate));
    quote! {
        #[derive(
            ::core::fmt::Debug,
            #krate::__private::serde::Serialize,
            #krate::__private::serde::Deserialize,
        )]
        #[serde(crate = #serde_path)]
    }
}

/// `impl #generics Dispatch for #server`, matching the request bound to `local` against `arms`:
/// services and combined sets differ only in their generics and arms.
pub(crate) fn dispatch_impl(
    krate: &Path,
    generics: TokenStream,
    server: TokenStream,
    (request, response, event): (&dyn ToTokens, &dyn ToTokens, &dyn ToTokens),
    local: &Ident,
    arms: impl Iterator<Item = TokenStream>,
) -> TokenStream {
    // https://github.com/dtolnay/thiserror/pull/92, and `deprecated` for deprecated methods.
    quote! {
        #[automatically_derived]
        #[allow(unused_qualifications, deprecated)]
        impl #generics #krate::__private::Dispatch for #server {
            type Request = #request;
            type Response = #response;
            type Event = #event;

            fn dispatch(
                &self,
                #local: #request,
            ) -> impl ::core::future::Future<
                Output = #krate::__private::Answer<#response>,
            > + ::core::marker::Send {
                async move {
                    match #local {
                        #(#arms)*
                    }
                }
            }
        }
    }
}
