//! Checks that a parsed service, or `combine!` list, can be expanded into code that compiles.
//!
//! Every rule here exists because the generated code would otherwise fail with an error that
//! points into the expansion, or, worse, compile and misbehave:
//!
//! - arguments become fields of a serde enum sent to another process, so they must be owned,
//!   `'static` data with a name (no references, `impl Trait`, patterns or generics);
//! - the worker shares one service value between concurrently running jobs, so methods take
//!   `&self`;
//! - the client methods are called on `WorkerSet` itself, so a method named like one of its
//!   inherent methods would be shadowed (inherent methods win method resolution) and silently
//!   never run through the service;
//! - the trait only declares methods: the worker side implements them in an `impl`.
//!
//! For `ipc2::combine!`, each service becomes a variant named after it and is found through the
//! sibling items its macro generated (`CalcRequest` next to `Calc`), so the services need
//! distinct names, no generic arguments, and none may share the set's name.
//!
//! All checks run to the end and report into one [`Ctxt`], so one compile shows every problem.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{
    GenericArgument, Item, Lifetime, PathArguments, ReturnType, TraitItem, Type, TypeParamBound,
    TypePath,
};

use crate::ast::{Combine, CombinedService, Method, Service, is_unit, stream_item};
use crate::attr::{
    IDEMPOTENT, IPC2, ITEM_TIMEOUT, ON_TIMEOUT, ONEWAY, RETRIES, TIMEOUT, is_ipc2, path_to_string,
};
use crate::ctxt::Ctxt;
use crate::reserved::WORKER_SET_METHODS;

/// Reports the attribute on something that is not a trait.
pub(crate) fn not_a_trait(cx: &Ctxt, item: &Item) {
    let (what, tokens) = match item {
        Item::Struct(s) => ("a struct", pair(&s.struct_token, &s.ident)),
        Item::Enum(e) => ("an enum", pair(&e.enum_token, &e.ident)),
        Item::Union(u) => ("a union", pair(&u.union_token, &u.ident)),
        Item::Fn(f) => ("a function", pair(&f.sig.fn_token, &f.sig.ident)),
        Item::Impl(i) => ("an impl block", i.impl_token.to_token_stream()),
        Item::Mod(m) => ("a module", pair(&m.mod_token, &m.ident)),
        other => ("this item", other.to_token_stream()),
    };
    cx.error_spanned_by(
        tokens,
        format!(
            "#[ipc2::service] goes on a trait, not on {what}; declare the service as \
             `trait Name {{ async fn method(&self, ...) -> T; }}`"
        ),
    );
}

/// Runs every check on `service`, recording all errors in `cx`.
pub(crate) fn check(cx: &Ctxt, service: &Service<'_>) {
    check_trait(cx, service);
    for method in &service.methods {
        check_method(cx, method);
        if service.options.event.is_some() && method.name() == "emit" {
            cx.error_spanned_by(
                method.ident,
                "method name `emit` conflicts with the `emit` function that `event = ...` adds to \
                 the trait; rename the method",
            );
        }
    }
    check_variant_collisions(cx, service);
}

fn check_trait(cx: &Ctxt, service: &Service<'_>) {
    let item = service.item;
    if let Some(unsafety) = &item.unsafety {
        cx.error_spanned_by(
            unsafety,
            "`unsafe` service traits are not supported; remove `unsafe`",
        );
    }
    if let Some(auto) = &item.auto_token {
        cx.error_spanned_by(auto, "an auto trait cannot be a service; remove `auto`");
    }
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(
            &item.generics,
            "generic service traits are not supported; use concrete types in the methods",
        );
    }
    if let Some(where_clause) = &item.generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            "where clauses on a service trait are not supported; remove it",
        );
    }
    for attr in item.attrs.iter().filter(|attr| is_ipc2(attr)) {
        cx.error_spanned_by(
            attr,
            format!(
                "`#[{IPC2}(...)]` goes on methods; write service options as \
                 `#[ipc2::service(crate = \"...\")]`"
            ),
        );
    }
    for other in &service.other_items {
        let (tokens, what) = match other {
            TraitItem::Type(ty) => (pair(&ty.type_token, &ty.ident), "associated types"),
            TraitItem::Const(c) => (pair(&c.const_token, &c.ident), "associated consts"),
            TraitItem::Macro(m) => (m.mac.to_token_stream(), "macros"),
            other => (other.to_token_stream(), "items other than methods"),
        };
        cx.error_spanned_by(
            tokens,
            format!("{what} are not supported in a service trait; it only declares methods"),
        );
    }
}

