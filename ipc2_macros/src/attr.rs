//! The macros' own options: `#[ipc2::service(crate = "...")]` on the trait, `#[ipc2(oneway)]`
//! and the call policy on its methods, and `#[ipc2(crate = "...")]` in `ipc2::combine!`.
//!
//! Option names live here as [`Symbol`] constants (as in serde's `internals/symbol.rs`) so a typo
//! in one comparison cannot silently disable an option. Unknown and repeated options are errors,
//! never ignored: a misspelt `#[ipc2(one_way)]` would otherwise turn a fire-and-forget method into
//! one that waits for a reply.

use std::fmt::{self, Display};

use proc_macro2::{TokenStream, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Attribute, Expr, Ident, LitStr, Path, PathArguments, Token};

use crate::ctxt::Ctxt;

/// An attribute or option keyword the macro recognises.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Symbol(&'static str);

/// The helper attribute on methods: `#[ipc2(...)]`.
pub(crate) const IPC2: Symbol = Symbol("ipc2");
/// The option naming a service's event type: `#[ipc2::service(event = Progress)]`.
pub(crate) const EVENT: Symbol = Symbol("event");
/// The option naming the facade crate: `#[ipc2::service(crate = "...")]`, and
/// `ipc2::combine!(#[ipc2(crate = "...")] ...)`.
pub(crate) const CRATE: Symbol = Symbol("crate");
/// The method option for fire-and-forget calls: `#[ipc2(oneway)]`.
pub(crate) const ONEWAY: Symbol = Symbol("oneway");
/// The method option for a per-call time limit on running: `#[ipc2(timeout = "5s")]`.
pub(crate) const TIMEOUT: Symbol = Symbol("timeout");
/// What a timed-out call does to its worker: `#[ipc2(on_timeout = "restart")]`.
pub(crate) const ON_TIMEOUT: Symbol = Symbol("on_timeout");
/// The method option allowing retries after a crash: `#[ipc2(idempotent)]`.
pub(crate) const IDEMPOTENT: Symbol = Symbol("idempotent");
/// How many retries an idempotent method gets: `#[ipc2(idempotent, retries = 3)]`.
pub(crate) const RETRIES: Symbol = Symbol("retries");
/// The method option bounding the gap between two items of a stream: `item_timeout = "1s"`.
pub(crate) const ITEM_TIMEOUT: Symbol = Symbol("item_timeout");

/// Every method option, for error messages.
const METHOD_OPTIONS: &str = "`oneway`, `timeout = \"5s\"`, `on_timeout = \"restart\"`, \
     `item_timeout = \"1s\"`, `idempotent` and `retries = N`";
/// The attribute forwarded to every item generated for a method.
pub(crate) const CFG: Symbol = Symbol("cfg");
/// The attribute forwarded from a method to its client method.
pub(crate) const DEPRECATED: Symbol = Symbol("deprecated");
/// Doc comments, copied onto generated items.
pub(crate) const DOC: Symbol = Symbol("doc");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Whether `attr` is one of ours (`#[ipc2(...)]`), to be consumed rather than re-emitted.
pub(crate) fn is_ipc2(attr: &Attribute) -> bool {
    *attr.path() == IPC2
}

/// The facade crate path used by generated code when no `crate = "..."` option is given.
fn default_crate_path() -> Path {
    syn::parse_quote!(::ipc2)
}

/// One option's value and the path it was given with, built up while parsing; a second
/// occurrence is reported here, once for every option (serde's `internals/attr.rs` `Attr`).
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    value: Option<(Path, T)>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr {
            cx,
            name,
            value: None,
        }
    }

    /// Keeps `value`, given as `path`, unless the option was already given.
    fn set(&mut self, path: &Path, value: T) {
        if self.value.is_some() {
            let msg = format!("duplicate option `{}`; give it once", self.name);
            self.cx.error_spanned_by(path, msg);
        } else {
            self.value = Some((path.clone(), value));
        }
    }

    /// [`Attr::set`] for a value that parsed; `None` is an error already reported.
    fn set_opt(&mut self, path: &Path, value: Option<T>) {
        if let Some(value) = value {
            self.set(path, value);
        }
    }

    fn get(self) -> Option<(Path, T)> {
        self.value
    }
}

impl Attr<'_, ()> {
    /// The path of a flag option such as `oneway`, when it was given.
    fn get_flag(self) -> Option<Path> {
        self.value.map(|(path, ())| path)
    }
}

/// Options of `#[ipc2::service(...)]`.
#[derive(Debug)]
pub(crate) struct ServiceOptions {
    /// Path to the facade crate, `::ipc2` unless overridden by `crate = "..."`.
    pub(crate) krate: Path,
    /// The type of the events the service's handlers emit, from `event = T`, with its option's
    /// path for spans.
    pub(crate) event: Option<(Path, syn::Type)>,
}

