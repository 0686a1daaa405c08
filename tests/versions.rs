//! Version skew between a host and its workers is refused at start, with the first difference in
//! words (https://github.com/ipc2-rs/ipc2/issues/12). Each case runs the real `skew_worker`
//! helper serving a version of `Eval` that differs from the host's in one place.

use ipc2_test_support as support;

use ipc2::Error;
use support::versions::base::{EvalClient, EvalWorkers, Inner, Kind, Outer};

async fn start(skew: &str) -> Result<EvalWorkers, Error> {
    EvalWorkers::builder()
        .worker_count(1)
        .worker_path(support::helper("skew_worker"))
        .env("SKEW", skew)
        .finish()
        .await
}

/// Starts a worker of version `skew` and returns why the host refused it.
async fn refusal(skew: &str) -> String {
    match start(skew).await {
        Err(err @ Error::Handshake { worker: 0, .. }) => err.to_string(),
        Err(other) => panic!("{skew}: expected a handshake refusal, got {other:?}"),
        Ok(_) => panic!("{skew}: the host accepted a worker of another version"),
    }
}

fn assert_names(message: &str, difference: &str) {
    assert!(
        message.contains(difference),
        "expected {difference:?} in: {message}"
    );
    assert!(message.contains("rebuild both"), "{message}");
}

#[tokio::test]
async fn identical_types_are_accepted_and_answer() {
    let workers = start("base").await.expect("the same version is accepted");
    assert_eq!(workers.eval("1 + 2".into()).await.unwrap(), 5);
    let shape = Outer {
        inner: Inner { x: 3 },
    };
    assert_eq!(workers.area(shape).await.unwrap(), 9);
    assert_eq!(workers.classify(12).await.unwrap(), Kind::Large);
}

#[tokio::test]
async fn a_changed_result_type_is_refused_at_start() {
    assert_names(
        &refusal("result_changed").await,
        "method eval: the host expects a result of type i64, the worker returns String",
    );
}

#[tokio::test]
async fn an_added_argument_is_refused_at_start() {
    assert_names(
        &refusal("argument_added").await,
        "method eval: the host sends the arguments (script: String), the worker expects (script: String, limit: u32)",
    );
}

#[tokio::test]
async fn a_changed_argument_type_is_refused_at_start() {
    assert_names(
        &refusal("argument_changed").await,
        "method eval, argument script: the host sends String, the worker expects Vec<String>",
    );
}

#[tokio::test]
async fn a_field_type_changed_two_structs_deep_is_refused_at_start() {
    assert_names(
        &refusal("deep_field").await,
        "method area, argument shape, field inner of Outer, field x of Inner: the host sends u32, the worker expects i64",
    );
}

#[tokio::test]
async fn a_renamed_enum_variant_is_refused_at_start() {
    assert_names(
        &refusal("variant_renamed").await,
        "method classify, Kind: variant 1 is Large on the host and Big on the worker",
    );
}