fn check_method(cx: &Ctxt, method: &Method<'_>) {
    let item = method.item;
    let sig = &item.sig;
    if let Some(block) = &item.default {
        cx.error_spanned_by(
            block,
            "default method bodies are not supported; the service trait only declares methods, \
             implement them in an `impl`",
        );
    }
    if let Some(constness) = &sig.constness {
        cx.error_spanned_by(
            constness,
            "`const` service methods are not supported; remove `const`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(
            unsafety,
            "`unsafe` service methods are not supported; remove `unsafe`",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            "`extern` service methods are not supported; remove the ABI",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(
            variadic,
            "variadic service methods are not supported; take a `Vec<T>` instead",
        );
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            "generic methods are not supported; use concrete owned types",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            "where clauses on service methods are not supported; use concrete owned types",
        );
    }
    check_receiver(cx, method);
    for arg in &method.args {
        if let Some(attr) = arg.item.attrs.first() {
            cx.error_spanned_by(
                attr,
                "attributes on service method arguments are not supported",
            );
        }
        if arg.ident.is_none() {
            cx.error_spanned_by(
                &arg.item.pat,
                "argument patterns are not supported; name the argument, as in `value: T`",
            );
        }
        check_type(cx, arg.ty, Position::Argument);
        if stream_item(arg.ty).is_some() {
            cx.error_spanned_by(
                arg.ty,
                "stream arguments are not supported: send the items as a `Vec<T>`, or one call \
                 per item; only results can be streams",
            );
        }
    }
    check_policy(cx, method);
    if let ReturnType::Type(_, ty) = &sig.output {
        check_type(cx, ty, Position::Return);
        if let Some(oneway) = &method.options.oneway
            && !is_unit(ty)
        {
            let what = match method.stream_item {
                Some(_) => "a stream: nobody reads it",
                None => "a value",
            };
            let msg = format!(
                "`#[{IPC2}({ONEWAY})]` methods cannot return {what}; \
                 remove the return type or `{ONEWAY}`"
            );
            cx.error_spanned_by(oneway, &msg);
            cx.error_spanned_by(ty, &msg);
        }
    }
    let name = method.name();
    if WORKER_SET_METHODS.contains(&name.as_str()) {
        cx.error_spanned_by(
            method.ident,
            format!("method name `{name}` conflicts with `WorkerSet::{name}`; rename it"),
        );
    }
}

fn check_receiver(cx: &Ctxt, method: &Method<'_>) {
    let Some(receiver) = method.receiver else {
        cx.error_spanned_by(
            method.ident,
            "service methods take `&self` first; add it (associated functions cannot be called \
             on a worker)",
        );
        return;
    };
    if receiver.colon_token.is_some() {
        cx.error_spanned_by(receiver, "write the receiver as plain `&self`");
    } else if receiver.reference.is_none() {
        cx.error_spanned_by(
            receiver,
            "`self` by value is not supported; use `&self` (the worker keeps one service value \
             for all jobs)",
        );
    } else if let (Some(mutability), Some((and, _))) = (&receiver.mutability, &receiver.reference) {
        cx.error_spanned_by(
            pair(and, mutability),
            "`&mut self` is not supported; use `&self` and interior mutability (the worker may \
             run jobs concurrently)",
        );
    } else if let Some((_, Some(lifetime))) = &receiver.reference {
        cx.error_spanned_by(
            lifetime,
            "write the receiver as plain `&self`, without a lifetime",
        );
    }
}

