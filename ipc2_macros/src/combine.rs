//! `ipc2::combine!`: several services on one worker set.
//!
//! Each `#[ipc2::service]` trait `Calc` comes with `CalcRequest`, `CalcResponse`, `CalcServer`
//! and a `CalcClient` implemented for anything that is `Call<CalcRequest, CalcResponse>`. So
//! combining services needs no knowledge of their methods: an enum wraps each service's requests
//! and one wraps its replies, the combined set implements `Call` for each service by wrapping
//! and unwrapping, and a combined server dispatches each request to its service's server.
//!
//! ```text
//! Input:  ipc2::combine!(pub Tools: Calc, store::Store);
//! Output: pub enum ToolsRequest { Calc(CalcRequest), Store(store::StoreRequest) }
//!         pub enum ToolsResponse { Calc(CalcResponse), Store(StoreResponse) }
//!         pub type ToolsWorkers<S = UnixListener> = WorkerSet<S, ToolsResponse, ToolsRequest>;
//!         impl<S: Server> Call<CalcRequest, CalcResponse> for ToolsWorkers<S> { .. }  (each)
//!         pub struct ToolsServer<A, B>(pub A, pub B);  impl Dispatch for ToolsServer<A, B>
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Path, Token, Visibility};

/// `pub Tools: Calc, store::Store`: each service by the path of its trait.
pub(crate) struct Combine {
    vis: Visibility,
    name: Ident,
    services: Vec<Path>,
}

/// The path `service` with its last segment `Calc` turned into `Calc{suffix}`.
fn sibling(service: &Path, suffix: &str) -> Path {
    let mut path = service.clone();
    if let Some(last) = path.segments.last_mut() {
        last.ident = format_ident!("{}{suffix}", last.ident);
    }
    path
}

/// The service's name: the last segment of its path.
fn last_ident(service: &Path) -> Ident {
    service
        .segments
        .last()
        .map_or_else(|| format_ident!("Service"), |s| s.ident.clone())
}

impl Parse for Combine {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let vis = input.parse()?;
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let services: Punctuated<Path, Token![,]> = Punctuated::parse_terminated(input)?;
        if services.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "name the services to combine: `ipc2::combine!(pub Tools: Calc, Store);`",
            ));
        }
        let services: Vec<Path> = services.into_iter().collect();
        for (i, service) in services.iter().enumerate() {
            let name = last_ident(service);
            if services[..i].iter().any(|other| last_ident(other) == name) {
                return Err(syn::Error::new_spanned(
                    service,
                    format!("service `{name}` is named twice; name each once"),
                ));
            }
        }
        Ok(Self {
            vis,
            name,
            services,
        })
    }
}

