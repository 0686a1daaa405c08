//! What crosses a process boundary decodes if it is honest and costs the decoder little if it is
//! not: every message that fits the frame limit decodes whatever its shape (issue 16 item 1), and
//! a hostile peer's deeply nested or length-forging message is a clear error on whichever side
//! reads it, in whatever thread, and the host carries on (item 2).

use ipc2_test_support as support;

use ipc2::{Error, WorkerSet};
use support::HANG_GUARD;
use support::hostile::{self, RawJob};
use support::jobs::{NUMBER_KINDS, Numbers, TestJob, TestReply};
use tokio::net::UnixListener;

/// The decoder's depth limit, as the error messages name it.
const DEPTH_LIMIT: &str = "more than 256 levels deep";

async fn echo(workers: &support::TestSet, numbers: Numbers) {
    let reply = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Numbers(numbers.clone())))
        .await
        .expect("the call ended instead of hanging");
    match reply {
        Ok(TestReply::Numbers(back)) => assert!(back == numbers, "the numbers came back changed"),
        other => panic!("{} elements: {other:?}", len(&numbers)),
    }
}

fn len(numbers: &Numbers) -> usize {
    match numbers {
        Numbers::U8(v) => v.len(),
        Numbers::U16(v) => v.len(),
        Numbers::U32(v) => v.len(),
        Numbers::U64(v) => v.len(),
        Numbers::U128(v) => v.len(),
        Numbers::Tags(v) => v.len(),
        Numbers::Points(v) => v.len(),
        Numbers::Rows(v) => v.len(),
    }
}

// The old decoder picked a memory limit of 64 KiB or 64 MiB from the message's encoded length,
// while bincode counts every integer at its in-memory width: a message of one-byte integers whose
// in-memory size crossed the tier was refused (the job on the worker, the reply on the host, which
// replaced the worker). Sizes on both sides of those boundaries, for every width.
#[tokio::test]
async fn every_message_that_fits_the_frame_decodes_on_both_sides_whatever_its_element_width() {
    let workers = support::set(1).await;
    let worker = support::only_worker(&workers);
    for kind in NUMBER_KINDS {
        let tier = 64 * 1024 / Numbers::width(kind);
        for n in [
            0,
            1,
            tier - 1,
            tier + 1,
            tier + 8,
            8_200,
            9_000,
            20_000,
            30_000,
            65_000,
        ] {
            echo(&workers, Numbers::filled(kind, n)).await;
        }
    }
    // And past the 64 MiB tier: 8.4 million u64s are 8.4 MB on the wire and 67 MB in memory.
    echo(&workers, Numbers::filled("u64", 8_400_000)).await;
    assert_eq!(
        support::only_worker(&workers).pid,
        worker.pid,
        "no worker was replaced"
    );
}

/// A `Numbers::U64` job whose frame is exactly `max` bytes, found by measuring.
fn job_of_exactly(max: usize) -> Numbers {
    let frame_len = |n: usize| {
        let job = TestJob::Numbers(Numbers::filled("u64", n));
        // The header of the set's first request: its tag and request id, one byte each.
        ipc2_common::codec::encode_frame(
            &ipc2_common::ToWorker::Request { id: 1 },
            Some(&job),
            usize::MAX,
        )
        .expect("encodes")
        .len()
            - ipc2_common::HEADER_LEN
    };
    let n = (0..max)
        .rev()
        .find(|&n| frame_len(n) <= max)
        .expect("some job fits");
    assert_eq!(frame_len(n), max, "no u64 job fills the frame exactly");
    Numbers::filled("u64", n)
}

#[tokio::test]
async fn a_job_and_a_reply_of_exactly_a_small_frame_limit_decode() {
    let workers = support::builder(1)
        .max_frame_len(65_536)
        .finish()
        .await
        .expect("the worker starts");
    let worker = support::only_worker(&workers);
    // The reply has the same shape as the job, so it is exactly 65,536 bytes too.
    echo(&workers, job_of_exactly(65_536)).await;
    for n in [65_000, 65_520] {
        echo(&workers, Numbers::filled("u8", n)).await;
    }
    assert_eq!(support::only_worker(&workers).pid, worker.pid);
}

/// A one-worker set of rogue workers in `mode`, with `ROGUE_DEPTH` set to `size`.
async fn rogue_set(mode: &str, size: usize, scratch: &tempfile::TempDir) -> support::TestSet {
    support::TestSet::builder()
        .worker_count(1)
        .worker_path(support::helper("rogue_worker"))
        .env("ROGUE_MODE", mode)
        .env("ROGUE_ONCE", scratch.path().join("misbehaved"))
        .env("ROGUE_DEPTH", size.to_string())
        .finish()
        .await
        .expect("the rogue worker starts")
}

/// The call fails with `Decode` whose cause names `expected`, the `rogue` is replaced, and its
/// replacement serves. (The rogue is looked up before the call: once the call has failed, its slot
/// may already be between workers.)
async fn refused_and_replaced(
    workers: &support::TestSet,
    rogue: &ipc2::host::WorkerInfo,
    result: Result<TestReply, Error>,
    expected: &str,
) {
    match result {
        Err(Error::Decode { source, .. }) => {
            assert!(source.to_string().contains(expected), "{source}")
        }
        other => panic!("expected a Decode error, got {other:?}"),
    }
    let replacement = support::replacement(workers, rogue).await;
    assert_eq!(support::add(workers, 2, 3).await, (5, replacement.pid));
}

