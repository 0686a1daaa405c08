//! The worker set's everyday behaviour, with real worker processes.

use ipc2_test_support as support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ipc2::host::Policy;
use ipc2::{Error, TimeoutAction};
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, builder, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_answer_2000_concurrent_sends_using_every_worker() {
    let workers = Arc::new(set(4).await);
    let mut calls = Vec::new();
    for i in 0..2000u32 {
        let workers = workers.clone();
        calls.push(tokio::spawn(async move {
            (i, workers.send(TestJob::Add(i, 1000)).await)
        }));
    }
    let mut pids = HashSet::new();
    for call in calls {
        let (i, reply) = tokio::time::timeout(HANG_GUARD, call)
            .await
            .unwrap()
            .unwrap();
        match reply.unwrap() {
            TestReply::Sum { sum, pid } => {
                assert_eq!(sum, i + 1000);
                pids.insert(pid);
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    let expected: HashSet<u32> = workers.workers().iter().map(|w| w.pid).collect();
    assert_eq!(expected.len(), 4);
    assert_eq!(pids, expected, "every worker took jobs");
}

#[tokio::test]
async fn dropped_reply_handle_fails_the_call_instead_of_hanging() {
    let workers = set(1).await;
    let result = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::DropReply)).await;
    match result.unwrap() {
        Err(Error::Remote { reason }) => assert!(reason.contains("dropped the reply"), "{reason}"),
        other => panic!("expected a remote failure, got {other:?}"),
    }
    assert_eq!(
        workers.send(TestJob::Echo(vec![1, 2])).await.unwrap(),
        TestReply::Bytes(vec![1, 2])
    );
}

#[tokio::test]
async fn notifications_reach_the_worker_before_a_later_request() {
    let workers = set(1).await;
    for _ in 0..3 {
        workers.notify(TestJob::Note).await.unwrap();
    }
    assert_eq!(
        workers.send(TestJob::Count).await.unwrap(),
        TestReply::Count(3)
    );
}

#[tokio::test]
async fn timeout_with_restart_kills_the_hung_worker_and_the_set_recovers() {
    let workers = set(1).await;
    let before = workers.workers()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let result = workers
        .send_timeout(
            TestJob::Pause {
                marker: dir.path().join("pid"),
                ms: u64::MAX,
            },
            Duration::from_millis(500),
            TimeoutAction::Restart,
        )
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    let reply = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(2, 3)))
        .await
        .unwrap()
        .unwrap();
    let TestReply::Sum { sum: 5, pid } = reply else {
        panic!("unexpected reply {reply:?}")
    };
    assert_ne!(pid, before.pid, "the hung worker was replaced");
    assert!(support::is_dead(before.pid));
    assert_eq!(workers.workers()[0].generation, before.generation + 1);
}

#[tokio::test]
async fn timeout_with_error_keeps_the_busy_worker_from_the_next_caller() {
    let workers = set(1).await;
    let before = workers.workers()[0].pid;
    let result = workers
        .send_timeout(
            TestJob::Sleep(1000),
            Duration::from_millis(50),
            TimeoutAction::Error,
        )
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    // The next call waits for the sleeping job to finish and gets its own reply, not `Done`.
    let reply = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(1, 1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reply,
        TestReply::Sum {
            sum: 2,
            pid: before
        }
    );
}

#[tokio::test]
async fn a_queue_timeout_passing_in_the_queue_means_the_job_is_never_sent() {
    let workers = set(1).await;
    let busy = workers.send(TestJob::Sleep(500));
    let queued = workers.send_with(
        TestJob::Note,
        Policy::default().with_queue_timeout(Duration::from_millis(50)),
    );
    let (busy, queued) = tokio::join!(busy, queued);
    assert_eq!(busy.unwrap(), TestReply::Done);
    match queued {
        Err(err @ Error::QueueTimeout { waited }) => {
            assert!(waited >= Duration::from_millis(50), "{err}");
            assert!(err.to_string().contains("never sent"), "{err}");
        }
        other => panic!("expected QueueTimeout, got {other:?}"),
    }
    // Had the queued `Note` been sent as a request, the count would include it.
    assert_eq!(
        workers.send(TestJob::Count).await.unwrap(),
        TestReply::Count(0)
    );
}

// RELIABILITY.md row 31: each future is dropped once its job runs on the worker (the worker has
// written the job's marker), so the worker owes a `Done` nobody waits for.
#[tokio::test]
async fn dropped_send_futures_leak_no_worker_and_misdeliver_no_reply() {
    let workers = set(1).await;
    let before = workers.workers();
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5 {
        let marker = dir.path().join(round.to_string());
        let job = TestJob::Pause {
            marker: marker.clone(),
            ms: 300,
        };
        tokio::select! {
            // Should the test run late, the marker still wins over the reply that follows it.
            biased;
            _ = support::job_started(&marker) => {}
            _ = workers.send(job) => panic!("the job answered before it was seen to start"),
        }
    }
    // The first of these waits for the last dropped job to end; each gets its own sum.
    for i in 0..100 {
        let reply = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(i, i)))
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(reply, TestReply::Sum { sum, .. } if sum == 2 * i),
            "{reply:?}"
        );
    }
    assert_eq!(workers.workers(), before, "dropping a call cost its worker");
}

