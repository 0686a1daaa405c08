//! Workers that break the wire protocol on purpose (`tests/helpers/rogue_worker.rs`): each
//! misbehaves on its first request only, so its replacement behaves. The call it was running
//! fails with an error that says what happened (or, for a duplicate reply, gets the right answer),
//! the rogue is killed and replaced, and the set keeps serving.

use ipc2_test_support as support;

use std::sync::Arc;

use ipc2::host::WorkerInfo;
use ipc2::{Error, ExitCause, WorkerExit};
use support::codes::EXIT_ON_REQUEST;
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, TestSet, only_worker};

/// A one-worker set of rogue workers in `mode`; `scratch` holds the file that makes only the
/// first of them misbehave.
async fn rogue_set(mode: &str, scratch: &tempfile::TempDir, max_frame_len: usize) -> TestSet {
    TestSet::builder()
        .worker_count(1)
        .worker_path(support::helper("rogue_worker"))
        .env("ROGUE_MODE", mode)
        .env("ROGUE_ONCE", scratch.path().join("misbehaved"))
        .max_frame_len(max_frame_len)
        .finish()
        .await
        .expect("the rogue worker starts")
}

async fn send(workers: &TestSet, job: TestJob) -> Result<TestReply, Error> {
    tokio::time::timeout(HANG_GUARD, workers.send(job))
        .await
        .expect("the call ended instead of hanging")
}

/// The crash report of `result`, which must be a `WorkerExited` for `rogue`.
fn exit_of(result: Result<TestReply, Error>, rogue: &WorkerInfo) -> Arc<WorkerExit> {
    match result {
        Err(Error::WorkerExited(exit)) => {
            assert_eq!(exit.pid, rogue.pid, "{exit}");
            assert_eq!(exit.generation, rogue.generation, "{exit}");
            exit
        }
        other => panic!("expected WorkerExited for pid {}, got {other:?}", rogue.pid),
    }
}

/// The reason of a crash report whose cause must be a protocol violation.
fn violation(exit: &WorkerExit) -> &str {
    match &exit.cause {
        ExitCause::ProtocolViolation(why) => why,
        other => panic!("expected a protocol violation, got {other:?}: {exit}"),
    }
}

// RELIABILITY.md row 7
#[tokio::test]
async fn garbage_payload_fails_the_call_as_a_protocol_violation_and_the_replacement_serves() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("garbage", &scratch, ipc2_common::DEFAULT_MAX_FRAME_LEN).await;
    let rogue = only_worker(&workers);
    let exit = exit_of(send(&workers, TestJob::Add(2, 3)).await, &rogue);
    let why = violation(&exit);
    assert!(why.starts_with("bad envelope"), "{why}");
    assert!(exit.stderr_tail.contains("rogue worker: garbage"), "{exit}");
    support::replaced_and_serving(&workers, &rogue).await;
}

// RELIABILITY.md row 11
#[tokio::test]
async fn reply_to_an_unknown_request_id_fails_the_call_as_a_protocol_violation() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("unknown-id", &scratch, ipc2_common::DEFAULT_MAX_FRAME_LEN).await;
    let rogue = only_worker(&workers);
    let exit = exit_of(send(&workers, TestJob::Add(2, 3)).await, &rogue);
    // The rogue says on stderr which id it answered; the host must name that one.
    let bogus = exit
        .stderr_tail
        .split_once("replying to request ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no rogue announcement in the report: {exit}"));
    let why = violation(&exit);
    assert!(why.contains(&format!("request {bogus}")), "{why}");
    assert!(why.contains("not running"), "{why}");
    support::replaced_and_serving(&workers, &rogue).await;
}

// RELIABILITY.md row 11
#[tokio::test]
async fn second_reply_to_a_request_is_not_delivered_and_the_worker_is_replaced() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("duplicate", &scratch, ipc2_common::DEFAULT_MAX_FRAME_LEN).await;
    let rogue = only_worker(&workers);
    // The first reply is the right one, and the caller gets it.
    assert_eq!(
        send(&workers, TestJob::Add(2, 3)).await.unwrap(),
        TestReply::Sum {
            sum: 5,
            pid: rogue.pid
        }
    );
    // The second reply answers nothing in flight: the worker is killed, and no later caller
    // receives that stale `Sum { sum: 5, .. }` (each later call checks its own sum).
    support::replaced_and_serving(&workers, &rogue).await;
}

// RELIABILITY.md rows 1 and 27
#[tokio::test]
async fn reply_header_over_the_frame_limit_fails_the_call_as_a_protocol_violation() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("oversized", &scratch, 4096).await;
    let rogue = only_worker(&workers);
    let exit = exit_of(send(&workers, TestJob::Add(2, 3)).await, &rogue);
    let why = violation(&exit);
    assert!(why.starts_with("bad frame"), "{why}");
    assert!(why.contains("4097") && why.contains("4096"), "{why}");
    support::replaced_and_serving(&workers, &rogue).await;
}

