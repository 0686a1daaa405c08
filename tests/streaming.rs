//! Streaming calls with real worker processes (https://github.com/ipc2-rs/ipc2/issues/13): every
//! item arrives in order, a fast worker is held back to the window, dropping the stream cancels
//! the worker's handler, a crash ends the stream after the items that arrived, the time limits
//! apply, and a stream holds its worker's place.

use ipc2_test_support as support;

use std::time::Duration;

use ipc2::{Error, ExitCause, TimeoutAction};
use support::calc::{CalcClient, DivByZero, Progress};
use support::jobs::{StreamEnd, TestJob, TestReply};
use support::{HANG_GUARD, TestSet, eventually};

fn stream(count: u64, gap_ms: u64, end: StreamEnd) -> TestJob {
    TestJob::Stream {
        count,
        gap_ms,
        end,
        marker: None,
    }
}

/// Reads the rest of `items`, each bounded by [`HANG_GUARD`]: the counts, then how it ended.
async fn drain(items: &mut ipc2::host::ReplyStream<TestReply>) -> (Vec<u64>, Option<Error>) {
    let mut counts = Vec::new();
    loop {
        let next = tokio::time::timeout(HANG_GUARD, items.next())
            .await
            .expect("the stream moves on");
        match next {
            Some(Ok(TestReply::Count(n))) => counts.push(n),
            Some(Ok(other)) => panic!("unexpected item {other:?}"),
            Some(Err(err)) => {
                assert!(
                    tokio::time::timeout(HANG_GUARD, items.next())
                        .await
                        .unwrap()
                        .is_none(),
                    "an error is the last item"
                );
                return (counts, Some(err));
            }
            None => return (counts, None),
        }
    }
}

#[tokio::test]
async fn every_item_arrives_in_order_and_then_the_stream_ends() {
    let workers = support::set(1).await;
    let mut items = workers
        .send_stream(stream(1000, 0, StreamEnd::End))
        .await
        .unwrap();
    let (counts, end) = drain(&mut items).await;
    assert!(end.is_none(), "{end:?}");
    assert_eq!(counts, (0..1000).collect::<Vec<_>>());
    assert!(items.next().await.is_none(), "an ended stream stays ended");
    // The worker is free again.
    assert!(matches!(
        workers.send(TestJob::Add(1, 2)).await,
        Ok(TestReply::Sum { sum: 3, .. })
    ));
}

#[tokio::test]
async fn a_worker_faster_than_its_reader_is_held_back_to_the_window() {
    const WINDOW: u32 = 16;
    const READ: u64 = 200;
    let workers: TestSet = support::builder(1)
        .stream_window(WINDOW)
        .max_in_flight_per_worker(2)
        .finish()
        .await
        .unwrap();
    let mut items = workers
        .send_stream(stream(1_000_000, 0, StreamEnd::End))
        .await
        .unwrap();
    for expected in 0..READ {
        // A slow reader: one item a millisecond.
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(
            items.buffered() <= WINDOW as usize,
            "{} items buffered, past the window of {WINDOW}",
            items.buffered()
        );
        let item = tokio::time::timeout(HANG_GUARD, items.next())
            .await
            .unwrap();
        assert!(
            matches!(item, Some(Ok(TestReply::Count(n))) if n == expected),
            "{item:?}"
        );
    }
    // The worker's own count of what it sent: never more than was read plus the window.
    let produced = match workers.send_to(items.worker(), TestJob::Produced).await {
        Ok(TestReply::Count(n)) => n,
        other => panic!("unexpected reply {other:?}"),
    };
    assert!(
        (READ..=READ + u64::from(WINDOW)).contains(&produced),
        "the worker produced {produced} items while {READ} were read"
    );
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_handler_and_frees_the_worker() {
    let workers = support::set(1).await;
    let pid = support::only_worker(&workers).pid;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("cancelled");
    let job = TestJob::Stream {
        count: u64::MAX,
        gap_ms: 1,
        end: StreamEnd::End,
        marker: Some(marker.clone()),
    };
    let mut items = workers.send_stream(job).await.unwrap();
    for _ in 0..3 {
        assert!(matches!(
            tokio::time::timeout(HANG_GUARD, items.next())
                .await
                .unwrap(),
            Some(Ok(TestReply::Count(_)))
        ));
    }
    drop(items);
    assert!(
        eventually(HANG_GUARD, || marker.exists()).await,
        "the worker's handler saw the cancellation"
    );
    match tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(2, 2))).await {
        Ok(Ok(TestReply::Sum { sum: 4, pid: same })) => assert_eq!(same, pid, "not replaced"),
        other => panic!("the worker was not freed: {other:?}"),
    }
}

