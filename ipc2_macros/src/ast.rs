//! The models the checks and the generators work on: a `#[ipc2::service]` trait, and the list
//! given to `ipc2::combine!`.
//!
//! Parsing is tolerant on purpose: anything the model cannot express (an associated type, a
//! tuple pattern, a missing receiver, a service named twice) is kept as the original syn node so
//! `valid.rs` can point an error at it, instead of stopping at the first surprise. Only option
//! syntax (`#[ipc2(...)]`) is reported here, because it has to be parsed to build the model at
//! all.

use proc_macro2::Span;
use quote::format_ident;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    Attribute, FnArg, Ident, ItemTrait, Pat, PatType, Path, Receiver, ReturnType, Token, TraitItem,
    TraitItemFn, Type, Visibility,
};

use crate::attr::{self, CombineOptions, MethodOptions, ServiceOptions};
use crate::ctxt::Ctxt;

/// A trait annotated with `#[ipc2::service]`.
#[derive(Debug)]
pub(crate) struct Service<'a> {
    /// The trait as written.
    pub(crate) item: &'a ItemTrait,
    /// Options from `#[ipc2::service(...)]`.
    pub(crate) options: ServiceOptions,
    /// Every `fn` item, in declaration order.
    pub(crate) methods: Vec<Method<'a>>,
    /// Items that are not methods (associated types, consts, macros); all rejected.
    pub(crate) other_items: Vec<&'a TraitItem>,
}

/// One method of the service.
#[derive(Debug)]
pub(crate) struct Method<'a> {
    /// The method as written.
    pub(crate) item: &'a TraitItemFn,
    /// The method name, also the client method's name.
    pub(crate) ident: &'a Ident,
    /// The request/response variant name: the method name in PascalCase.
    pub(crate) variant: Ident,
    /// The `#[ipc2(...)]` options: `oneway` (the caller does not wait for a reply) and the call
    /// policy (`timeout`, `on_timeout`, `idempotent`, `retries`).
    pub(crate) options: MethodOptions,
    /// `self`, `&self`, `&mut self`, ... when present.
    pub(crate) receiver: Option<&'a Receiver>,
    /// Typed arguments after the receiver.
    pub(crate) args: Vec<Arg<'a>>,
    /// The return type; `None` for `-> ()` left implicit.
    pub(crate) output: Option<&'a Type>,
    /// For a method returning `ipc2::Stream<T>`, the item type `T`.
    pub(crate) stream_item: Option<&'a Type>,
    /// `#[doc]` attributes, copied onto the client method.
    pub(crate) docs: Vec<&'a Attribute>,
    /// `#[cfg]` attributes, copied onto every item generated for this method.
    pub(crate) cfgs: Vec<&'a Attribute>,
    /// `#[deprecated]` attributes, copied onto the client method.
    pub(crate) deprecated: Vec<&'a Attribute>,
}

/// One argument of a method, which becomes one field of the request variant.
#[derive(Debug)]
pub(crate) struct Arg<'a> {
    /// The argument as written.
    pub(crate) item: &'a PatType,
    /// The binding name when the pattern is a plain identifier (`x` or `mut x`), else `None`.
    pub(crate) ident: Option<&'a Ident>,
    /// The argument type.
    pub(crate) ty: &'a Type,
}

impl<'a> Service<'a> {
    /// Builds the model of `item`, recording option errors in `cx`.
    pub(crate) fn from_syn(cx: &Ctxt, item: &'a ItemTrait, options: ServiceOptions) -> Self {
        let mut methods = Vec::new();
        let mut other_items = Vec::new();
        for trait_item in &item.items {
            match trait_item {
                TraitItem::Fn(method) => methods.push(Method::from_syn(cx, method)),
                other => other_items.push(other),
            }
        }
        Service {
            item,
            options,
            methods,
            other_items,
        }
    }

    /// The trait name as text, without any `r#` prefix.
    pub(crate) fn name(&self) -> String {
        self.item.ident.unraw().to_string()
    }

    /// Methods that get a reply (all but `#[ipc2(oneway)]`).
    pub(crate) fn two_way(&self) -> impl Iterator<Item = &Method<'a>> {
        self.methods.iter().filter(|m| m.options.oneway.is_none())
    }
}