// RELIABILITY.md rows 7 and 10
#[tokio::test]
async fn reply_of_the_wrong_type_fails_the_call_with_decode_and_the_worker_is_replaced() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("wrong-type", &scratch, ipc2_common::DEFAULT_MAX_FRAME_LEN).await;
    let rogue = only_worker(&workers);
    match send(&workers, TestJob::Add(2, 3)).await {
        Err(err @ Error::Decode { .. }) => {
            let Error::Decode {
                worker, expected, ..
            } = &err
            else {
                unreachable!()
            };
            assert_eq!(*worker, rogue.id);
            assert_eq!(*expected, std::any::type_name::<TestReply>());
            assert!(err.to_string().contains("TestReply"), "{err}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    support::replaced_and_serving(&workers, &rogue).await;
}

// RELIABILITY.md row 26
#[tokio::test]
async fn worker_exiting_while_the_host_writes_4_mib_fails_that_call_and_the_host_survives() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set(
        "exit-on-request",
        &scratch,
        ipc2_common::DEFAULT_MAX_FRAME_LEN,
    )
    .await;
    let rogue = only_worker(&workers);
    // Far more than a socket buffer holds: the host is still writing when the worker exits, so
    // its write fails with EPIPE or ECONNRESET (and SIGPIPE, were it not ignored, would kill
    // this test process).
    let payload = vec![0x5a; 4 << 20];
    let exit = exit_of(send(&workers, TestJob::Echo(payload)).await, &rogue);
    assert_eq!(exit.code(), Some(EXIT_ON_REQUEST), "{exit}");
    assert!(
        exit.stderr_tail.contains("rogue worker: exit-on-request"),
        "{exit}"
    );
    support::replaced_and_serving(&workers, &rogue).await;
}

// RELIABILITY.md row 26 (and DESIGN.md: a worker that "closes its socket" is replaced, its calls
// failing with `WorkerExited`). The worker sent nothing wrong: it stopped reading and closed its
// connection, so the host's read fails with ECONNRESET. That is a worker going away, not a
// protocol violation. (Regression: the reset used to be reported as a protocol violation, and
// with `exit-on-request` the cause flipped between the two from run to run.)
#[tokio::test]
async fn worker_closing_its_connection_mid_request_is_reported_as_died_not_as_a_violation() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set(
        "close-on-request",
        &scratch,
        ipc2_common::DEFAULT_MAX_FRAME_LEN,
    )
    .await;
    let rogue = only_worker(&workers);
    let payload = vec![0x5a; 4 << 20];
    let exit = exit_of(send(&workers, TestJob::Echo(payload)).await, &rogue);
    assert_eq!(exit.cause, ExitCause::Died, "{exit}");
    support::replaced_and_serving(&workers, &rogue).await;
}

// https://github.com/ipc2-rs/ipc2/issues/13: a malformed stream item is a protocol violation,
// as a malformed reply is.
#[tokio::test]
async fn a_stream_item_that_does_not_decode_ends_the_stream_and_replaces_the_worker() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("bad-item", &scratch, ipc2_common::DEFAULT_MAX_FRAME_LEN).await;
    let rogue = only_worker(&workers);
    let mut items = workers.send_stream(TestJob::Add(1, 2)).await.unwrap();
    let first = tokio::time::timeout(HANG_GUARD, items.next())
        .await
        .unwrap();
    assert!(
        matches!(first, Some(Err(Error::Decode { worker: 0, .. }))),
        "{first:?}"
    );
    assert!(items.next().await.is_none(), "nothing after the violation");
    support::replaced_and_serving(&workers, &rogue).await;
}

// The window is the host's memory bound: a worker that sends past it is cut off.
#[tokio::test]
async fn a_worker_that_streams_past_its_window_is_replaced() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = TestSet::builder()
        .worker_count(1)
        .worker_path(support::helper("rogue_worker"))
        .env("ROGUE_MODE", "flood-items")
        .env("ROGUE_ONCE", scratch.path().join("misbehaved"))
        .stream_window(8)
        .finish()
        .await
        .unwrap();
    let rogue = only_worker(&workers);
    let mut items = workers.send_stream(TestJob::Add(1, 2)).await.unwrap();
    let mut counts = Vec::new();
    let end = loop {
        match tokio::time::timeout(HANG_GUARD, items.next())
            .await
            .unwrap()
        {
            Some(Ok(TestReply::Count(n))) => counts.push(n),
            other => break other,
        }
    };
    assert!(
        counts.len() <= 8,
        "{} items read past a window of 8",
        counts.len()
    );
    assert_eq!(counts, (0..counts.len() as u64).collect::<Vec<_>>());
    match end {
        Some(Err(Error::WorkerExited(exit))) => {
            let why = violation(&exit);
            assert!(why.contains("past the window"), "{why}");
        }
        other => panic!("expected WorkerExited, got {other:?}"),
    }
    support::replaced_and_serving(&workers, &rogue).await;
}