#[tokio::test]
async fn try_send_is_busy_when_every_worker_is_busy_and_the_queue_is_full() {
    let workers = builder(1).queue_capacity(0).finish().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pid");
    let hung = workers.send(TestJob::Pause {
        marker: marker.clone(),
        ms: u64::MAX,
    });
    let probe = async {
        support::job_started(&marker).await;
        workers.try_send(TestJob::Add(1, 1)).await
    };
    tokio::select! {
        _ = hung => panic!("the hung job answered"),
        result = probe => assert!(matches!(result, Err(Error::Busy { capacity: 0 })), "{result:?}"),
    }
}

#[tokio::test]
async fn a_job_over_the_frame_limit_fails_before_anything_is_sent() {
    let workers = builder(1).max_frame_len(1024).finish().await.unwrap();
    let result = workers.send(TestJob::Echo(vec![7; 4096])).await;
    match result {
        Err(err @ Error::Encode(_)) => {
            let message = err.to_string();
            assert!(
                message.contains("bytes, over the 1 KiB frame limit (max_frame_len)"),
                "{message}"
            );
        }
        other => panic!("expected Encode, got {other:?}"),
    }
    let reply = workers.send(TestJob::Echo(vec![7; 100])).await.unwrap();
    assert_eq!(reply, TestReply::Bytes(vec![7; 100]));
}

#[tokio::test]
async fn a_one_mebibyte_payload_round_trips() {
    let workers = set(1).await;
    let payload: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let reply = workers.send(TestJob::Echo(payload.clone())).await.unwrap();
    assert_eq!(reply, TestReply::Bytes(payload));
}

#[tokio::test]
async fn shutdown_lets_running_jobs_finish_then_reaps_every_worker() {
    let workers = Arc::new(set(2).await);
    let pids: Vec<u32> = workers.workers().iter().map(|w| w.pid).collect();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pid");
    let running = {
        let workers = workers.clone();
        let marker = marker.clone();
        tokio::spawn(async move { workers.send(TestJob::Pause { marker, ms: 300 }).await })
    };
    support::job_started(&marker).await;
    tokio::time::timeout(HANG_GUARD, workers.shutdown())
        .await
        .unwrap();
    assert_eq!(running.await.unwrap().unwrap(), TestReply::Done);
    assert!(matches!(
        workers.send(TestJob::Add(1, 1)).await,
        Err(Error::Shutdown)
    ));
    for pid in pids {
        assert!(!support::exists(pid), "worker {pid} survived shutdown");
    }
}

#[tokio::test]
async fn builder_args_and_env_reach_every_worker() {
    let workers = builder(2)
        .args(["--alpha", "beta"])
        .arg("gamma")
        .finish()
        .await
        .unwrap();
    for _ in 0..4 {
        assert_eq!(
            workers.send(TestJob::Args).await.unwrap(),
            TestReply::Args(vec!["--alpha".into(), "beta".into(), "gamma".into()])
        );
    }
}

#[tokio::test]
async fn the_socket_lives_in_a_private_directory_removed_on_drop() {
    use std::os::unix::fs::MetadataExt;
    let workers = set(1).await;
    let TestReply::Address(address) = workers.send(TestJob::Address).await.unwrap() else {
        panic!("no address")
    };
    let dir = std::path::Path::new(&address).parent().unwrap().to_owned();
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "{}", dir.display());
    assert_eq!(meta.uid(), rustix::process::geteuid().as_raw());
    drop(workers);
    assert!(!dir.exists(), "{} outlived the set", dir.display());
}

#[tokio::test]
async fn a_spin_polling_set_answers_every_call_and_an_overlong_spin_is_refused() {
    let workers = builder(2)
        .spin_poll(Duration::from_micros(50))
        .finish()
        .await
        .unwrap();
    let calls = (0..200u32).map(|i| {
        let workers = &workers;
        async move { (i, workers.send(TestJob::Add(i, 1)).await) }
    });
    for (i, reply) in futures_util::future::join_all(calls).await {
        assert!(
            matches!(reply, Ok(TestReply::Sum { sum, .. }) if sum == i + 1),
            "{i}: {reply:?}"
        );
    }
    let err = builder(1)
        .spin_poll(Duration::from_millis(11))
        .finish()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 3): a long failure reason was sent whole,
// over the frame limit, and the honest worker was killed for it.
#[tokio::test]
async fn a_failure_reason_longer_than_the_frame_allows_is_cut_and_the_worker_lives() {
    let workers = builder(1).max_frame_len(1024).finish().await.unwrap();
    let pid = workers.workers()[0].pid;
    let reason = "é".repeat(1000);
    match workers.send(TestJob::Fail(1000)).await {
        Err(Error::Remote { reason: got }) => {
            assert!(!got.is_empty() && got.len() <= 1024, "{} bytes", got.len());
            assert!(reason.starts_with(&got), "cut at a character boundary");
        }
        other => panic!("expected the worker's failure, got {other:?}"),
    }
    assert!(matches!(
        workers.send(TestJob::Add(1, 2)).await,
        Ok(TestReply::Sum { sum: 3, pid: answered }) if answered == pid
    ));
    assert_eq!(workers.stats().workers[0].restarts, 0);
}