impl Combine {
    pub(crate) fn expand(&self) -> TokenStream {
        let krate: Path = syn::parse_quote!(::ipc2);
        let Self {
            vis,
            name,
            services: paths,
        } = self;
        let services: Vec<Ident> = paths.iter().map(last_ident).collect();
        let request = format_ident!("{name}Request");
        let response = format_ident!("{name}Response");
        let workers = format_ident!("{name}Workers");
        let server = format_ident!("{name}Server");
        let requests: Vec<Path> = paths.iter().map(|p| sibling(p, "Request")).collect();
        let responses: Vec<Path> = paths.iter().map(|p| sibling(p, "Response")).collect();
        let params: Vec<Ident> = (0..services.len())
            .map(|i| format_ident!("__S{i}"))
            .collect();
        let indexes = (0..services.len()).map(syn::Index::from);
        let list = services
            .iter()
            .map(|s| format!("[`{s}`]"))
            .collect::<Vec<_>>()
            .join(", ");
        let name_str = name.to_string();
        let request_docs = services
            .iter()
            .map(|s| format!("A request to the [`{s}`] service."));
        let response_docs = services
            .iter()
            .map(|s| format!("A reply from the [`{s}`] service."));
        let server_docs = format!(
            "Serves {list} from one worker: `ipc2::worker::serve({server}({}))`, one server per \
             service, in this order.",
            services
                .iter()
                .map(|s| format!("{s}Server(..)"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let serde_path = "::ipc2::__private::serde";
        let call_impls = services.iter().zip(requests.iter().zip(&responses)).map(|(service, (req, resp))| {
            let service_str = service.to_string();
            quote! {
                #[automatically_derived]
                impl<S: #krate::Server> #krate::__private::Call<#req, #resp> for #workers<S> {
                    fn call(&self, job: #req) -> impl ::core::future::Future<Output = ::core::result::Result<#resp, #krate::Error>> + ::core::marker::Send {
                        let call = self.send(#request::#service(job));
                        async move {
                            match call.await? {
                                #response::#service(reply) => ::core::result::Result::Ok(reply),
                                #[allow(unreachable_patterns)]
                                _ => ::core::result::Result::Err(#krate::__private::unexpected_reply(#name_str, #service_str)),
                            }
                        }
                    }

                    fn call_with(&self, job: #req, policy: #krate::__private::Policy) -> impl ::core::future::Future<Output = ::core::result::Result<#resp, #krate::Error>> + ::core::marker::Send {
                        let call = self.send_with(#request::#service(job), policy);
                        async move {
                            match call.await? {
                                #response::#service(reply) => ::core::result::Result::Ok(reply),
                                #[allow(unreachable_patterns)]
                                _ => ::core::result::Result::Err(#krate::__private::unexpected_reply(#name_str, #service_str)),
                            }
                        }
                    }

                    fn call_oneway(&self, job: #req) -> impl ::core::future::Future<Output = ::core::result::Result<(), #krate::Error>> + ::core::marker::Send {
                        self.notify(#request::#service(job))
                    }
                }
            }
        });
        let dispatch_arms = services.iter().zip(indexes).map(|(service, index)| {
            quote! {
                #request::#service(request) => #krate::__private::Dispatch::dispatch(&self.#index, request)
                    .await
                    .map(#response::#service),
            }
        });
        let bounds = params.iter().zip(requests.iter().zip(&responses)).map(|(p, (req, resp))| {
            quote!(#p: #krate::__private::Dispatch<Request = #req, Response = #resp>)
        });
        let request_doc = format!("A request to any of {list} on one worker set.");
        let response_doc = format!("A reply from any of {list}.");
        let workers_doc = format!(
            "A set of worker processes serving {list}; call each through its own client trait."
        );
        quote! {
            #[doc = #request_doc]
            #[derive(::core::fmt::Debug, #krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
            #[serde(crate = #serde_path)]
            #vis enum #request {
                #(#[doc = #request_docs] #services(#requests),)*
            }

            #[doc = #response_doc]
            #[derive(::core::fmt::Debug, #krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
            #[serde(crate = #serde_path)]
            #vis enum #response {
                #(#[doc = #response_docs] #services(#responses),)*
            }

            #[doc = #workers_doc]
            #vis type #workers<S = #krate::__private::UnixListener> =
                #krate::host::workerset::WorkerSet<S, #response, #request>;

            #[doc = #server_docs]
            #[derive(::core::fmt::Debug)]
            #vis struct #server<#(#params),*>(#(#[doc = "One service's server."] pub #params),*);

            const _: () = {
                #(#call_impls)*

                #[automatically_derived]
                impl<#(#bounds),*> #krate::__private::Dispatch for #server<#(#params),*> {
                    type Request = #request;
                    type Response = #response;

                    fn dispatch(&self, request: #request) -> impl ::core::future::Future<Output = ::core::option::Option<#response>> + ::core::marker::Send {
                        async move {
                            match request {
                                #(#dispatch_arms)*
                            }
                        }
                    }
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_names_the_generated_items_after_the_set() {
        let combine: Combine = syn::parse_quote!(pub Tools: Calc, store::Store);
        let file: syn::File = syn::parse2(combine.expand()).unwrap();
        let text = prettyplease::unparse(&file);
        for needle in [
            "pub enum ToolsRequest",
            "Calc(CalcRequest)",
            "Store(store::StoreResponse)",
            "pub type ToolsWorkers",
            "pub struct ToolsServer<__S0, __S1>",
            "Call<CalcRequest, CalcResponse>",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }

    #[test]
    fn a_service_named_twice_is_an_error() {
        let err = syn::parse2::<Combine>(quote!(pub Tools: Calc, Calc))
            .err()
            .unwrap();
        assert!(err.to_string().contains("named twice"), "{err}");
    }
}