impl ServiceOptions {
    /// Parses the attribute's arguments, recording every unknown, repeated or malformed option.
    pub(crate) fn from_args(cx: &Ctxt, args: TokenStream) -> Self {
        let mut krate = Attr::none(cx, CRATE);
        let mut event = Attr::none(cx, EVENT);
        let parser = syn::meta::parser(|meta| {
            if meta.path == EVENT {
                event.set_opt(&meta.path, event_type(cx, &meta)?);
                Ok(())
            } else {
                crate_option(cx, &mut krate, &meta, SERVICE_OPTIONS)
            }
        });
        if let Err(err) = parser.parse2(args) {
            cx.syn_error(err);
        }
        ServiceOptions {
            krate: krate
                .get()
                .map_or_else(default_crate_path, |(_, path)| path),
            event: event.get(),
        }
    }
}

/// How the service's options are listed in an error about another one.
const SERVICE_OPTIONS: &str = "service options are `event = Type` and `crate = \"...\"`";

/// `event = Progress`: a type, written as one (not as a string).
fn event_type(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<syn::Type>> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        cx.error_spanned_by(
            &lit,
            format!(
                "`{EVENT}` takes a type, not a string; write `{EVENT} = {}`",
                lit.value()
            ),
        );
        return Ok(None);
    }
    // A value that is not a type leaves tokens the list cannot skip, so this ends the parse.
    value.parse::<syn::Type>().map(Some).map_err(|err| {
        syn::Error::new(
            err.span(),
            format!("`{EVENT}` takes the event type, as in `{EVENT} = Progress`"),
        )
    })
}

/// Options of `ipc2::combine!`, given before the set's name:
/// `ipc2::combine!(#[ipc2(crate = "...")] pub Tools: Calc, Store);`.
#[derive(Debug)]
pub(crate) struct CombineOptions {
    /// Path to the facade crate, `::ipc2` unless overridden by `crate = "..."`.
    pub(crate) krate: Path,
}

