//! `#[ipc2::service]` end to end: typed calls on real worker processes.

use ipc2_test_support as support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ipc2::{Error, TimeoutAction};
use support::calc::{
    CalcClient, CalcRequest, CalcResponse, CalcWorkers, DivByZero, Point, Progress, Shape,
};
use support::{HANG_GUARD, helper};

async fn workers(count: usize) -> CalcWorkers {
    support::calc_builder(count)
        .finish()
        .await
        .expect("calc workers start")
}

#[tokio::test]
async fn every_method_form_answers_over_two_workers() {
    let workers = workers(2).await;
    assert_eq!(workers.add(6, 7).await.unwrap(), 13);
    assert_eq!(workers.div(7, 2).await.unwrap(), Ok(3));
    assert_eq!(workers.square(12).await.unwrap(), 144);
    workers.reset().await.unwrap();
    let at = Point { x: 1, y: -2 };
    assert_eq!(
        workers
            .describe(at.clone(), Shape::Circle { r: 3 })
            .await
            .unwrap(),
        "Circle { r: 3 } at (1, -2)"
    );
    assert_eq!(
        workers.describe(at, Shape::Square(4)).await.unwrap(),
        "Square(4) at (1, -2)"
    );
}

#[tokio::test]
async fn the_service_error_is_distinct_from_transport_errors() {
    let workers = workers(1).await;
    // Ok(Err(..)): the call worked, the service said no.
    assert_eq!(workers.div(1, 0).await.unwrap(), Err(DivByZero));
    // Err(..): the call itself failed.
    match workers.panic().await {
        Err(Error::Remote { reason }) => {
            assert!(reason.contains("the panic method was called"), "{reason}")
        }
        other => panic!("expected a remote failure, got {other:?}"),
    }
    assert_eq!(
        workers.add(1, 1).await.unwrap(),
        2,
        "the worker survived the panic"
    );
}

#[tokio::test]
async fn a_oneway_call_is_observed_by_a_later_request() {
    let workers = workers(1).await;
    workers.log("first".into()).await.unwrap();
    workers.log("second".into()).await.unwrap();
    assert_eq!(workers.lines().await.unwrap(), ["first", "second"]);
    workers.reset().await.unwrap();
    assert!(workers.lines().await.unwrap().is_empty());
}