// 20,000 levels aborted a release-build host when the caller ran in a spawned task (2 MiB stack).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_nested_20_000_deep_is_a_decode_error_in_a_spawned_task() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = std::sync::Arc::new(rogue_set("deep-reply", 20_000, &scratch).await);
    let rogue = support::only_worker(&workers);
    let caller = workers.clone();
    let result = tokio::spawn(async move {
        tokio::time::timeout(HANG_GUARD, caller.send(TestJob::Add(1, 1))).await
    })
    .await
    .expect("the spawned caller did not panic")
    .expect("the call ended instead of hanging");
    refused_and_replaced(&workers, &rogue, result, DEPTH_LIMIT).await;
}

// 100,000 levels aborted it from the calling thread itself.
#[tokio::test]
async fn a_reply_nested_100_000_deep_is_a_decode_error_on_the_calling_thread() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("deep-reply", 100_000, &scratch).await;
    let rogue = support::only_worker(&workers);
    let result = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(1, 1)))
        .await
        .expect("the call ended instead of hanging");
    refused_and_replaced(&workers, &rogue, result, DEPTH_LIMIT).await;
}

// A 15 KB frame of nested sequences each claiming u32::MAX elements once reserved 3 GB. What the
// decode may reserve is measured in `tests/allocations.rs`; here the host survives it.
#[tokio::test]
async fn a_reply_of_sequences_each_claiming_4_billion_elements_is_a_decode_error() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("claiming-reply", 15_000, &scratch).await;
    let rogue = support::only_worker(&workers);
    let result = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(1, 1)))
        .await
        .expect("the call ended instead of hanging");
    refused_and_replaced(&workers, &rogue, result, DEPTH_LIMIT).await;
}

// An event nested 100,000 deep aborted the host inside `Events::recv`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_nested_100_000_deep_is_a_bad_event_and_the_stream_goes_on() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = rogue_set("deep-event", 100_000, &scratch).await;
    let mut events = workers.events().expect("events are taken once");
    let reader = tokio::spawn(async move {
        let first = events.recv().await;
        (first, events)
    });
    // The rogue sends the event, then answers the call honestly.
    assert_eq!(support::add(&workers, 1, 2).await.0, 3);
    let (first, _events) = tokio::time::timeout(HANG_GUARD, reader)
        .await
        .expect("the event arrived")
        .expect("the reader did not panic");
    match first {
        Some(Err(Error::BadEvent { source, .. })) => {
            assert!(source.to_string().contains(DEPTH_LIMIT), "{source}")
        }
        other => panic!("expected BadEvent, got {other:?}"),
    }
    assert_eq!(support::add(&workers, 2, 2).await.0, 4, "the set serves on");
}

type RawSet = WorkerSet<UnixListener, TestReply, RawJob>;

/// A set of test workers whose jobs are raw bytes.
async fn raw_set() -> RawSet {
    WorkerSet::builder()
        .worker_count(1)
        .worker_path(support::helper("test_worker"))
        .finish()
        .await
        .expect("the test worker starts")
}

/// On the worker's side: a request it cannot decode fails that call with a reason naming the
/// limit, and the worker (not replaced) serves the next one.
async fn refused_by_the_worker(workers: &RawSet, body: Vec<u8>, expected: &str) {
    let worker = support::only_worker(workers);
    let result = tokio::time::timeout(HANG_GUARD, workers.send(RawJob(body)))
        .await
        .expect("the call ended instead of hanging");
    match result {
        Err(Error::Remote { reason }) => assert!(reason.contains(expected), "{reason}"),
        other => panic!("expected the worker to refuse the request, got {other:?}"),
    }
    let add = RawJob::of(&TestJob::Add(4, 5));
    let reply = tokio::time::timeout(HANG_GUARD, workers.send(add))
        .await
        .expect("the call ended instead of hanging");
    assert_eq!(
        reply.expect("the worker serves on"),
        TestReply::Sum {
            sum: 9,
            pid: worker.pid
        }
    );
}

#[tokio::test]
async fn a_request_nested_100_000_deep_is_refused_by_the_worker_which_serves_on() {
    let workers = raw_set().await;
    let body = hostile::as_job(&hostile::deep_nest(100_000));
    refused_by_the_worker(&workers, body, DEPTH_LIMIT).await;
}

#[tokio::test]
async fn a_request_of_sequences_claiming_4_billion_elements_is_refused_by_the_worker() {
    let workers = raw_set().await;
    let body = hostile::as_job(&hostile::claiming_nest(15_000));
    refused_by_the_worker(&workers, body, DEPTH_LIMIT).await;
}

#[tokio::test]
async fn an_honest_nest_at_the_depth_limit_decodes() {
    let workers = raw_set().await;
    // `TestJob` is one level, each `Node` one more: 255 of them reach the limit exactly.
    let body = hostile::as_job(&hostile::deep_nest(254));
    let reply = tokio::time::timeout(HANG_GUARD, workers.send(RawJob(body)))
        .await
        .expect("the call ended instead of hanging");
    assert_eq!(reply.expect("decodes"), TestReply::Done);
    let body = hostile::as_job(&hostile::deep_nest(255));
    refused_by_the_worker(&workers, body, DEPTH_LIMIT).await;
}
