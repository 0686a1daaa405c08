#![allow(dead_code)] // The types exist to be described, never read.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use serde::Deserialize;

use super::*;

/// Every variant and field of every container was read.
fn assert_complete(description: &Description) {
    for container in &description.containers {
        let fields: Vec<&Fields> = match container {
            Container::Struct { fields, .. } => vec![fields],
            Container::Enum { variants, .. } => variants.iter().map(|v| &v.fields).collect(),
        };
        for fields in fields {
            assert!(
                !matches!(fields, Fields::Opaque(_)),
                "{container:?} is not fully described in {description:#?}"
            );
        }
    }
    for root in &description.roots {
        assert!(!matches!(root, Shape::Opaque(_)), "{description:#?}");
    }
}

fn job<J: DeserializeOwned>() -> Description {
    Description::of::<J, (), ()>()
}

fn difference<A: DeserializeOwned, B: DeserializeOwned>() -> String {
    let (host, worker) = (job::<A>(), job::<B>());
    assert_ne!(host.fingerprint(), worker.fingerprint());
    host.first_difference(&worker)
        .expect("the descriptions differ")
}

mod v1 {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(super) enum EvalRequest {
        #[serde(rename = "eval")]
        Eval { script: String },
        #[serde(rename = "area")]
        Area { shape: Outer },
    }

    #[derive(Deserialize)]
    pub(super) struct Outer {
        pub(super) inner: Inner,
    }

    #[derive(Deserialize)]
    pub(super) struct Inner {
        pub(super) x: u32,
    }

    #[derive(Deserialize)]
    pub(super) enum Shape {
        Circle(u32),
        Square(u32),
    }
}

mod added_argument {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(super) enum EvalRequest {
        #[serde(rename = "eval")]
        Eval { script: String, limit: u32 },
        #[serde(rename = "area")]
        Area { shape: super::v1::Outer },
    }
}

mod changed_argument {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(super) enum EvalRequest {
        #[serde(rename = "eval")]
        Eval { script: Vec<u8> },
        #[serde(rename = "area")]
        Area { shape: super::v1::Outer },
    }
}

mod deep_field {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(super) enum EvalRequest {
        #[serde(rename = "eval")]
        Eval { script: String },
        #[serde(rename = "area")]
        Area { shape: Outer },
    }

    #[derive(Deserialize)]
    pub(super) struct Outer {
        pub(super) inner: Inner,
    }

    #[derive(Deserialize)]
    pub(super) struct Inner {
        pub(super) x: i64,
    }
}

mod renamed_variant {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(super) enum Shape {
        Circle(u32),
        Box(u32),
    }
}

#[test]
fn identical_types_have_one_fingerprint_and_no_difference() {
    let (a, b) = (job::<v1::EvalRequest>(), job::<v1::EvalRequest>());
    assert_eq!(a, b);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.first_difference(&b), None);
    assert_complete(&a);
}

#[test]
fn a_changed_result_type_names_the_method_and_both_types() {
    #[derive(Deserialize)]
    enum EvalResponse {
        #[serde(rename = "eval")]
        Eval(i64),
    }
    mod v2 {
        #[derive(serde::Deserialize)]
        pub(super) enum EvalResponse {
            #[serde(rename = "eval")]
            Eval(String),
        }
    }
    let host = Description::of::<(), EvalResponse, ()>();
    let worker = Description::of::<(), v2::EvalResponse, ()>();
    assert_eq!(
        host.first_difference(&worker).as_deref(),
        Some("method eval: the host expects a result of type i64, the worker returns String")
    );
}

#[test]
fn an_added_argument_lists_both_argument_lists() {
    assert_eq!(
        difference::<v1::EvalRequest, added_argument::EvalRequest>(),
        "method eval: the host sends the arguments (script: String), the worker expects (script: String, limit: u32)"
    );
}

#[test]
fn a_changed_argument_type_names_the_argument() {
    assert_eq!(
        difference::<v1::EvalRequest, changed_argument::EvalRequest>(),
        "method eval, argument script: the host sends String, the worker expects Vec<u8>"
    );
}

#[test]
fn a_field_changed_two_structs_deep_is_found_with_its_path() {
    assert_eq!(
        difference::<v1::EvalRequest, deep_field::EvalRequest>(),
        "method area, argument shape, field inner of Outer, field x of Inner: the host sends u32, the worker expects i64"
    );
}