#[tokio::test]
async fn one_mebibyte_of_bytes_round_trips() {
    let workers = workers(1).await;
    let bytes: Vec<u8> = (0..1 << 20).map(|i| (i * 31 % 256) as u8).collect();
    assert_eq!(workers.echo(bytes.clone()).await.unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_from_many_tasks_all_get_their_own_answer() {
    let workers = Arc::new(workers(2).await);
    let tasks: Vec<_> = (0..500u32)
        .map(|i| {
            let workers = workers.clone();
            tokio::spawn(async move { (i, workers.add(i, i).await, workers.pid().await) })
        })
        .collect();
    let mut pids = HashSet::new();
    for task in tasks {
        let (i, sum, pid) = tokio::time::timeout(HANG_GUARD, task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sum.unwrap(), 2 * i);
        pids.insert(pid.unwrap());
    }
    assert_eq!(pids.len(), 2, "both workers served calls");
}

#[tokio::test]
async fn the_raw_send_api_works_on_the_same_set() {
    let workers = workers(1).await;
    match workers
        .send(CalcRequest::Add { a: 2, b: 40 })
        .await
        .unwrap()
    {
        CalcResponse::Add(sum) => assert_eq!(sum, 42),
        other => panic!("unexpected reply {other:?}"),
    }
    assert_eq!(workers.add(2, 40).await.unwrap(), 42);
}

#[tokio::test]
async fn a_call_with_a_timeout_fails_with_timeout_and_restarts_the_worker() {
    let workers = workers(1).await;
    let before = workers.pid().await.unwrap();
    let fast = workers
        .with_timeout(HANG_GUARD, TimeoutAction::Restart)
        .add(1, 2)
        .await;
    assert_eq!(fast.unwrap(), 3);
    let slow = workers
        .with_timeout(Duration::from_millis(200), TimeoutAction::Restart)
        .sleep(60_000)
        .await;
    assert!(matches!(slow, Err(Error::Timeout { .. })), "{slow:?}");
    let after = workers.pid().await.unwrap();
    assert_ne!(before, after, "the timed-out worker was replaced");
}

#[tokio::test]
async fn a_method_timeout_from_the_trait_applies_and_restarts_the_worker() {
    let workers = workers(1).await;
    let before = workers.pid().await.unwrap();
    let late = workers.bounded_sleep(60_000).await;
    assert!(matches!(late, Err(Error::Timeout { .. })), "{late:?}");
    assert_ne!(
        workers.pid().await.unwrap(),
        before,
        "on_timeout = \"restart\""
    );
    assert_eq!(workers.bounded_sleep(1).await.unwrap(), 1);
}

#[tokio::test]
async fn only_an_idempotent_method_is_retried_after_a_crash() {
    let workers = workers(1).await;
    let scratch = tempfile::tempdir().unwrap();
    let marker = |name: &str| scratch.path().join(name).display().to_string();
    let once = workers.crash_once(marker("plain")).await;
    assert!(matches!(once, Err(Error::WorkerExited(_))), "{once:?}");
    assert_eq!(
        workers.crash_once_retried(marker("retried")).await.unwrap(),
        1
    );
}

// RELIABILITY.md row 10: version skew is caught at the handshake, not at the first call. The
// cases of https://github.com/ipc2-rs/ipc2/issues/12, one by one, are in `tests/versions.rs`.
#[tokio::test]
async fn a_worker_built_from_another_version_of_the_service_is_refused_at_start() {
    let result: Result<CalcWorkers, Error> = CalcWorkers::builder()
        .worker_count(1)
        .worker_path(helper("calc_v2_worker"))
        .finish()
        .await;
    match result {
        Err(err @ Error::Handshake { .. }) => {
            let message = err.to_string();
            assert!(
                message.contains("the worker has no method div"),
                "{message}"
            );
            assert!(message.contains("different versions"), "{message}");
        }
        other => panic!("expected a handshake refusal, got {other:?}"),
    }
}

// https://github.com/ipc2-rs/ipc2/issues/12: events were typed as the reply enum, and emitting
// needed a handle from a process-global.
#[tokio::test]
async fn a_handler_emits_typed_events_while_it_works() {
    let workers = workers(1).await;
    let mut events = workers.events().unwrap();
    let pid = support::only_worker(&workers).pid;
    assert_eq!(workers.progress(4).await.unwrap(), 4);
    for step in 0..4 {
        let event = tokio::time::timeout(HANG_GUARD, events.recv())
            .await
            .expect("the event arrives")
            .expect("the set is running")
            .expect("the event decodes");
        assert_eq!(event.event, Progress { step, of: 4 });
        assert_eq!(event.worker, 0, "worker {pid} has slot 0");
    }
}

#[tokio::test]
async fn emitting_another_type_or_outside_the_handler_is_an_error_the_handler_sees() {
    let workers = workers(1).await;
    let mut events = workers.events().unwrap();
    let errors = workers.misuse_emit().await.unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("of type alloc::string::String")
            && errors[0].contains("events are ipc2_test_support::calc::Progress"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("outside a service handler"),
        "{errors:?}"
    );
    // Nothing was sent: the next event is the next call's.
    workers.progress(1).await.unwrap();
    let event = tokio::time::timeout(HANG_GUARD, events.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.event, Progress { step: 0, of: 1 });
}

// The public way to set a worker's concurrency cannot make a worker that takes no job: with a
// public field, `concurrency: 0` once made every call hang while heartbeats kept the worker alive.
#[tokio::test]
async fn a_worker_served_with_concurrency_zero_still_answers() {
    let workers = support::calc_builder(1)
        .env("CALC_WORKER_CONCURRENCY", "0")
        .finish()
        .await
        .unwrap();
    let sum = tokio::time::timeout(HANG_GUARD, workers.add(6, 7)).await;
    assert_eq!(sum.expect("the call is answered").unwrap(), 13);
}
