//! Generates the service items from a checked [`Service`].
//!
//! [`ServiceGenerator`] has one method per generated item, joined by its [`ToTokens`] impl (the
//! shape of tarpc's `ServiceGenerator`). Every path is absolute: `::core::…`, or the facade's
//! `__private` module (`::ipc2::__private::…`, or under the path from `crate = "..."`), the only
//! part of the facade generated code names. So the output does not depend on the user's imports,
//! a `#![no_implicit_prelude]`, a local `mod core`, or how `ipc2_host` lays out its modules.
//! Generated locals are `Span::mixed_site` (`emit::local`); argument and return types keep the
//! user's spans, so "`X` is not `Serialize`" errors point at the user's `X`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Item, Path, ReturnType, TraitItem, TypeParamBound};

use crate::ast::{Method, Service, is_byte_vec, is_descriptor};
use crate::attr::{ServiceOptions, path_to_string};
use crate::ctxt::Ctxt;
use crate::emit::{self, local, serde_derives};
use crate::{fallback, valid};

/// The whole macro: parse the options and the trait, check them, then generate the service or,
/// on any error, the fallback.
pub(crate) fn service(args: TokenStream, input: &Item) -> TokenStream {
    let cx = Ctxt::new();
    let options = ServiceOptions::from_args(&cx, args);
    let Item::Trait(item) = input else {
        valid::not_a_trait(&cx, input);
        let errors = cx.check().expect_err("an error was just recorded");
        return fallback::expand(input, errors);
    };
    let service = Service::from_syn(&cx, item, options);
    valid::check(&cx, &service);
    match cx.check() {
        Ok(()) => ServiceGenerator::new(&service).into_token_stream(),
        Err(errors) => fallback::expand(input, errors),
    }
}

/// Emits the items of one service; see the module docs.
struct ServiceGenerator<'a> {
    service: &'a Service<'a>,
    /// Path to the facade crate.
    krate: &'a Path,
    /// `CalcRequest`
    request: Ident,
    /// `CalcResponse`
    response: Ident,
    /// `CalcClient`
    client: Ident,
    /// `CalcWorkers`
    workers: Ident,
    /// `CalcServer`
    server: Ident,
}

impl<'a> ServiceGenerator<'a> {
    fn new(service: &'a Service<'a>) -> Self {
        let ident = &service.item.ident;
        let name = |suffix: &str| format_ident!("{}{}", ident, suffix, span = ident.span());
        ServiceGenerator {
            service,
            krate: &service.options.krate,
            request: name("Request"),
            response: name("Response"),
            client: name("Client"),
            workers: name("Workers"),
            server: name("Server"),
        }
    }

    /// A link to the method, for docs: ``[`Calc::add`]``.
    fn method_link(&self, method: &Method<'_>) -> String {
        format!("[`{}::{}`]", self.service.name(), method.name())
    }

