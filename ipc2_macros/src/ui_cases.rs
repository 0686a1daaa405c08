//! Runs the macros over the workspace's trybuild cases in `ui-tests/`.
//!
//! Those cases compile against the real `ipc2` facade from the root package, which this crate
//! cannot depend on; this test catches, without the facade, a `fail` case that stopped failing
//! in the macro or a `pass` case that started to. Run with `--nocapture` to list every message.

use proc_macro2::TokenStream;
use syn::Item;

use crate::ast::CombineInput;
use crate::combine::combine;
use crate::expand::service;

/// `compile_error!` messages in an expansion.
fn errors_in(output: TokenStream) -> Vec<String> {
    let file: syn::File = syn::parse2(output).expect("expansion parses as items");
    file.items
        .iter()
        .filter_map(|item| match item {
            Item::Macro(m) if m.mac.path.segments.last()?.ident == "compile_error" => {
                Some(m.mac.parse_body::<syn::LitStr>().ok()?.value())
            }
            _ => None,
        })
        .collect()
}

/// Expands every `#[...service(...)]` item and `...combine!(...)` of a ui-test file, recursing
/// into inline modules.
fn expand_ui_file(items: &[Item], out: &mut Vec<String>) {
    for item in items {
        match item {
            Item::Mod(module) => {
                if let Some((_, items)) = &module.content {
                    expand_ui_file(items, out);
                }
                continue;
            }
            Item::Macro(m)
                if m.mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "combine") =>
            {
                match syn::parse2::<CombineInput>(m.mac.tokens.clone()) {
                    Ok(input) => out.extend(errors_in(combine(&input))),
                    Err(err) => out.push(err.to_string()),
                }
                continue;
            }
            _ => {}
        }
        let mut item = item.clone();
        let attrs = match &mut item {
            Item::Trait(t) => &mut t.attrs,
            Item::Struct(s) => &mut s.attrs,
            _ => continue,
        };
        let Some(pos) = attrs.iter().position(|attr| {
            attr.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "service")
        }) else {
            continue;
        };
        let attr = attrs.remove(pos);
        let args = match attr.meta {
            syn::Meta::List(list) => list.tokens,
            _ => TokenStream::new(),
        };
        out.extend(errors_in(service(args, &item)));
    }
}

/// Runs the macro on the workspace's trybuild cases (`ui-tests/`, compiled against the real
/// facade by the root package): every `pass` case expands without error, and every `fail`
/// case fails in the macro, except those whose error is rustc's (`not_serialize_*`, and a
/// handler emitting the wrong type).
#[test]
fn ui_cases_fail_in_the_macro_unless_rustc_reports_them() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui-tests");
    for kind in ["pass", "fail"] {
        let Ok(dir) = std::fs::read_dir(format!("{root}/{kind}")) else {
            return; // Packaged without the workspace: nothing to check.
        };
        let mut paths: Vec<_> = dir.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        {
            let source = std::fs::read_to_string(path).unwrap();
            let file = syn::parse_file(&source).unwrap();
            let mut errors = Vec::new();
            expand_ui_file(&file.items, &mut errors);
            let name = path.file_stem().unwrap().to_string_lossy();
            println!("{kind}/{name}: {errors:#?}");
            let rustc_reports =
                name.starts_with("not_serialize") || name == "event_wrong_type_emitted";
            if kind == "pass" || rustc_reports {
                assert!(
                    errors.is_empty(),
                    "{kind}/{name} should expand: {errors:#?}"
                );
            } else {
                assert!(!errors.is_empty(), "{kind}/{name} should fail in the macro");
            }
        }
    }
}