#[tokio::test]
async fn a_worker_killed_mid_stream_ends_it_after_every_item_that_arrived() {
    let workers = support::set(1).await;
    let pid = support::only_worker(&workers).pid;
    let mut items = workers
        .send_stream(stream(50, 0, StreamEnd::Hang))
        .await
        .unwrap();
    for expected in 0..50 {
        let item = tokio::time::timeout(HANG_GUARD, items.next())
            .await
            .unwrap();
        assert!(
            matches!(item, Some(Ok(TestReply::Count(n))) if n == expected),
            "{item:?}"
        );
    }
    support::sigkill(pid);
    let (counts, end) = drain(&mut items).await;
    assert!(counts.is_empty(), "nothing twice: {counts:?}");
    match end {
        Some(Error::WorkerExited(exit)) => {
            assert_eq!(exit.pid, pid);
            assert_eq!(exit.cause, ExitCause::Died);
        }
        other => panic!("expected WorkerExited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stream_the_worker_fails_ends_with_its_reason() {
    let workers = support::set(1).await;
    let mut items = workers
        .send_stream(stream(5, 0, StreamEnd::Fail))
        .await
        .unwrap();
    let (counts, end) = drain(&mut items).await;
    assert_eq!(counts, [0, 1, 2, 3, 4]);
    assert!(
        matches!(&end, Some(Error::Remote { reason }) if reason == "the stream failed on purpose"),
        "{end:?}"
    );
}

#[tokio::test]
async fn the_time_limit_bounds_the_whole_stream() {
    let workers = support::set(1).await;
    let mut items = workers
        .with_timeout(Duration::from_millis(300), TimeoutAction::Error)
        .send_stream(stream(1000, 20, StreamEnd::End))
        .await
        .unwrap();
    let (counts, end) = drain(&mut items).await;
    assert!(counts.len() < 1000, "{} items", counts.len());
    assert_eq!(counts, (0..counts.len() as u64).collect::<Vec<_>>());
    assert!(
        matches!(
            end,
            Some(Error::Timeout {
                action: TimeoutAction::Error,
                ..
            })
        ),
        "{end:?}"
    );
    // Cancelled, not killed: the same worker answers the next call.
    assert!(matches!(
        tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(1, 1))).await,
        Ok(Ok(TestReply::Sum { sum: 2, .. }))
    ));
}

#[tokio::test]
async fn an_item_timeout_bounds_the_gap_between_two_items() {
    let workers = support::set(1).await;
    let mut items = workers
        .with_item_timeout(Duration::from_millis(200))
        .send_stream(stream(3, 1000, StreamEnd::End))
        .await
        .unwrap();
    let (counts, end) = drain(&mut items).await;
    assert!(counts.is_empty(), "{counts:?}");
    assert!(
        matches!(end, Some(Error::ItemTimeout { worker: 0, limit }) if limit == Duration::from_millis(200)),
        "{end:?}"
    );
}

#[tokio::test]
async fn a_stream_holds_its_workers_place_until_it_ends() {
    let workers: TestSet = support::builder(2)
        .queue_timeout(Duration::from_millis(200))
        .finish()
        .await
        .unwrap();
    let long = || stream(u64::MAX, 5, StreamEnd::End);
    let first = workers.send_stream(long()).await.unwrap();
    let second = workers.send_stream(long()).await.unwrap();
    assert_ne!(first.worker(), second.worker(), "one stream per worker");
    let queued = workers.send(TestJob::Add(1, 1)).await;
    assert!(
        matches!(queued, Err(Error::QueueTimeout { .. })),
        "{queued:?}"
    );
    drop(first);
    assert!(matches!(
        tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(1, 1))).await,
        Ok(Ok(TestReply::Sum { sum: 2, .. }))
    ));
}

#[tokio::test]
async fn a_plain_reply_to_a_streaming_call_is_a_stream_of_one_item() {
    let workers = support::set(1).await;
    let mut items = workers.send_stream(TestJob::Count).await.unwrap();
    let (counts, end) = drain(&mut items).await;
    assert_eq!(counts, [0]);
    assert!(end.is_none(), "{end:?}");
}

// The same through `#[ipc2::service]`: a method returning `ipc2::Stream<T>`.

#[tokio::test]
async fn a_service_method_streams_its_items_and_emits_events_while_it_streams() {
    let workers = support::calc_builder(1).finish().await.unwrap();
    let mut events = workers.events().unwrap();
    let mut items = workers.count_to(5, 0, String::new()).await.unwrap();
    let seen = support::read_all(&mut items).await;
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    let progress: Vec<Progress> = (0..5).map(|step| Progress { step, of: 5 }).collect();
    assert_eq!(support::next_events(&mut events, 5).await, progress);
}

