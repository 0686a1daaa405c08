//! The names a service method may not take: those of `WorkerSet`'s own public methods and of the
//! `Call` trait it implements.
//!
//! The generated client methods are called on `WorkerSet` itself, and inherent methods win
//! method resolution, so a service method named like one would be silently shadowed at every
//! call site. This crate cannot depend on `ipc2_host` (the facade depends on both), so the list
//! is kept by hand; the test at the bottom reads `ipc2_host`'s source and fails when the list and
//! the real methods drift apart.

/// `WorkerSet`'s public methods and `Call`'s methods.
pub(crate) const WORKER_SET_METHODS: &[&str] = &[
    "send",
    "try_send",
    "send_timeout",
    "notify",
    "broadcast",
    "shutdown",
    "with_timeout",
    "with_queue_timeout",
    "on",
    "on_all",
    "map",
    "map_unordered",
    "clone",
    "workers",
    "builder",
    "stats",
    "call",
    "call_oneway",
    "call_stream",
    "send_stream",
    "with_item_timeout",
    "events",
    "resize",
    "restart",
    "send_to",
    "send_with",
    "events_dropped",
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use syn::{ImplItem, Item, TraitItem, Type, Visibility};

    use super::WORKER_SET_METHODS;

    /// What the host's source declares.
    #[derive(Debug, Default)]
    struct Found {
        /// `pub fn`s of inherent `impl WorkerSet<..>` and `impl Calls<..>` blocks (the view the
        /// generated methods are called on too), methods of their impls of prelude traits
        /// (`Clone`: a method `clone` would be ambiguous), and `Call`'s methods.
        methods: BTreeSet<String>,
        /// Whether any `impl WorkerSet` block was seen at all.
        worker_set: bool,
        /// Whether `trait Call` was seen.
        call: bool,
    }

    /// Whether `ty` is `WorkerSet` or its `Calls` view, with any generics, by any path.
    fn is_worker_set(ty: &Type) -> bool {
        matches!(ty, Type::Path(path) if path.qself.is_none()
            && path.path.segments.last().is_some_and(|s| s.ident == "WorkerSet" || s.ident == "Calls"))
    }

    /// The prelude traits whose methods a generated client method would clash with.
    const PRELUDE_TRAITS: [&str; 1] = ["Clone"];

    /// Collects from `items`, recursing into inline modules.
    fn collect(items: &[Item], found: &mut Found) {
        for item in items {
            match item {
                Item::Impl(imp) if is_worker_set(&imp.self_ty) => {
                    found.worker_set = true;
                    let prelude = imp.trait_.as_ref().is_some_and(|(_, path, _)| {
                        path.segments
                            .last()
                            .is_some_and(|s| PRELUDE_TRAITS.iter().any(|t| s.ident == t))
                    });
                    let inherent = imp.trait_.is_none();
                    let public = imp.items.iter().filter_map(|item| match item {
                        ImplItem::Fn(f)
                            if prelude || (inherent && matches!(f.vis, Visibility::Public(_))) =>
                        {
                            Some(f.sig.ident.to_string())
                        }
                        _ => None,
                    });
                    found.methods.extend(public);
                }
                Item::Trait(tr) if tr.ident == "Call" => {
                    found.call = true;
                    let methods = tr.items.iter().filter_map(|item| match item {
                        TraitItem::Fn(f) => Some(f.sig.ident.to_string()),
                        _ => None,
                    });
                    found.methods.extend(methods);
                }
                Item::Mod(module) => {
                    if let Some((_, items)) = &module.content {
                        collect(items, found);
                    }
                }
                _ => {}
            }
        }
    }

    /// Every `.rs` file under `dir`, at any depth: the host's module layout is free to change.
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn worker_set_methods_match_the_host_source() {
        let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../ipc2_host/src"));
        if !src.is_dir() {
            return; // Packaged without the workspace: nothing to compare with.
        }
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let mut found = Found::default();
        for file in &files {
            let source = std::fs::read_to_string(file).unwrap();
            let parsed = syn::parse_file(&source)
                .unwrap_or_else(|err| panic!("{} does not parse: {err}", file.display()));
            collect(&parsed.items, &mut found);
        }
        assert!(
            found.worker_set && found.call,
            "found no `impl WorkerSet` or no `trait Call` under {}; update this test",
            src.display()
        );
        let listed: BTreeSet<String> = WORKER_SET_METHODS.iter().map(|s| s.to_string()).collect();
        let add: Vec<_> = found.methods.difference(&listed).collect();
        let remove: Vec<_> = listed.difference(&found.methods).collect();
        assert!(
            add.is_empty() && remove.is_empty(),
            "WORKER_SET_METHODS in ipc2_macros/src/reserved.rs is out of date with ipc2_host: \
             add {add:?}, remove {remove:?}"
        );
    }
}