impl CombineOptions {
    /// Parses the `#[ipc2(...)]` attributes, recording every other attribute and every unknown,
    /// repeated or malformed option.
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut krate = Attr::none(cx, CRATE);
        for attr in attrs {
            if !is_ipc2(attr) {
                cx.error_spanned_by(
                    attr,
                    format!(
                        "unknown attribute `#[{}]`; `combine!` takes only \
                         `#[{IPC2}({CRATE} = \"...\")]`",
                        path_to_string(attr.path()),
                    ),
                );
                continue;
            }
            let result = attr.parse_nested_meta(|meta| {
                crate_option(
                    cx,
                    &mut krate,
                    &meta,
                    "the only `combine!` option is `crate = \"...\"`",
                )
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
        CombineOptions {
            krate: krate
                .get()
                .map_or_else(default_crate_path, |(_, path)| path),
        }
    }
}

/// Reads `crate = "..."`, the one option `combine!`'s `#[ipc2(...)]` takes and one of the
/// service's; `options` lists the options in the error for any other.
fn crate_option<'c>(
    cx: &'c Ctxt,
    krate: &mut Attr<'c, Path>,
    meta: &ParseNestedMeta<'_>,
    options: &str,
) -> syn::Result<()> {
    if meta.path == CRATE {
        krate.set_opt(&meta.path, crate_path(cx, meta)?);
    } else {
        cx.error_spanned_by(
            &meta.path,
            format!("unknown option `{}`; {options}", path_to_string(&meta.path),),
        );
        skip_value(meta)?;
    }
    Ok(())
}

/// Parses the string of `crate = "..."` as a plain path such as `::ipc2` or `renamed`; `None`
/// once the error is recorded.
fn crate_path(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Path>> {
    let lit: LitStr = meta.value()?.parse()?;
    let path: Path = match lit.parse() {
        Ok(path) => path,
        Err(err) => {
            cx.syn_error(err);
            return Ok(None);
        }
    };
    if let Some(segment) = path
        .segments
        .iter()
        .find(|segment| !matches!(segment.arguments, PathArguments::None))
    {
        cx.error_spanned_by(
            segment,
            "`crate` takes a plain path such as \"::ipc2\", without generic arguments",
        );
        return Ok(None);
    }
    Ok(Some(path))
}

/// Options of the `#[ipc2(...)]` attributes of one method. Each keeps the option's path for
/// its span.
#[derive(Debug, Default)]
pub(crate) struct MethodOptions {
    /// `oneway`.
    pub(crate) oneway: Option<Path>,
    /// `timeout = "..."`, in milliseconds.
    pub(crate) timeout: Option<(Path, u64)>,
    /// `on_timeout = "restart"` (true) or `"error"` (false).
    pub(crate) on_timeout: Option<(Path, bool)>,
    /// `idempotent`.
    pub(crate) idempotent: Option<Path>,
    /// `retries = N`.
    pub(crate) retries: Option<(Path, u32)>,
    /// `item_timeout = "..."`, in milliseconds.
    pub(crate) item_timeout: Option<(Path, u64)>,
}

impl MethodOptions {
    /// Parses every `#[ipc2(...)]` attribute in `attrs`, recording unknown or repeated options.
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut oneway = Attr::none(cx, ONEWAY);
        let mut timeout = Attr::none(cx, TIMEOUT);
        let mut on_timeout = Attr::none(cx, ON_TIMEOUT);
        let mut idempotent = Attr::none(cx, IDEMPOTENT);
        let mut retries = Attr::none(cx, RETRIES);
        let mut item_timeout = Attr::none(cx, ITEM_TIMEOUT);
        for attr in attrs.iter().filter(|attr| is_ipc2(attr)) {
            let result = attr.parse_nested_meta(|meta| {
                let path = &meta.path;
                if *path == ONEWAY {
                    oneway.set_opt(path, flag(cx, &meta)?);
                } else if *path == IDEMPOTENT {
                    idempotent.set_opt(path, flag(cx, &meta)?);
                } else if *path == TIMEOUT {
                    timeout.set_opt(path, duration(cx, &meta, TIMEOUT)?);
                } else if *path == ITEM_TIMEOUT {
                    item_timeout.set_opt(path, duration(cx, &meta, ITEM_TIMEOUT)?);
                } else if *path == ON_TIMEOUT {
                    on_timeout.set_opt(path, timeout_action(cx, &meta)?);
                } else if *path == RETRIES {
                    retries.set_opt(path, retry_count(cx, &meta)?);
                } else {
                    cx.error_spanned_by(
                        path,
                        format!(
                            "unknown option `{}`; method options are {METHOD_OPTIONS}",
                            path_to_string(path),
                        ),
                    );
                    skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
        MethodOptions {
            oneway: oneway.get_flag(),
            timeout: timeout.get(),
            on_timeout: on_timeout.get(),
            idempotent: idempotent.get_flag(),
            retries: retries.get(),
            item_timeout: item_timeout.get(),
        }
    }
}

// Each option's value parser returns `Ok(None)` for a value it has reported as wrong, so the
// caller goes on to the next option, and `Err` only when the syntax is too broken to go on.

/// A flag option (`oneway`, `idempotent`): no value.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<()>> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        let word = path_to_string(&meta.path);
        cx.error_spanned_by(
            &meta.path,
            format!("`{word}` takes no value; write `#[{IPC2}({word})]`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    Ok(Some(()))
}

/// `timeout = "5s"` (or the option `name`'s), in milliseconds.
fn duration(cx: &Ctxt, meta: &ParseNestedMeta<'_>, name: Symbol) -> syn::Result<Option<u64>> {
    let lit: LitStr = meta.value()?.parse()?;
    let ms = parse_duration_ms(&lit.value());
    if ms.is_none() {
        cx.error_spanned_by(
            &lit,
            format!("`{name}` takes a duration such as \"250ms\", \"5s\" or \"2m\""),
        );
    }
    Ok(ms)
}

/// `on_timeout = "restart"` (true) or `"error"` (false).
fn timeout_action(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<bool>> {
    let lit: LitStr = meta.value()?.parse()?;
    let restart = match lit.value().as_str() {
        "restart" => Some(true),
        "error" => Some(false),
        _ => None,
    };
    if restart.is_none() {
        cx.error_spanned_by(
            &lit,
            format!(
                "`{ON_TIMEOUT}` is \"restart\" (kill the worker and start a fresh one) \
                 or \"error\" (only fail the call)"
            ),
        );
    }
    Ok(restart)
}

/// `retries = N`.
fn retry_count(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<u32>> {
    let lit: syn::LitInt = meta.value()?.parse()?;
    let count = lit.base10_parse::<u32>().ok();
    if count.is_none() {
        cx.error_spanned_by(
            &lit,
            format!("`{RETRIES}` takes a whole number of retries, such as `{RETRIES} = 2`"),
        );
    }
    Ok(count)
}

/// Parses `"250ms"`, `"5s"` or `"2m"` into milliseconds; `None` for anything else, or zero.
fn parse_duration_ms(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        _ => return None,
    };
    number.checked_mul(scale).filter(|&ms| ms > 0)
}

/// Consumes the value of an option we reject, so parsing can go on to report the next one.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// Renders a path the way it is written in source: `::ipc2`, `renamed::inner`.
pub(crate) fn path_to_string(path: &Path) -> String {
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    for (i, segment) in path.segments.iter().enumerate() {
        if i > 0 {
            out.push_str("::");
        }
        out.push_str(&segment.ident.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn errors(cx: Ctxt) -> Vec<String> {
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn service_options_default_to_ipc2() {
        let cx = Ctxt::new();
        let options = ServiceOptions::from_args(&cx, TokenStream::new());
        assert!(errors(cx).is_empty());
        assert_eq!(path_to_string(&options.krate), "::ipc2");
    }

    #[test]
    fn service_options_read_crate_override() {
        let cx = Ctxt::new();
        let options = ServiceOptions::from_args(&cx, quote!(crate = "renamed::inner"));
        assert!(errors(cx).is_empty());
        assert_eq!(path_to_string(&options.krate), "renamed::inner");
    }

    #[test]
    fn service_options_report_every_unknown_and_duplicate_option() {
        let cx = Ctxt::new();
        ServiceOptions::from_args(
            &cx,
            quote!(foo = 1, crate = "a", bar(x, y), crate = "b", baz),
        );
        assert_eq!(
            errors(cx),
            [
                "unknown option `foo`; service options are `event = Type` and `crate = \"...\"`",
                "unknown option `bar`; service options are `event = Type` and `crate = \"...\"`",
                "duplicate option `crate`; give it once",
                "unknown option `baz`; service options are `event = Type` and `crate = \"...\"`",
            ]
        );
    }

    #[test]
    fn service_options_reject_generic_crate_path() {
        let cx = Ctxt::new();
        ServiceOptions::from_args(&cx, quote!(crate = "ipc2::<u8>"));
        assert_eq!(errors(cx).len(), 1);
    }

    #[test]
    fn method_options_read_oneway_and_reject_the_rest() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[ipc2(oneway, one_way)]),
            syn::parse_quote!(#[doc = "not ours"]),
            syn::parse_quote!(#[ipc2(oneway)]),
        ];
        let cx = Ctxt::new();
        let options = MethodOptions::from_attrs(&cx, &attrs);
        assert!(options.oneway.is_some());
        assert_eq!(
            errors(cx),
            [
                format!("unknown option `one_way`; method options are {METHOD_OPTIONS}"),
                "duplicate option `oneway`; give it once".to_owned(),
            ]
        );
    }

    #[test]
    fn method_options_read_the_call_policy() {
        let attrs: Vec<Attribute> = vec![syn::parse_quote!(
            #[ipc2(timeout = "1500ms", on_timeout = "restart", idempotent, retries = 3)]
        )];
        let cx = Ctxt::new();
        let options = MethodOptions::from_attrs(&cx, &attrs);
        assert!(errors(cx).is_empty());
        assert_eq!(options.timeout.map(|t| t.1), Some(1500));
        assert_eq!(options.on_timeout.map(|t| t.1), Some(true));
        assert!(options.idempotent.is_some());
        assert_eq!(options.retries.map(|r| r.1), Some(3));
    }

    #[test]
    fn method_options_given_twice_report_each_repeat_and_keep_the_first() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[ipc2(timeout = "1s", on_timeout = "error", idempotent, retries = 1)]),
            syn::parse_quote!(#[ipc2(timeout = "2s", on_timeout = "restart", idempotent, retries = 2)]),
        ];
        let cx = Ctxt::new();
        let options = MethodOptions::from_attrs(&cx, &attrs);
        assert_eq!(
            errors(cx),
            [
                "duplicate option `timeout`; give it once",
                "duplicate option `on_timeout`; give it once",
                "duplicate option `idempotent`; give it once",
                "duplicate option `retries`; give it once",
            ]
        );
        assert_eq!(options.timeout.map(|t| t.1), Some(1000));
        assert_eq!(options.on_timeout.map(|t| t.1), Some(false));
        assert_eq!(options.retries.map(|r| r.1), Some(1));
    }

    #[test]
    fn a_repeat_with_a_bad_value_reports_the_value_not_the_repeat() {
        let attrs: Vec<Attribute> =
            vec![syn::parse_quote!(#[ipc2(oneway, oneway = 1, timeout = "1s", timeout = "x")])];
        let cx = Ctxt::new();
        MethodOptions::from_attrs(&cx, &attrs);
        assert_eq!(
            errors(cx),
            [
                "`oneway` takes no value; write `#[ipc2(oneway)]`",
                "`timeout` takes a duration such as \"250ms\", \"5s\" or \"2m\"",
            ]
        );
    }

    #[test]
    fn durations_take_ms_s_or_m_and_nothing_else() {
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("5s"), Some(5000));
        assert_eq!(parse_duration_ms("2m"), Some(120_000));
        for bad in ["", "5", "s", "1.5s", "5 s", "0s", "5h", "-1s"] {
            assert_eq!(parse_duration_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn path_to_string_keeps_leading_colons() {
        let path: Path = syn::parse_quote!(::a::b);
        assert_eq!(path_to_string(&path), "::a::b");
    }
}