#[tokio::test]
async fn dropping_a_service_stream_drops_the_handlers_stream_on_the_worker() {
    let workers = support::calc_builder(1).finish().await.unwrap();
    let pid = support::only_worker(&workers).pid;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("dropped");
    let mut items = workers
        .count_to(u64::MAX, 1, marker.to_string_lossy().into_owned())
        .await
        .unwrap();
    for expected in 0..3 {
        let item = tokio::time::timeout(HANG_GUARD, items.next())
            .await
            .unwrap();
        assert!(matches!(item, Some(Ok(n)) if n == expected), "{item:?}");
    }
    drop(items);
    assert!(
        eventually(HANG_GUARD, || marker.exists()).await,
        "the handler's stream was dropped"
    );
    assert_eq!(
        tokio::time::timeout(HANG_GUARD, workers.pid())
            .await
            .unwrap()
            .unwrap(),
        pid,
        "the same worker is free for the next call"
    );
}

#[tokio::test]
async fn a_stream_of_results_can_end_with_the_services_own_error() {
    let workers = support::calc_builder(1).finish().await.unwrap();
    let mut items = workers.words("one two".into(), true).await.unwrap();
    let seen = support::read_all(&mut items).await;
    assert_eq!(seen, [Ok("one".into()), Ok("two".into()), Err(DivByZero)]);
}

#[tokio::test]
async fn a_methods_item_timeout_bounds_the_gap_between_its_items() {
    let workers = support::calc_builder(1).finish().await.unwrap();
    let mut items = workers.count_slowly(3, 1000).await.unwrap();
    let first = tokio::time::timeout(HANG_GUARD, items.next())
        .await
        .unwrap();
    assert!(
        matches!(first, Some(Err(Error::ItemTimeout { limit, .. })) if limit == Duration::from_millis(200)),
        "{first:?}"
    );
    assert!(items.next().await.is_none());
}

#[tokio::test]
async fn on_all_starts_a_stream_on_every_worker() {
    let workers = support::calc_builder(2).finish().await.unwrap();
    let streams = workers.on_all().count_to(3, 0, String::new()).await;
    assert_eq!(streams.len(), 2);
    for (worker, stream) in streams {
        let mut items = stream.unwrap();
        assert_eq!(items.worker(), worker);
        let seen = support::read_all(&mut items).await;
        assert_eq!(seen, [0, 1, 2], "worker {worker}");
    }
}

// The whole stream's limit holds even when the reader always finds an item waiting: a slow
// reader of a fast, endless stream.
#[tokio::test]
async fn the_time_limit_stops_an_endless_stream_whose_items_are_always_waiting() {
    let workers = support::set(1).await;
    let mut items = workers
        .with_timeout(Duration::from_millis(300), TimeoutAction::Restart)
        .send_stream(stream(u64::MAX, 0, StreamEnd::End))
        .await
        .unwrap();
    let end = tokio::time::timeout(HANG_GUARD, async {
        let mut read = 0u64;
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            match items.next().await {
                Some(Ok(TestReply::Count(n))) => {
                    assert_eq!(n, read);
                    read += 1;
                }
                other => return other,
            }
        }
    })
    .await
    .expect("the time limit ended the stream");
    assert!(
        matches!(
            end,
            Some(Err(Error::Timeout {
                action: TimeoutAction::Restart,
                ..
            }))
        ),
        "{end:?}"
    );
}

// A plain call whose worker answers with a stream gets the stream's first item as its reply.
#[tokio::test]
async fn a_plain_call_answered_with_a_stream_gets_its_first_item() {
    let workers = support::set(1).await;
    let reply = tokio::time::timeout(HANG_GUARD, workers.send(stream(5, 0, StreamEnd::Hang)))
        .await
        .expect("the call ends");
    assert!(matches!(reply, Ok(TestReply::Count(0))), "{reply:?}");
    let empty = tokio::time::timeout(HANG_GUARD, workers.send(stream(0, 0, StreamEnd::End)))
        .await
        .expect("the call ends");
    assert!(
        matches!(&empty, Err(Error::Remote { reason }) if reason.contains("before its first item")),
        "{empty:?}"
    );
    let calc = support::calc_builder(1).finish().await.unwrap();
    let job = support::calc::CalcRequest::CountTo {
        n: 3,
        gap_ms: 0,
        marker: String::new(),
    };
    let first = tokio::time::timeout(HANG_GUARD, calc.send(job))
        .await
        .unwrap();
    assert!(
        matches!(first, Ok(support::calc::CalcResponse::CountTo(0))),
        "{first:?}"
    );
}
