//! What pool users ask for beyond `send`: targeting a worker, broadcasting, and statistics.

use ipc2_test_support as support;

use std::collections::HashSet;
use std::sync::Arc;

use ipc2::host::WorkerState;
use ipc2::{Error, WorkerSet};
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, eventually, set};
use tokio::net::UnixListener;

#[tokio::test]
async fn send_to_reaches_the_chosen_worker() {
    let workers = set(3).await;
    for info in workers.workers() {
        for _ in 0..3 {
            match workers.send_to(info.id, TestJob::Add(1, 1)).await.unwrap() {
                TestReply::Sum { pid, .. } => assert_eq!(pid, info.pid),
                other => panic!("unexpected reply {other:?}"),
            }
        }
    }
    assert!(matches!(
        workers.send_to(3, TestJob::Add(1, 1)).await,
        Err(Error::NoSuchWorker {
            worker: 3,
            count: 3
        })
    ));
}

#[tokio::test]
async fn broadcast_reaches_every_worker_once() {
    let workers = set(3).await;
    let results = workers.broadcast(TestJob::Add(2, 2)).await;
    let expected: HashSet<(usize, u32)> = workers.workers().iter().map(|w| (w.id, w.pid)).collect();
    let got: HashSet<(usize, u32)> = results
        .into_iter()
        .map(|(id, outcome)| match outcome {
            Ok(TestReply::Sum { sum: 4, pid }) => (id, pid),
            other => panic!("worker {id}: {other:?}"),
        })
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn stats_show_busy_workers_the_queue_and_the_counters() {
    let workers = Arc::new(set(1).await);
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pid");
    let paused = {
        let (workers, marker) = (workers.clone(), marker.clone());
        tokio::spawn(async move { workers.send(TestJob::Pause { marker, ms: 300 }).await })
    };
    assert!(eventually(HANG_GUARD, || marker.exists()).await);
    let queued: Vec<_> = (0..2)
        .map(|i| {
            let workers = workers.clone();
            tokio::spawn(async move { workers.send(TestJob::Add(i, 1)).await })
        })
        .collect();
    assert!(eventually(HANG_GUARD, || workers.stats().queued == 2).await);
    let busy = workers.stats();
    assert_eq!(busy.in_flight, 1);
    assert_eq!(busy.workers[0].state, WorkerState::Busy);
    assert!(busy.workers[0].uptime.is_some());

    paused.await.unwrap().unwrap();
    for call in queued {
        call.await.unwrap().unwrap();
    }
    let done = workers.stats();
    assert_eq!((done.queued, done.in_flight), (0, 0));
    assert_eq!(done.workers[0].state, WorkerState::Idle);
    assert_eq!(done.workers[0].jobs_done, 3);

    let crash = workers.send(TestJob::Exit(3)).await;
    assert!(matches!(crash, Err(Error::WorkerExited(_))));
    assert!(eventually(HANG_GUARD, || workers.stats().workers[0].restarts == 1).await);
    assert_eq!(workers.stats().workers[0].jobs_failed, 1);
}

#[tokio::test]
async fn worker_output_lines_reach_the_callbacks_tagged_with_the_worker() {
    use std::sync::Mutex;

    use ipc2::host::Output;
    type Lines = Arc<Mutex<Vec<(usize, String)>>>;
    let (out, err): (Lines, Lines) = Default::default();
    let collect = |lines: &Lines| {
        let lines = lines.clone();
        Output::Callback(Arc::new(move |worker, line| {
            lines.lock().unwrap().push((worker, line.to_owned()))
        }))
    };
    let workers = support::builder(2)
        .stdout(collect(&out))
        .stderr(collect(&err))
        .finish()
        .await
        .unwrap();
    workers
        .send_to(1, TestJob::Print("hello".into()))
        .await
        .unwrap();
    let seen = |lines: &Lines, want: &str| lines.lock().unwrap().contains(&(1, want.to_owned()));
    assert!(eventually(HANG_GUARD, || seen(&out, "hello out")).await);
    assert!(eventually(HANG_GUARD, || seen(&err, "hello err")).await);
}

#[tokio::test]
async fn discarded_stderr_still_explains_a_crash() {
    let workers = support::builder(1)
        .stderr(ipc2::host::Output::Discard)
        .finish()
        .await
        .unwrap();
    match workers.send(TestJob::Crash { lines: 3 }).await {
        Err(Error::WorkerExited(exit)) => {
            assert!(
                exit.stderr_tail.contains("the first line of the crash"),
                "{exit}"
            )
        }
        other => panic!("expected WorkerExited, got {other:?}"),
    }
}

// https://github.com/ipc2-rs/ipc2/issues/11: with RUST_BACKTRACE=1 an OOM report showed only the
// previous job's backtrace, and the line that said what happened had scrolled out.
#[tokio::test]
async fn a_crash_report_holds_the_first_and_last_lines_of_the_crashing_job_only() {
    let workers = set(1).await;
    workers
        .send(TestJob::Print("an earlier job".into()))
        .await
        .unwrap();
    match workers.send(TestJob::Crash { lines: 200 }).await {
        Err(Error::WorkerExited(exit)) => {
            let tail = &exit.stderr_tail;
            assert!(tail.starts_with("the first line of the crash"), "{tail}");
            assert!(tail.contains("backtrace frame 199"), "{tail}");
            assert!(tail.contains("lines ...]"), "{tail}");
            assert!(!tail.contains("an earlier job"), "{tail}");
        }
        other => panic!("expected WorkerExited, got {other:?}"),
    }
}

// https://github.com/ipc2-rs/ipc2/issues/12: the raw API's events have a type of their own
// (`WorkerSet<S, R, W, E>`, `connect_with_events`), checked at the handshake like the others.
#[tokio::test]
async fn a_raw_worker_sends_events_of_their_own_type_and_a_host_of_another_refuses_it() {
    let workers: WorkerSet<UnixListener, TestReply, TestJob, String> = WorkerSet::builder()
        .worker_count(1)
        .worker_path(support::helper("blocking_worker"))
        .finish()
        .await
        .unwrap();
    let mut events = workers.events().unwrap();
    assert_eq!(
        workers.send(TestJob::Emit(2)).await.unwrap(),
        TestReply::Done
    );
    for i in 0..2 {
        let event = tokio::time::timeout(HANG_GUARD, events.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(event.event, format!("event {i}"));
    }
    // The seed's `WorkerSet<S, R, W>` expects events of the reply type.
    let refused = support::builder(1)
        .worker_path(support::helper("blocking_worker"))
        .finish()
        .await;
    match refused {
        Err(err @ Error::Handshake { .. }) => assert!(
            err.to_string()
                .contains("the event type: the host expects TestReply, the worker emits String"),
            "{err}"
        ),
        other => panic!("expected a handshake refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn events_sent_by_workers_arrive_in_order_tagged_with_their_worker() {
    let workers = set(2).await;
    let mut events = workers.events().expect("the first call returns the stream");
    assert!(workers.events().is_none(), "there is one stream per set");
    for worker in [0, 1] {
        assert_eq!(
            workers.send_to(worker, TestJob::Emit(5)).await.unwrap(),
            TestReply::Done
        );
    }
    let mut seen = Vec::new();
    for _ in 0..10 {
        let event = tokio::time::timeout(HANG_GUARD, events.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push((event.worker, event.event));
    }
    for worker in [0, 1] {
        let own: Vec<_> = seen
            .iter()
            .filter(|(w, _)| *w == worker)
            .map(|(_, e)| e)
            .collect();
        let want: Vec<_> = (0..5).map(TestReply::Count).collect();
        assert_eq!(own, want.iter().collect::<Vec<_>>(), "worker {worker}");
    }
    assert_eq!(workers.events_dropped(), 0);
}

#[tokio::test]
async fn events_nobody_reads_are_dropped_past_the_capacity_and_replies_still_flow() {
    let workers = support::builder(1)
        .event_capacity(4)
        .finish()
        .await
        .unwrap();
    assert_eq!(
        workers.send(TestJob::Emit(10)).await.unwrap(),
        TestReply::Done
    );
    assert!(matches!(
        workers.send(TestJob::Add(1, 1)).await,
        Ok(TestReply::Sum { sum: 2, .. })
    ));
    assert_eq!(workers.events_dropped(), 6);
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 8): a panicking callback killed the reader of
// the pipe, and the worker's next write met EPIPE and killed it.
#[tokio::test]
async fn a_panicking_output_callback_neither_stops_its_lines_nor_kills_the_worker() {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use ipc2::host::Output;
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let panicked = Arc::new(AtomicBool::new(false));
    let callback = {
        let (lines, panicked) = (lines.clone(), panicked.clone());
        Output::Callback(Arc::new(move |_, line| {
            if !panicked.swap(true, Ordering::SeqCst) {
                panic!("a callback bug");
            }
            lines.lock().unwrap().push(line.to_owned());
        }))
    };
    let workers = support::builder(1).stdout(callback).finish().await.unwrap();
    workers.send(TestJob::Print("first".into())).await.unwrap();
    assert!(eventually(HANG_GUARD, || panicked.load(Ordering::SeqCst)).await);
    for i in 0..6 {
        let printed = workers.send(TestJob::Print(format!("line {i}"))).await;
        assert_eq!(printed.unwrap(), TestReply::Done);
    }
    let seen = |want: &str| lines.lock().unwrap().iter().any(|line| line == want);
    assert!(eventually(HANG_GUARD, || seen("line 5 out")).await);
    assert_eq!(workers.stats().workers[0].restarts, 0, "the worker lived");
}