#[test]
fn a_renamed_variant_is_named_on_both_sides() {
    assert_eq!(
        difference::<v1::Shape, renamed_variant::Shape>(),
        "the job type, Shape: variant 1 is Square on the host and Box on the worker"
    );
}

#[test]
fn an_added_method_is_named() {
    mod more {
        #[derive(serde::Deserialize)]
        pub(super) enum EvalRequest {
            #[serde(rename = "eval")]
            Eval { script: String },
            #[serde(rename = "area")]
            Area { shape: super::v1::Outer },
            #[serde(rename = "reset")]
            Reset,
        }
    }
    assert_eq!(
        difference::<v1::EvalRequest, more::EvalRequest>(),
        "the host has no method reset"
    );
}

#[test]
fn combined_services_name_the_service_of_the_method() {
    #[derive(Deserialize)]
    enum ToolsRequest {
        #[serde(rename = "Eval")]
        Eval(v1::EvalRequest),
    }
    mod other {
        #[derive(serde::Deserialize)]
        pub(super) enum ToolsRequest {
            #[serde(rename = "Eval")]
            Eval(super::changed_argument::EvalRequest),
        }
    }
    assert_eq!(
        difference::<ToolsRequest, other::ToolsRequest>(),
        "method eval of Eval, argument script: the host sends String, the worker expects Vec<u8>"
    );
}

#[test]
fn results_of_different_types_are_different_types() {
    #[derive(Deserialize)]
    enum CalcResponse {
        Div(Result<i64, String>),
        Name(Result<String, u8>),
    }
    mod v2 {
        #[derive(serde::Deserialize)]
        pub(super) enum CalcResponse {
            Div(Result<i64, String>),
            Name(Result<String, u16>),
        }
    }
    let host = Description::of::<(), CalcResponse, ()>();
    assert_complete(&host);
    let worker = Description::of::<(), v2::CalcResponse, ()>();
    assert_eq!(
        host.first_difference(&worker).as_deref(),
        Some(
            "method Name: the host expects a result of type Result<String, u8>, the worker returns Result<String, u16>"
        )
    );
}

#[derive(Deserialize)]
enum List {
    Cons(u8, Box<List>),
    Nil,
}

#[derive(Deserialize)]
struct Tree {
    label: String,
    children: Vec<Tree>,
    parent: Option<Box<Tree>>,
    by_name: BTreeMap<String, Tree>,
}

#[derive(Deserialize)]
enum Expr {
    Call(Box<Call>),
    Lit(i64),
}

#[derive(Deserialize)]
struct Call {
    function: Box<Expr>,
    arguments: Vec<Expr>,
    kind: Kind,
}

#[derive(Deserialize)]
enum Kind {
    Plain,
    Method { receiver: Box<Expr> },
}

#[test]
fn recursive_types_are_described_in_full_and_end() {
    assert_complete(&job::<List>());
    assert_complete(&job::<Tree>());
    assert_complete(&job::<Expr>());
    assert_complete(&job::<Vec<Option<(Expr, Tree, List)>>>());
}

#[test]
fn a_difference_inside_a_recursive_type_is_found() {
    mod v2 {
        #[derive(serde::Deserialize)]
        pub(super) enum List {
            Cons(u16, Box<List>),
            Nil,
        }
    }
    assert_eq!(
        difference::<List, v2::List>(),
        "the job type, variant Cons of List, element 0: the host sends u8, the worker expects u16"
    );
}

#[test]
fn an_enum_met_only_deep_inside_is_read_in_full() {
    #[derive(Deserialize)]
    enum Top {
        A,
        B(Middle),
    }
    #[derive(Deserialize)]
    struct Middle {
        deep: Vec<Deep>,
    }
    #[derive(Deserialize)]
    enum Deep {
        P(u8),
        Q { s: String },
        R(Option<Deeper>),
    }
    #[derive(Deserialize)]
    enum Deeper {
        X,
        Y(f64),
    }
    assert_complete(&job::<Top>());
}

#[test]
fn values_a_type_validates_are_sampled_so_it_traces() {
    #[derive(Deserialize)]
    struct Limits {
        workers: NonZeroU32,
        timeout: std::time::Duration,
        path: std::path::PathBuf,
        bytes: serde_bytes::ByteBuf,
    }
    assert_complete(&job::<Limits>());
}