impl<'a> Method<'a> {
    fn from_syn(cx: &Ctxt, item: &'a TraitItemFn) -> Self {
        let sig = &item.sig;
        let options = MethodOptions::from_attrs(cx, &item.attrs);
        let attrs_named = |word| item.attrs.iter().filter(|a| *a.path() == word).collect();
        Method {
            item,
            ident: &sig.ident,
            variant: variant_ident(&sig.ident),
            receiver: sig.receiver(),
            options,
            args: sig
                .inputs
                .iter()
                .filter_map(|input| match input {
                    FnArg::Typed(arg) => Some(Arg::from_syn(arg)),
                    FnArg::Receiver(_) => None,
                })
                .collect(),
            output: match &sig.output {
                ReturnType::Default => None,
                ReturnType::Type(_, ty) => Some(ty),
            },
            stream_item: match &sig.output {
                ReturnType::Default => None,
                ReturnType::Type(_, ty) => stream_item(ty),
            },
            docs: attrs_named(attr::DOC),
            cfgs: attrs_named(attr::CFG),
            deprecated: attrs_named(attr::DEPRECATED),
        }
    }

    /// The method name as text, without any `r#` prefix.
    pub(crate) fn name(&self) -> String {
        self.ident.unraw().to_string()
    }

    /// Whether the method returns `()`, written or not.
    pub(crate) fn returns_unit(&self) -> bool {
        self.output.is_none_or(is_unit)
    }

    /// Whether the method is `async fn`.
    pub(crate) fn is_async(&self) -> bool {
        self.item.sig.asyncness.is_some()
    }
}

impl<'a> Arg<'a> {
    fn from_syn(item: &'a PatType) -> Self {
        let ident = match &*item.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => Some(&pat.ident),
            _ => None,
        };
        Arg {
            item,
            ident,
            ty: &item.ty,
        }
    }
}

/// The tokens of `ipc2::combine!(#[ipc2(crate = "...")] pub Tools: Calc, store::Store)`, read
/// without judging them: an empty or repeated list is for `valid.rs` to report.
#[derive(Debug)]
pub(crate) struct CombineInput {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    colon: Token![:],
    services: Punctuated<Path, Token![,]>,
}

impl Parse for CombineInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let parse = |input: ParseStream<'_>| -> syn::Result<Self> {
            Ok(CombineInput {
                attrs: input.call(Attribute::parse_outer)?,
                vis: input.parse()?,
                name: input.parse()?,
                colon: input.parse()?,
                services: Punctuated::parse_terminated(input)?,
            })
        };
        parse(input).map_err(|err: syn::Error| {
            let usage = "write `ipc2::combine!(pub Tools: Calc, Store);`";
            syn::Error::new(err.span(), format!("{err}; {usage}"))
        })
    }
}

/// The services combined on one worker set by `ipc2::combine!`.
#[derive(Debug)]
pub(crate) struct Combine<'a> {
    /// Options from `#[ipc2(...)]`.
    pub(crate) options: CombineOptions,
    /// The set's visibility, given to every generated item.
    pub(crate) vis: &'a Visibility,
    /// The set's name: `Tools` generates `ToolsRequest`, `ToolsWorkers`, ...
    pub(crate) name: &'a Ident,
    /// `Tools:`, where an error about the whole list points.
    pub(crate) colon: &'a Token![:],
    /// The services, in the order named.
    pub(crate) services: Vec<CombinedService<'a>>,
}

/// One service of a [`Combine`], named by the path of its trait.
#[derive(Debug)]
pub(crate) struct CombinedService<'a> {
    /// `store::Store`; its `StoreRequest`, `StoreResponse` live next to it.
    pub(crate) path: &'a Path,
    /// `Store`: the last segment, which names the service's variants.
    pub(crate) ident: &'a Ident,
}

impl<'a> Combine<'a> {
    /// Builds the model of `input`, recording option errors in `cx`.
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a CombineInput) -> Self {
        Combine {
            options: CombineOptions::from_attrs(cx, &input.attrs),
            vis: &input.vis,
            name: &input.name,
            colon: &input.colon,
            services: input
                .services
                .iter()
                .filter_map(|path| {
                    // A parsed path has at least one segment.
                    let ident = &path.segments.last()?.ident;
                    Some(CombinedService { path, ident })
                })
                .collect(),
        }
    }
}

impl CombinedService<'_> {
    /// The path of the service's generated item `suffix`: `store::StoreRequest` for `Request`,
    /// spanned like the user's `Store` so an unknown service is reported there.
    pub(crate) fn sibling(&self, suffix: &str) -> Path {
        let mut path = self.path.clone();
        if let Some(last) = path.segments.last_mut() {
            last.ident = format_ident!("{}{suffix}", self.ident, span = self.ident.span());
        }
        path
    }
}

/// Whether `ty` is `()`, possibly parenthesized.
pub(crate) fn is_unit(ty: &Type) -> bool {
    match ty {
        Type::Tuple(tuple) => tuple.elems.is_empty(),
        Type::Paren(paren) => is_unit(&paren.elem),
        Type::Group(group) => is_unit(&group.elem),
        _ => false,
    }
}