/// Where a type appears, for wording.
#[derive(Debug, Clone, Copy)]
enum Position {
    Argument,
    Return,
}

impl Position {
    fn noun(self) -> &'static str {
        match self {
            Position::Argument => "argument",
            Position::Return => "return",
        }
    }
}

/// Rejects what cannot cross a process boundary as an owned, `'static`, serializable value.
/// Types that are merely not `Serialize` are left to rustc, which points at the user's type.
fn check_type(cx: &Ctxt, ty: &Type, pos: Position) {
    let noun = pos.noun();
    match ty {
        Type::Reference(reference) => {
            let fix = match pos {
                Position::Argument => "take an owned type such as `String` or `Vec<u8>`",
                Position::Return => "return an owned type such as `String` or `Vec<u8>`",
            };
            cx.error_spanned_by(
                reference,
                format!("reference {noun} types are not supported; {fix}"),
            );
        }
        Type::ImplTrait(impl_trait) => {
            let fix = match pos {
                Position::Argument => "take a concrete owned type",
                Position::Return => "write `async fn` returning a concrete owned type",
            };
            cx.error_spanned_by(
                impl_trait,
                format!("`impl Trait` {noun} types are not supported; {fix}"),
            );
        }
        Type::Infer(infer) => {
            cx.error_spanned_by(
                infer,
                "`_` is not allowed in a service method; write the type",
            );
        }
        Type::Ptr(ptr) => {
            cx.error_spanned_by(
                ptr,
                format!(
                    "raw pointer {noun} types cannot cross a process boundary; use an owned type"
                ),
            );
        }
        Type::BareFn(bare_fn) => {
            cx.error_spanned_by(
                bare_fn,
                format!("function pointer {noun} types cannot cross a process boundary"),
            );
        }
        Type::Array(array) => check_type(cx, &array.elem, pos),
        Type::Slice(slice) => check_type(cx, &slice.elem, pos),
        Type::Group(group) => check_type(cx, &group.elem, pos),
        Type::Paren(paren) => check_type(cx, &paren.elem, pos),
        Type::Tuple(tuple) => {
            for elem in &tuple.elems {
                check_type(cx, elem, pos);
            }
        }
        Type::Path(path) => check_type_path(cx, path, pos),
        Type::TraitObject(object) => check_bounds(cx, object.bounds.iter(), pos),
        _ => {}
    }
}

fn check_type_path(cx: &Ctxt, ty: &TypePath, pos: Position) {
    if let Some(qself) = &ty.qself {
        check_type(cx, &qself.ty, pos);
    }
    if ty.qself.is_none() && ty.path.segments.first().is_some_and(|s| s.ident == "Self") {
        cx.error_spanned_by(
            &ty.path,
            format!(
                "`Self` is not allowed in service {noun} types; name the type",
                noun = pos.noun()
            ),
        );
    }
    for segment in &ty.path.segments {
        let PathArguments::AngleBracketed(args) = &segment.arguments else {
            continue;
        };
        for arg in &args.args {
            match arg {
                GenericArgument::Type(ty) => check_type(cx, ty, pos),
                GenericArgument::AssocType(assoc) => check_type(cx, &assoc.ty, pos),
                GenericArgument::Lifetime(lifetime) => check_lifetime(cx, lifetime, pos),
                _ => {}
            }
        }
    }
}

fn check_bounds<'a>(cx: &Ctxt, bounds: impl Iterator<Item = &'a TypeParamBound>, pos: Position) {
    for bound in bounds {
        if let TypeParamBound::Lifetime(lifetime) = bound {
            check_lifetime(cx, lifetime, pos);
        }
    }
}

/// Only `'static` data can be deserialized into an owned request in another process.
fn check_lifetime(cx: &Ctxt, lifetime: &Lifetime, pos: Position) {
    if lifetime.ident != "static" {
        cx.error_spanned_by(
            lifetime,
            format!(
                "borrowed {noun} types are not supported; use an owned type \
                 (no lifetime other than `'static`)",
                noun = pos.noun()
            ),
        );
    }
}