#[test]
fn what_cannot_be_traced_is_opaque_and_the_rest_is_still_compared() {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Number(u32),
        Text(String),
    }
    #[derive(Deserialize)]
    enum JobRequest {
        Loose(Loose),
        Plain(u32),
    }
    mod v2 {
        #[derive(serde::Deserialize)]
        pub(super) enum JobRequest {
            Loose(Loose),
            Plain(u64),
        }
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        pub(super) enum Loose {
            Number(u64),
        }
    }
    let host = job::<JobRequest>();
    let Some(Container::Enum { variants, .. }) = host.containers.first() else {
        panic!("{host:#?}")
    };
    assert!(
        matches!(&variants[0].fields, Fields::Opaque(why) if why.contains("deserialize_any")),
        "{host:#?}"
    );
    assert_eq!(
        difference::<JobRequest, v2::JobRequest>(),
        "method Plain: the host sends u32, the worker expects u64"
    );
}

#[test]
fn an_enum_without_variants_describes_as_such() {
    #[derive(Deserialize)]
    enum Never {}
    #[derive(Deserialize)]
    enum Other {}
    let never = Description::of::<(), (), Never>();
    assert_eq!(never, Description::of::<(), (), Never>());
    assert_eq!(
        never
            .first_difference(&Description::of::<(), (), Other>())
            .as_deref(),
        Some("the event type: the host expects Never, the worker emits Other")
    );
}

#[test]
fn a_malformed_worker_description_is_a_difference_not_a_panic() {
    let host = job::<List>();
    let mut worker = host.clone();
    worker.containers.clear();
    let difference = host.first_difference(&worker).expect("a difference");
    assert!(difference.contains("malformed"), "{difference}");
}

#[test]
fn types_that_nest_without_end_are_opaque_not_a_hang() {
    #[derive(Deserialize)]
    struct Endless {
        next: Box<Endless>,
    }
    #[derive(Deserialize)]
    enum Cycle {
        A(Box<Cycle>),
        B(Box<Cycle>, u8),
    }
    assert!(matches!(job::<Endless>().roots[0], Shape::Opaque(_)));
    let cycle = job::<Cycle>();
    assert_eq!(cycle, job::<Cycle>());
}

#[test]
fn a_variant_holding_a_type_without_values_is_compared() {
    mod v1 {
        #[derive(serde::Deserialize)]
        pub(super) enum ToolsEvent {
            Calc(crate::NoEvents),
            Store(u8),
        }
    }
    mod v2 {
        #[derive(serde::Deserialize)]
        pub(super) struct Progress {
            pub(super) step: u32,
        }
        #[derive(serde::Deserialize)]
        pub(super) enum ToolsEvent {
            Calc(Progress),
            Store(u8),
        }
    }
    let host = Description::of::<(), (), v1::ToolsEvent>();
    assert_complete(&host);
    let worker = Description::of::<(), (), v2::ToolsEvent>();
    assert_eq!(
        host.first_difference(&worker).as_deref(),
        Some(
            "the event type, variant Calc of ToolsEvent: the host expects NoEvents, the worker emits Progress"
        )
    );
}

#[test]
fn a_deserialize_that_panics_on_a_sample_is_opaque_not_a_crash() {
    struct Picky;
    impl<'de> Deserialize<'de> for Picky {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            panic!("no samples, please")
        }
    }
    let description = job::<Picky>();
    assert!(matches!(&description.roots[0], Shape::Opaque(why) if why.contains("panicked")));
}

#[test]
fn a_hostile_chain_of_types_is_walked_only_so_deep() {
    let host = job::<List>();
    let mut worker = host.clone();
    // 100,000 types, each holding the next, all named like the host's recursive one.
    let chain = 100_000;
    worker.containers = (0..chain)
        .map(|i| Container::Enum {
            name: "List".into(),
            variants: vec![
                Variant {
                    name: "Cons".into(),
                    fields: Fields::Tuple(vec![Shape::U8, Shape::Named((i + 1) % chain)]),
                },
                Variant {
                    name: "Nil".into(),
                    fields: Fields::Unit,
                },
            ],
        })
        .collect();
    let difference = host.first_difference(&worker).expect("too many types");
    assert!(difference.contains("more than the 10000"), "{difference}");
    worker.containers.truncate(9_000);
    if let Some(Container::Enum { variants, .. }) = worker.containers.last_mut() {
        variants[0].fields = Fields::Tuple(vec![Shape::U8, Shape::Named(0)]);
    }
    assert_eq!(
        host.first_difference(&worker),
        None,
        "no difference within the depth walked"
    );
}