/// `T` of `Stream<T>` (however the path to `Stream` is written: `ipc2::Stream<T>`, or `Stream<T>`
/// once imported), the return type of a streaming method.
pub(crate) fn stream_item(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match (
        path.qself.is_none() && last.ident == "Stream",
        args.args.first(),
    ) {
        (true, Some(syn::GenericArgument::Type(item))) if args.args.len() == 1 => Some(item),
        _ => None,
    }
}

/// Whether `ty` is `Vec<u8>`, which crosses as one block of bytes rather than element by element.
pub(crate) fn is_byte_vec(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    let is_u8 = |arg: &syn::GenericArgument| matches!(arg, syn::GenericArgument::Type(Type::Path(p)) if p.path.is_ident("u8"));
    path.qself.is_none() && last.ident == "Vec" && args.args.len() == 1 && is_u8(&args.args[0])
}

/// Whether `ty` is a file descriptor (`File` or `OwnedFd`, by the last segment of its path),
/// which crosses with `SCM_RIGHTS` (`ipc2::fd`).
pub(crate) fn is_descriptor(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    path.qself.is_none()
        && path.path.segments.last().is_some_and(|last| {
            last.arguments.is_empty() && (last.ident == "File" || last.ident == "OwnedFd")
        })
}

/// The variant name for a method: `get_user` becomes `GetUser`, spanned like the method name.
fn variant_ident(method: &Ident) -> Ident {
    let span: Span = method.span();
    format_ident!(
        "{}",
        snake_to_pascal(&method.unraw().to_string()),
        span = span
    )
}

/// Converts a snake_case name to PascalCase: `get_user_id` → `GetUserId`.
///
/// Underscores are dropped and the letter after each is upper-cased; other characters are kept,
/// so `getUser` becomes `GetUser`. A name with no letter to start with (`_2`, `__`) gets a
/// `Method` prefix so the result is still an identifier, and `self_` becomes `Self_` because
/// `Self` is a keyword.
pub(crate) fn snake_to_pascal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper_next = true;
    for c in name.chars() {
        if c == '_' {
            upper_next = true;
        } else if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    if !out.starts_with(|c: char| c.is_alphabetic()) {
        out.insert_str(0, "Method");
    }
    if out == "Self" {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_to_pascal_capitalizes_each_word() {
        assert_eq!(snake_to_pascal("add"), "Add");
        assert_eq!(snake_to_pascal("get_user_id"), "GetUserId");
        assert_eq!(snake_to_pascal("v2_add_3"), "V2Add3");
    }

    #[test]
    fn snake_to_pascal_drops_leading_trailing_and_double_underscores() {
        assert_eq!(snake_to_pascal("_private"), "Private");
        assert_eq!(snake_to_pascal("a__b_"), "AB");
    }

    #[test]
    fn snake_to_pascal_keeps_existing_capitals() {
        assert_eq!(snake_to_pascal("getUser"), "GetUser");
        assert_eq!(snake_to_pascal("HTTP_get"), "HTTPGet");
    }

    #[test]
    fn snake_to_pascal_always_returns_an_identifier() {
        assert_eq!(snake_to_pascal("__"), "Method");
        assert_eq!(snake_to_pascal("_2"), "Method2");
        assert_eq!(snake_to_pascal("self_"), "Self_");
    }

    #[test]
    fn variant_ident_strips_raw_prefix() {
        let ident: Ident = syn::parse_quote!(r#type);
        assert_eq!(variant_ident(&ident), "Type");
    }

    #[test]
    fn method_model_reads_args_output_and_oneway() {
        let item: ItemTrait = syn::parse_quote! {
            trait Calc {
                /// Adds.
                async fn add(&self, a: u32, mut b: u32) -> u32;
                #[ipc2(oneway)]
                #[cfg(unix)]
                fn log(&self, (x, y): (u8, u8));
                type Item;
            }
        };
        let cx = Ctxt::new();
        let service = Service::from_syn(
            &cx,
            &item,
            ServiceOptions::from_args(&cx, Default::default()),
        );
        cx.check().unwrap();
        assert_eq!(service.name(), "Calc");
        assert_eq!(service.other_items.len(), 1);
        let [add, log] = &service.methods[..] else {
            panic!("expected two methods")
        };
        assert!(add.is_async() && add.options.oneway.is_none() && add.output.is_some());
        assert_eq!(add.docs.len(), 1);
        let names: Vec<_> = add
            .args
            .iter()
            .map(|a| a.ident.unwrap().to_string())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(!log.is_async() && log.options.oneway.is_some() && log.output.is_none());
        assert_eq!(log.cfgs.len(), 1);
        assert!(log.args[0].ident.is_none());
        assert_eq!(log.variant, "Log");
    }
}