/// The tokens of `a` followed by those of `b`, to span an error over both (`struct Name`).
fn pair(a: &impl ToTokens, b: &impl ToTokens) -> TokenStream {
    let mut tokens = a.to_token_stream();
    b.to_tokens(&mut tokens);
    tokens
}

/// Two methods whose names map to the same variant (`get_x` and `getX`) would generate two
/// variants with one name; report it on both methods.
fn check_variant_collisions(cx: &Ctxt, service: &Service<'_>) {
    let mut first_by_variant: BTreeMap<String, &Method<'_>> = BTreeMap::new();
    for method in &service.methods {
        let variant = method.variant.to_string();
        let Some(first) = first_by_variant.get(&variant) else {
            first_by_variant.insert(variant, method);
            continue;
        };
        let msg = format!(
            "methods `{}` and `{}` both map to the variant `{}::{variant}`; rename one",
            first.name(),
            method.name(),
            format_args!("{}Request", service.name()),
        );
        cx.error_spanned_by(first.ident, &msg);
        cx.error_spanned_by(method.ident, &msg);
    }
}

/// The call-policy options must make sense together.
fn check_policy(cx: &Ctxt, method: &Method<'_>) {
    let policy = &method.options;
    if method.options.oneway.is_some() {
        let waited_for = [
            policy.timeout.as_ref().map(|t| &t.0),
            policy.on_timeout.as_ref().map(|t| &t.0),
            policy.idempotent.as_ref(),
            policy.retries.as_ref().map(|r| &r.0),
        ];
        for path in waited_for.into_iter().flatten() {
            cx.error_spanned_by(
                path,
                format!(
                    "`{}` does not apply to `#[{IPC2}({ONEWAY})]` methods, which nobody waits for",
                    path_to_string(path)
                ),
            );
        }
    }
    if let (Some((on_timeout, _)), None) = (&policy.on_timeout, &policy.timeout) {
        cx.error_spanned_by(
            on_timeout,
            format!("`{ON_TIMEOUT}` needs a `{TIMEOUT} = \"...\"` to act on"),
        );
    }
    if let (Some((item_timeout, _)), None) = (&policy.item_timeout, method.stream_item) {
        cx.error_spanned_by(
            item_timeout,
            format!(
                "`{ITEM_TIMEOUT}` bounds the gap between two items of a stream; it applies only \
                 to methods returning `ipc2::Stream<T>`"
            ),
        );
    }
    if let (Some(_), Some(idempotent)) = (method.stream_item, &policy.idempotent) {
        cx.error_spanned_by(
            idempotent,
            format!(
                "streaming methods are not retried (items already read cannot be taken back); \
                 remove `{IDEMPOTENT}`"
            ),
        );
    }
    if let (Some((retries, _)), None) = (&policy.retries, &policy.idempotent) {
        cx.error_spanned_by(
            retries,
            format!(
                "`{RETRIES}` needs `{IDEMPOTENT}`: only a call that is safe to run twice may be \
                 sent again after a worker crash"
            ),
        );
    }
}