    // Input:  async fn add(&self, a: u32, mut b: u32) -> u32;
    //         #[ipc2(oneway)] async fn log(&self, line: String);
    //         fn square(&self, x: u64) -> u64;
    // Output: pub trait Calc: Send + Sync + 'static {
    //             fn add(&self, a: u32, b: u32) -> impl Future<Output = u32> + Send;
    //             fn log(&self, line: String) -> impl Future<Output = ()> + Send;
    //             fn square(&self, x: u64) -> u64;
    //         }
    fn service_trait(&self) -> TokenStream {
        let mut item = self.service.item.clone();
        fallback::strip_macro_syntax(&mut item);
        let span = item.ident.span();
        item.colon_token.get_or_insert(syn::Token![:](span));
        let bounds: [TypeParamBound; 3] = [
            syn::parse_quote_spanned!(span=> ::core::marker::Send),
            syn::parse_quote_spanned!(span=> ::core::marker::Sync),
            syn::parse_quote_spanned!(span=> 'static),
        ];
        item.supertraits.extend(bounds);
        for trait_item in &mut item.items {
            let TraitItem::Fn(method) = trait_item else {
                continue;
            };
            let sig = &mut method.sig;
            let Some(asyncness) = sig.asyncness.take() else {
                continue;
            };
            let output = match &sig.output {
                ReturnType::Default => quote_spanned!(sig.ident.span()=> ()),
                ReturnType::Type(_, ty) => ty.to_token_stream(),
            };
            // Spanned at `async`: "future is not `Send`" errors then say which method's
            // `async` promised it.
            sig.output = syn::parse_quote_spanned! {asyncness.span()=>
                -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
            };
        }
        if let Some((_, event)) = &self.service.options.event {
            let krate = self.krate;
            item.items.push(syn::parse_quote! {
                /// Sends `event` to the host from inside one of this service's handlers, as
                /// `ipc2::worker::emit` does, with its type checked at compile time; the host reads
                /// it from `workers.events()`.
                fn emit(event: #event) -> ::core::result::Result<(), #krate::__private::WorkerError>
                where
                    Self: ::core::marker::Sized,
                {
                    #krate::__private::emit(event)
                }
            });
        }
        item.into_token_stream()
    }

    /// The service's event type: its `event = T`, or `NoEvents`.
    fn event(&self) -> TokenStream {
        let krate = self.krate;
        match &self.service.options.event {
            Some((_, event)) => event.to_token_stream(),
            None => quote!(#krate::__private::NoEvents),
        }
    }

    /// `#[serde(rename = "add")]`: on the wire a variant is its index, but the handshake's
    /// description of the types names it, and a mismatch then reads `method add: ...`.
    fn method_name_attr(&self, method: &Method<'_>) -> TokenStream {
        let name = method.name();
        quote!(#[serde(rename = #name)])
    }

    /// `Add { a, b }`, or `Reset` without arguments: the same tokens build and match a request.
    fn request_variant(&self, method: &Method<'_>) -> TokenStream {
        let request = &self.request;
        let variant = &method.variant;
        let args = method.args.iter().filter_map(|arg| arg.ident);
        if method.args.is_empty() {
            quote!(#request::#variant)
        } else {
            quote!(#request::#variant { #(#args),* })
        }
    }

    /// `a: u32, b: u32`: the arguments without patterns, as the client methods take them.
    fn params(&self, method: &Method<'_>) -> TokenStream {
        let params = method.args.iter().filter_map(|arg| {
            let ident = arg.ident?;
            let ty = arg.ty;
            Some(quote!(#ident: #ty))
        });
        quote!(#(#params),*)
    }

    /// The method's return type, `()` when not written.
    fn output(&self, method: &Method<'_>) -> TokenStream {
        match method.output {
            Some(ty) => ty.to_token_stream(),
            None => quote_spanned!(method.ident.span()=> ()),
        }
    }

    /// What one reply of the method holds: the return type, or a stream's item type.
    fn reply_type(&self, method: &Method<'_>) -> TokenStream {
        match method.stream_item {
            Some(item) => item.to_token_stream(),
            None => self.output(method),
        }
    }

    /// The `#[serde(with = ...)]` a value of type `ty` crosses with, if any:
    /// `::ipc2::__private::serde_bytes` for a `Vec<u8>`, so byte buffers cross as one block
    /// instead of element by element (about 20 times faster for 1 MiB), and `::ipc2::fd` for a
    /// `File` or `OwnedFd`, passed as a descriptor.
    fn with_attr(&self, ty: &syn::Type) -> Option<TokenStream> {
        let krate = path_to_string(self.krate);
        let with = if is_byte_vec(ty) {
            format!("{krate}::__private::serde_bytes")
        } else if is_descriptor(ty) {
            format!("{krate}::fd")
        } else {
            return None;
        };
        Some(quote!(#[serde(with = #with)]))
    }

    // Input:  async fn add(&self, a: u32, b: u32) -> u32;  async fn reset(&self);
    // Output: pub enum CalcRequest { Add { a: u32, b: u32 }, Reset }
    fn request_enum(&self) -> TokenStream {
        let vis = &self.service.item.vis;
        let request = &self.request;
        let doc = format!(
            "A request to the [`{}`] service: one variant per method, holding its arguments.",
            self.service.name(),
        );
        let serde = serde_derives(self.krate);
        let variants = self.service.methods.iter().map(|method| {
            let cfgs = &method.cfgs;
            let variant = &method.variant;
            let link = self.method_link(method);
            let doc = format!("Request for {link}.");
            let fields = method.args.iter().filter_map(|arg| {
                let ident = arg.ident?;
                let ty = arg.ty;
                let doc = format!("Argument `{}` of {link}.", syn::ext::IdentExt::unraw(ident));
                let bytes = self.with_attr(ty);
                Some(quote!(#[doc = #doc] #bytes #ident: #ty))
            });
            let rename = self.method_name_attr(method);
            if method.args.is_empty() {
                quote!(#(#cfgs)* #[doc = #doc] #rename #variant)
            } else {
                quote!(#(#cfgs)* #[doc = #doc] #rename #variant { #(#fields),* })
            }
        });
        quote! {
            #[doc = #doc]
            #serde
            // Clippy skips items expanded from external macros, but these enums mix the user's
            // spans in; variant sizes follow the user's argument types and boxing them would
            // change the service's API, so the lint is not actionable here.
            #[allow(clippy::large_enum_variant)]
            #vis enum #request {
                #(#variants,)*
            }
        }
    }

    // Input:  async fn add(&self, ..) -> u32;  async fn reset(&self);  #[ipc2(oneway)] fn log(..);
    // Output: pub enum CalcResponse { Add(u32), Reset(()) }
    fn response_enum(&self) -> TokenStream {
        let vis = &self.service.item.vis;
        let response = &self.response;
        let doc = format!(
            "A reply from the [`{}`] service: one variant per method that answers.",
            self.service.name(),
        );
        let serde = serde_derives(self.krate);
        let variants = self.service.two_way().map(|method| {
            let cfgs = &method.cfgs;
            let variant = &method.variant;
            let output = self.reply_type(method);
            let bytes = method
                .stream_item
                .or(method.output)
                .and_then(|ty| self.with_attr(ty));
            let doc = format!("Reply to {}.", self.method_link(method));
            let rename = self.method_name_attr(method);
            quote!(#(#cfgs)* #[doc = #doc] #rename #variant(#bytes #output))
        });
        quote! {
            #[doc = #doc]
            #serde
            #[allow(clippy::large_enum_variant)]
            #vis enum #response {
                #(#variants,)*
            }
        }
    }

    /// `fn add(&self, a: u32, b: u32) -> impl Future<Output = Result<u32, Error>> + Send`
    fn client_signature(&self, method: &Method<'_>) -> TokenStream {
        let krate = self.krate;
        let ident = method.ident;
        let params = self.params(method);
        let output = match (&method.options.oneway, method.stream_item) {
            (Some(_), _) => quote_spanned!(ident.span()=> ()),
            (None, Some(item)) => quote!(#krate::__private::ReplyStream<#item>),
            (None, None) => self.output(method),
        };
        let (request, response) = (&self.request, &self.response);
        quote! {
            fn #ident(&self, #params) -> impl ::core::future::Future<
                Output = <Self as #krate::__private::Call<#request, #response>>::Output<#output>,
            > + ::core::marker::Send
        }
    }

    // Input:  /// Adds two numbers.
    //         async fn add(&self, a: u32, b: u32) -> u32;
    // Output: pub trait CalcClient: Call<CalcRequest, CalcResponse> {
    //             /// Adds two numbers.
    //             fn add(&self, a: u32, b: u32) -> impl Future<Output = Self::Output<u32>> + Send;
    //         }
    fn client_trait(&self) -> TokenStream {
        let vis = &self.service.item.vis;
        let client = &self.client;
        let name = self.service.name();
        let doc = format!(
            "Calls the [`{name}`] service on workers: each method sends its request and, unless \
             it is one-way, waits for the reply.\n\nImplemented for [`{workers}`] (a method gives \
             `Result<T, ipc2::Error>`) and for every other type that can send [`{request}`]s: \
             the set's `with_timeout(..)` and `on(worker)` views (the same), and its `on_all()` \
             view (each worker's result, by slot id).",
            workers = self.workers,
            request = self.request,
        );
        let methods = self.service.methods.iter().map(|method| {
            let cfgs = &method.cfgs;
            let deprecated = &method.deprecated;
            let docs = if method.docs.is_empty() {
                let link = self.method_link(method);
                let doc = match method.options.oneway {
                    Some(_) => format!("Sends {link} to a worker without waiting for it to run."),
                    None => format!("Calls {link} on a worker and waits for its reply."),
                };
                quote!(#[doc = #doc])
            } else {
                let docs = &method.docs;
                quote!(#(#docs)*)
            };
            let signature = self.client_signature(method);
            quote!(#(#cfgs)* #docs #(#deprecated)* #signature;)
        });
        let krate = self.krate;
        let (request, response) = (&self.request, &self.response);
        quote! {
            #[doc = #doc]
            #vis trait #client: #krate::__private::Call<#request, #response> {
                #(#methods)*
            }
        }
    }

    // Input:  #[ipc2(timeout = "5s", on_timeout = "restart", idempotent, retries = 2)]
    // Output: Policy::new(Some((Duration::from_millis(5000), TimeoutAction::Restart)), 2)
    fn policy(&self, method: &Method<'_>) -> Option<TokenStream> {
        let krate = self.krate;
        let policy = &method.options;
        let retries = match (&policy.idempotent, &policy.retries) {
            (Some(_), Some((_, n))) => *n,
            (Some(_), None) => 1,
            (None, _) => 0,
        };
        if policy.timeout.is_none() && retries == 0 && policy.item_timeout.is_none() {
            return None;
        }
        let timeout = match &policy.timeout {
            Some((_, ms)) => {
                let action = match policy.on_timeout {
                    Some((_, true)) => quote!(Restart),
                    _ => quote!(Error),
                };
                quote!(::core::option::Option::Some((
                    #krate::__private::Duration::from_millis(#ms),
                    #krate::__private::TimeoutAction::#action,
                )))
            }
            None => quote!(::core::option::Option::None),
        };
        let item_timeout = policy.item_timeout.as_ref().map(
            |(_, ms)| quote!(.with_item_timeout(#krate::__private::Duration::from_millis(#ms))),
        );
        Some(quote!(#krate::__private::Policy::new(#timeout, #retries) #item_timeout))
    }

    // Input:  async fn add(&self, a: u32, b: u32) -> u32;  #[ipc2(oneway)] async fn log(..);
    // Output: impl<C: Call<CalcRequest, CalcResponse> + Sync> CalcClient for C {
    //             fn add(&self, a: u32, b: u32) -> impl Future<..> + Send {
    //                 Call::call(self, CalcRequest::Add { a, b }, None, |reply| match reply {
    //                     CalcResponse::Add(reply) => Ok(reply),
    //                     _ => Err(unexpected_reply("Calc", "add")),
    //                 })
    //             }
    //             fn log(&self, line: String) -> impl Future<..> + Send {
    //                 Call::call_oneway(self, CalcRequest::Log { line })
    //             }
    //         }
    fn client_impl(&self) -> TokenStream {
        let krate = self.krate;
        let client = &self.client;
        let request = &self.request;
        let response = &self.response;
        let caller = Ident::new("__Caller", Span::call_site());
        let call = quote!(<#caller as #krate::__private::Call<#request, #response>>);
        let service_name = self.service.name();
        let reply = local("reply");
        let methods = self.service.methods.iter().map(|method| {
            let cfgs = &method.cfgs;
            let signature = self.client_signature(method);
            let job = self.request_variant(method);
            let body = match method.options.oneway {
                Some(_) => quote!(#call::call_oneway(self, #job)),
                None => {
                    let variant = &method.variant;
                    let method_name = method.name();
                    let policy = match self.policy(method) {
                        Some(policy) => quote!(::core::option::Option::Some(#policy)),
                        None => quote!(::core::option::Option::None),
                    };
                    let call_fn = match method.stream_item {
                        Some(_) => quote!(call_stream),
                        None => quote!(call),
                    };
                    quote! {
                        #call::#call_fn(self, #job, #policy, |#reply| match #reply {
                            #response::#variant(#reply) => ::core::result::Result::Ok(#reply),
                            // Unreachable when the service has a single two-way method.
                            #[allow(unreachable_patterns)]
                            _ => ::core::result::Result::Err(
                                #krate::__private::unexpected_reply(#service_name, #method_name),
                            ),
                        })
                    }
                }
            };
            quote!(#(#cfgs)* #signature { #body })
        });
        // https://github.com/dtolnay/thiserror/pull/92 (`unused_qualifications`: the paths are
        // absolute whatever the user imported). `deprecated`: a `#[deprecated]` service method
        // is still served and callable; only the user's own calls should warn.
        quote! {
            #[automatically_derived]
            #[allow(unused_qualifications, deprecated)]
            impl<#caller> #client for #caller
            where
                #caller: #krate::__private::Call<#request, #response> + ::core::marker::Sync,
            {
                #(#methods)*
            }
        }
    }

    // Output: pub type CalcWorkers<S = UnixListener> =
    //             WorkerSet<S, CalcResponse, CalcRequest, Progress>;
    fn workers_alias(&self) -> TokenStream {
        let vis = &self.service.item.vis;
        let krate = self.krate;
        let (workers, request, response) = (&self.workers, &self.request, &self.response);
        let event = self.event();
        let doc = format!(
            "A set of worker processes serving [`{name}`]; call its methods through \
             [`{client}`].\n\nThe raw `send`/`Job` API of the set stays available.",
            name = self.service.name(),
            client = self.client,
        );
        quote! {
            #[doc = #doc]
            #vis type #workers<S = #krate::__private::UnixListener> =
                #krate::__private::WorkerSet<S, #response, #request, #event>;
        }
    }

    // Output: impl ServiceEvent for CalcRequest { type Event = Progress; }
    fn service_event_impl(&self) -> TokenStream {
        let krate = self.krate;
        let (request, event) = (&self.request, self.event());
        quote! {
            #[automatically_derived]
            impl #krate::__private::ServiceEvent for #request {
                type Event = #event;
            }
        }
    }

    // Output: pub struct CalcServer<T>(pub T);
    fn server_struct(&self) -> TokenStream {
        let vis = &self.service.item.vis;
        let server = &self.server;
        let name = self.service.name();
        let doc = format!(
            "Wraps an implementation of [`{name}`] so the worker runtime can serve it: \
             `ipc2::worker::serve({server}(MyImpl)).await`.\n\nEach request runs the matching \
             method. Methods declared without `async` are CPU work: on a multi-threaded runtime \
             they run with `block_in_place`, so the worker's I/O (heartbeats, cancellation) goes \
             on meanwhile.",
        );
        quote! {
            #[doc = #doc]
            #[derive(
                ::core::fmt::Debug,
                ::core::clone::Clone,
                ::core::marker::Copy,
                ::core::default::Default,
            )]
            #vis struct #server<T>(
                #[doc = "The service implementation."]
                pub T,
            );
        }
    }

    // Input:  async fn add(&self, a: u32, b: u32) -> u32;  #[ipc2(oneway)] async fn log(..);
    //         fn square(&self, x: u64) -> u64;
    // Output: impl<I: Calc> Dispatch for CalcServer<I> {
    //             fn dispatch(&self, request: CalcRequest) -> impl Future<..> + Send {
    //                 async move {
    //                     match request {
    //                         CalcRequest::Add { a, b } => {
    //                             Some(CalcResponse::Add(I::add(&self.0, a, b).await))
    //                         }
    //                         CalcRequest::Log { line } => { I::log(&self.0, line).await; None }
    //                         CalcRequest::Square { x } => {
    //                             Some(CalcResponse::Square(I::square(&self.0, x)))
    //                         }
    //                     }
    //                 }
    //             }
    //         }
    fn server_impl(&self) -> TokenStream {
        let krate = self.krate;
        let trait_ident = &self.service.item.ident;
        let (server, request, response) = (&self.server, &self.request, &self.response);
        let imp = Ident::new("__Impl", Span::call_site());
        let request_local = local("request");
        let arms = self.service.methods.iter().map(|method| {
            let cfgs = &method.cfgs;
            let pattern = self.request_variant(method);
            let ident = method.ident;
            let args = method.args.iter().filter_map(|arg| arg.ident);
            let call = quote!(<#imp as #trait_ident>::#ident(&self.0, #(#args),*));
            // A synchronous method is CPU work: it runs where it cannot hold up the worker's
            // I/O (heartbeats, cancellations, the next frames).
            let run = match method.is_async() {
                true => quote!(#call.await),
                false => quote!(#krate::__private::run_blocking(|| #call)),
            };
            let variant = &method.variant;
            let answer = quote!(#krate::__private::Answer);
            match method.options.oneway {
                None if method.stream_item.is_some() => quote! {
                    #(#cfgs)*
                    #pattern => #answer::Stream(#run.map(#response::#variant)),
                },
                // `Reset(())` rather than `Reset(self.0.reset().await)`: clippy's `unit_arg`.
                None if method.returns_unit() => quote! {
                    #(#cfgs)*
                    #pattern => {
                        #run;
                        #answer::Reply(#response::#variant(()))
                    }
                },
                Some(_) => quote! {
                    #(#cfgs)*
                    #pattern => {
                        #run;
                        #answer::None
                    }
                },
                None => quote! {
                    #(#cfgs)*
                    #pattern => #answer::Reply(#response::#variant(#run)),
                },
            }
        });
        emit::dispatch_impl(
            krate,
            quote!(<#imp: #trait_ident>),
            quote!(#server<#imp>),
            (request, response, &self.event()),
            &request_local,
            arms,
        )
    }
}

impl ToTokens for ServiceGenerator<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let client_impl = self.client_impl();
        let server_impl = self.server_impl();
        let service_event_impl = self.service_event_impl();
        tokens.extend([
            self.service_trait(),
            self.request_enum(),
            self.response_enum(),
            self.client_trait(),
            self.workers_alias(),
            self.server_struct(),
            quote! {
                const _: () = {
                    #client_impl
                    #server_impl
                    #service_event_impl
                };
            },
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands `input` as `#[ipc2::service(args)]` and pretty-prints the result.
    fn expand_pretty(args: TokenStream, input: TokenStream) -> String {
        let item: Item = syn::parse2(input).expect("test input is an item");
        let output = service(args, &item);
        let file: syn::File = syn::parse2(output).expect("expansion parses as items");
        prettyplease::unparse(&file)
    }

    fn calc() -> TokenStream {
        quote! {
            pub trait Calc {
                /// Adds two numbers.
                async fn add(&self, a: u32, b: u32) -> u32;
                async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero>;
                async fn reset(&self);
                #[ipc2(oneway)]
                async fn log(&self, line: String);
                fn square(&self, mut x: u64) -> u64;
            }
        }
    }

    #[test]
    fn calc_expansion_matches_snapshot() {
        let actual = expand_pretty(TokenStream::new(), calc());
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/snapshots/calc.expanded.rs"
        );
        // Regenerate with `IPC2_UPDATE_SNAPSHOTS=1 cargo test -p ipc2_macros`, then review the diff.
        if std::env::var_os("IPC2_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, &actual).expect("snapshot is writable");
        }
        let expected = std::fs::read_to_string(path).expect("snapshot exists");
        assert!(
            actual == expected,
            "expansion changed; new output:\n{actual}"
        );
    }

    #[test]
    fn byte_vectors_cross_as_bytes_and_nothing_else_does() {
        let output = expand_pretty(
            TokenStream::new(),
            quote! {
                trait Blob {
                    async fn put(&self, data: Vec<u8>, words: Vec<u16>) -> Vec<u8>;
                }
            },
        );
        let with = r#"#[serde(with = "::ipc2::__private::serde_bytes")]"#;
        assert_eq!(output.matches(with).count(), 2, "{output}");
        let words = output.find("words: Vec<u16>").unwrap();
        assert!(!output[..words].ends_with(&format!("{with}\n        ")));
    }

    #[test]
    fn files_and_descriptors_cross_as_descriptors() {
        let output = expand_pretty(
            TokenStream::new(),
            quote! {
                trait Files {
                    async fn open(&self, name: String) -> std::fs::File;
                    async fn size(&self, file: File, fd: std::os::fd::OwnedFd) -> u64;
                }
            },
        );
        let with = r#"#[serde(with = "::ipc2::fd")]"#;
        assert_eq!(output.matches(with).count(), 3, "{output}");
    }

    #[test]
    fn crate_override_reaches_every_path_and_the_serde_attribute() {
        let output = expand_pretty(quote!(crate = "renamed::inner"), calc());
        assert!(!output.contains("::ipc2"), "{output}");
        assert!(output.contains(r#"#[serde(crate = "renamed::inner::__private::serde")]"#));
        assert!(output.contains("renamed::inner::__private::WorkerSet<"));
    }

    #[test]
    fn sync_methods_stay_sync_and_oneway_methods_get_no_reply_variant() {
        let output = expand_pretty(TokenStream::new(), calc());
        assert!(
            output.contains("    fn square(&self, x: u64) -> u64;\n"),
            "{output}"
        );
        assert!(output.contains("Square(u64)"));
        assert!(output.contains("Log {"));
        assert!(!output.contains("Log("));
    }

    #[test]
    fn a_streaming_method_replies_item_by_item() {
        let output = expand_pretty(
            TokenStream::new(),
            quote! {
                trait Eval {
                    #[ipc2(item_timeout = "1s")]
                    async fn run(&self, script: String) -> ipc2::Stream<Line>;
                }
            },
        );
        for needle in [
            "Run(Line)",
            "Output<::ipc2::__private::ReplyStream<Line>>",
            "::call_stream(",
            "::ipc2::__private::Duration::from_millis(1000u64)",
            ".with_item_timeout(",
            "::ipc2::__private::Answer::Stream(",
            ".map(EvalResponse::Run)",
        ] {
            assert!(output.contains(needle), "{needle} missing from:\n{output}");
        }
    }

    #[test]
    fn errors_emit_the_trait_unchanged_and_no_generated_items() {
        let input = quote! {
            pub trait Calc {
                async fn add(&self, a: &str) -> u32;
            }
        };
        let output = expand_pretty(TokenStream::new(), input);
        assert!(
            output.contains("async fn add(&self, a: &str) -> u32;"),
            "{output}"
        );
        assert!(output.contains("compile_error!"));
        assert!(!output.contains("CalcRequest"));
    }
}
