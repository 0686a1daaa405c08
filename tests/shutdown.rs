//! `WorkerSet::shutdown` from several tasks at once, and what the set says of itself after it.

use ipc2_test_support as support;

use std::sync::Arc;

use ipc2::Error;
use ipc2::host::WorkerState;
use support::{HANG_GUARD, set};

// https://github.com/ipc2-rs/ipc2/issues/16 (item 4): the second caller returned while workers
// were still alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_concurrent_shutdown_returns_only_after_every_worker_is_reaped() {
    for _ in 0..3 {
        let workers = Arc::new(set(4).await);
        let pids: Vec<u32> = workers.workers().iter().map(|w| w.pid).collect();
        assert_eq!(pids.len(), 4);
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let workers = workers.clone();
                let pids = pids.clone();
                tokio::spawn(async move {
                    workers.shutdown().await;
                    // Checked by each caller as it returns: no worker may still exist.
                    pids.iter().filter(|&&pid| support::exists(pid)).count()
                })
            })
            .collect();
        for caller in callers {
            let alive = tokio::time::timeout(HANG_GUARD, caller)
                .await
                .expect("shutdown returns")
                .unwrap();
            assert_eq!(alive, 0, "a shutdown returned with workers unreaped");
        }
    }
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 10).
#[tokio::test]
async fn after_shutdown_no_worker_is_listed_and_resize_changes_nothing() {
    let workers = set(2).await;
    tokio::time::timeout(HANG_GUARD, workers.shutdown())
        .await
        .unwrap();
    assert_eq!(workers.workers(), []);
    let stats = workers.stats();
    assert!(
        stats
            .workers
            .iter()
            .all(|w| w.state == WorkerState::Stopped && w.pid.is_none()),
        "{stats:?}"
    );
    assert!(matches!(workers.resize(4).await, Err(Error::Shutdown)));
    assert_eq!(workers.stats().workers.len(), 2, "no slot was added");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 5): with the runtime that built the set gone,
// `send` never returned, `shutdown` waited its whole grace, and `stats` showed the dead workers
// busy.
#[test]
fn a_set_whose_runtime_is_dropped_fails_every_call_instead_of_hanging() {
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("started");
    let first = runtime();
    let workers = Arc::new(first.block_on(set(2)));
    let pids: Vec<u32> = workers.workers().iter().map(|w| w.pid).collect();
    let second = runtime();
    // A call in flight on the second runtime when the first one goes.
    let running = second.spawn({
        let workers = workers.clone();
        let marker = marker.clone();
        async move {
            workers
                .send(support::jobs::TestJob::Pause {
                    marker,
                    ms: u64::MAX,
                })
                .await
        }
    });
    second.block_on(support::job_started(&marker));
    drop(first);

    second.block_on(async {
        let running = tokio::time::timeout(HANG_GUARD, running)
            .await
            .expect("the call in flight ended instead of hanging")
            .unwrap();
        assert!(matches!(running, Err(Error::TasksGone)), "{running:?}");
        let later =
            tokio::time::timeout(HANG_GUARD, workers.send(support::jobs::TestJob::Add(1, 2)))
                .await
                .expect("a new call ended instead of hanging");
        assert!(matches!(later, Err(Error::TasksGone)), "{later:?}");
        assert!(
            later.unwrap_err().to_string().contains("runtime"),
            "the message says why"
        );
        let stats = workers.stats();
        assert_eq!(stats.in_flight, 0, "{stats:?}");
        assert!(
            stats
                .workers
                .iter()
                .all(|w| w.state == WorkerState::Stopped),
            "{stats:?}"
        );
        // The workers exit once their connections close, and shutdown reaps them.
        tokio::time::timeout(HANG_GUARD, workers.shutdown())
            .await
            .expect("shutdown returns");
        for pid in pids {
            assert!(!support::exists(pid), "worker {pid} outlived the shutdown");
        }
    });
}