/// Runs every check on a `combine!` list, recording all errors in `cx`, and returns the services
/// that passed, each once: the fallback still generates the set for those, so the user's uses
/// of `ToolsWorkers` and the clients resolve while the errors are fixed. `None` when the set
/// cannot be generated at all: named like one of its services, its `ToolsRequest` and the rest
/// would clash with that service's own.
pub(crate) fn check_combine<'c, 'a>(
    cx: &Ctxt,
    combine: &'c Combine<'a>,
) -> Option<Vec<&'c CombinedService<'a>>> {
    let name = combine.name;
    let mut clashes = false;
    if combine.services.is_empty() {
        cx.error_spanned_by(
            pair(name, combine.colon),
            format!(
                "no services to combine; name them after `{name}:`, as in \
                 `ipc2::combine!(pub {name}: Calc, Store);`"
            ),
        );
    }
    let mut accepted: Vec<&CombinedService<'_>> = Vec::new();
    for service in &combine.services {
        let ident = service.ident;
        let generic = service
            .path
            .segments
            .iter()
            .find(|segment| !segment.arguments.is_none());
        if let Some(segment) = generic {
            cx.error_spanned_by(
                &segment.arguments,
                "name the service by its trait's path, without generic arguments",
            );
        } else if ident == name {
            let msg = format!(
                "the set `{name}` is named like its service `{ident}`; rename the set, whose \
                 `{name}Request` would clash with the service's"
            );
            cx.error_spanned_by(name, &msg);
            cx.error_spanned_by(service.path, &msg);
            clashes = true;
        } else if let Some(first) = accepted.iter().find(|first| first.ident == ident) {
            let (a, b) = (path_to_string(first.path), path_to_string(service.path));
            let msg = if a == b {
                format!("service `{a}` is named twice; name it once")
            } else {
                format!(
                    "services `{a}` and `{b}` would both be the variant `{name}Request::{ident}`; \
                     combined services need distinct names"
                )
            };
            cx.error_spanned_by(first.path, &msg);
            cx.error_spanned_by(service.path, &msg);
        } else {
            accepted.push(service);
        }
    }
    (!clashes).then_some(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::ServiceOptions;
    use syn::ItemTrait;

    fn errors_for(item: ItemTrait) -> Vec<String> {
        let cx = Ctxt::new();
        let service = Service::from_syn(
            &cx,
            &item,
            ServiceOptions::from_args(&cx, Default::default()),
        );
        check(&cx, &service);
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepted_forms_have_no_errors() {
        let errors = errors_for(syn::parse_quote! {
            pub trait Calc {
                async fn add(&self, a: u32, mut b: u32) -> u32;
                async fn div(&self, a: i64, b: i64) -> Result<i64, String>;
                async fn reset(&self);
                #[ipc2(oneway)]
                async fn log(&self, line: String);
                #[ipc2(oneway)]
                fn ping(&self) -> ();
                fn square(&self, x: u64) -> u64;
                async fn name(&self, x: std::borrow::Cow<'static, str>) -> Box<dyn std::error::Error + Send + 'static>;
            }
        });
        assert_eq!(errors, Vec::<String>::new());
    }

    #[test]
    fn independent_errors_are_all_reported() {
        let errors = errors_for(syn::parse_quote! {
            trait Calc<T> where T: Clone {
                type Out;
                async fn send(&self);
                async fn a<U>(self, x: &str) -> impl Sized;
                async fn b(&mut self, (x, y): (u8, u8));
                async fn c(x: u8);
                #[ipc2(oneway)]
                async fn d(&self) -> u8;
                unsafe extern "C" fn e(&self) {}
                fn get_x(&self);
                fn getX(&self);
            }
        });
        let expected = [
            "generic service traits are not supported",
            "where clauses on a service trait",
            "associated types are not supported",
            "method name `send` conflicts with `WorkerSet::send`",
            "generic methods are not supported",
            "`self` by value is not supported",
            "reference argument types are not supported",
            "`impl Trait` return types are not supported",
            "`&mut self` is not supported",
            "argument patterns are not supported",
            "service methods take `&self` first",
            "`#[ipc2(oneway)]` methods cannot return a value",
            "`#[ipc2(oneway)]` methods cannot return a value",
            "default method bodies are not supported",
            "`unsafe` service methods are not supported",
            "`extern` service methods are not supported",
            "methods `get_x` and `getX` both map to the variant `CalcRequest::GetX`",
            "methods `get_x` and `getX` both map to the variant `CalcRequest::GetX`",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, expected) in errors.iter().zip(expected) {
            assert!(
                error.starts_with(expected),
                "{error:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn borrowed_and_self_types_are_rejected_inside_generics() {
        let errors = errors_for(syn::parse_quote! {
            trait Calc {
                async fn a(&self, x: Vec<Cow<'a, str>>, y: Option<Self>) -> (u8, &'static [u8]);
            }
        });
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0].starts_with("borrowed argument types"));
        assert!(errors[1].starts_with("`Self` is not allowed in service argument types"));
        assert!(errors[2].starts_with("reference return types"));
    }
}
