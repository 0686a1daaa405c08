//! Recycling: workers replaced by fresh ones although nothing is wrong with them (after N jobs,
//! after an age, above a memory size, or a rolling restart), with no call failing meanwhile.

use ipc2_test_support as support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, TestSet, builder, eventually};

/// Sends `Add` jobs until `enough` says so, checking every reply; returns the worker pids seen.
async fn keep_adding(
    workers: &TestSet,
    mut enough: impl FnMut(&HashSet<u32>) -> bool,
) -> HashSet<u32> {
    let mut pids = HashSet::new();
    let mut i = 0u32;
    let run = async {
        while !enough(&pids) {
            i += 1;
            match workers.send(TestJob::Add(i, 1)).await {
                Ok(TestReply::Sum { sum, pid }) => {
                    assert_eq!(sum, i + 1);
                    pids.insert(pid);
                }
                other => panic!("call {i} failed during recycling: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(HANG_GUARD, run)
        .await
        .expect("recycling happened");
    pids
}

#[tokio::test]
async fn workers_are_recycled_after_n_jobs_and_no_call_fails() {
    let workers = builder(1).recycle_after_jobs(5).finish().await.unwrap();
    let pids = keep_adding(&workers, |pids| pids.len() >= 3).await;
    assert!(pids.len() >= 3);
    for pid in pids {
        if Some(pid) != workers.workers().first().map(|w| w.pid) {
            assert!(
                eventually(HANG_GUARD, || support::is_dead(pid)).await,
                "{pid} lingers"
            );
        }
    }
    assert_eq!(
        workers.stats().workers[0].restarts,
        0,
        "recycling is not a restart"
    );
}

#[tokio::test]
async fn workers_are_recycled_after_an_age() {
    let workers = builder(1)
        .recycle_after(Duration::from_millis(200))
        .finish()
        .await
        .unwrap();
    keep_adding(&workers, |pids| pids.len() >= 2).await;
}

#[tokio::test]
async fn workers_are_recycled_above_a_resident_memory_size() {
    // Every worker is over one byte, so each is replaced as soon as it is checked.
    let workers = builder(1).recycle_above_rss(1).finish().await.unwrap();
    keep_adding(&workers, |pids| pids.len() >= 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_replaces_every_worker_while_calls_keep_succeeding() {
    let workers = Arc::new(builder(3).finish().await.unwrap());
    let before: HashSet<u32> = workers.workers().iter().map(|w| w.pid).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let callers: Vec<_> = (0..8)
        .map(|caller| {
            let (workers, stop, answered) = (workers.clone(), stop.clone(), answered.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match workers.send(TestJob::Add(caller, n)).await {
                        Ok(TestReply::Sum { sum, .. }) => assert_eq!(sum, caller + n),
                        other => panic!("a call failed during the restart: {other:?}"),
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::timeout(HANG_GUARD, workers.restart())
        .await
        .unwrap()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    let after: HashSet<u32> = workers.workers().iter().map(|w| w.pid).collect();
    assert_eq!(after.len(), 3);
    assert!(
        before.is_disjoint(&after),
        "before {before:?}, after {after:?}"
    );
    assert!(answered.load(Ordering::Relaxed) > 0);
    for pid in before {
        assert!(
            eventually(HANG_GUARD, || support::is_dead(pid)).await,
            "{pid} lingers"
        );
    }
}

#[tokio::test]
async fn resize_grows_and_shrinks_the_set_letting_busy_workers_finish() {
    use ipc2::Error;
    use ipc2::host::WorkerState;

    let workers = Arc::new(builder(1).finish().await.unwrap());
    workers.resize(3).await.unwrap();
    assert_eq!(workers.workers().len(), 3);
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pid");
    let busy = {
        let (workers, marker) = (workers.clone(), marker.clone());
        tokio::spawn(async move { workers.send_to(2, TestJob::Pause { marker, ms: 300 }).await })
    };
    assert!(eventually(HANG_GUARD, || marker.exists()).await);

    workers.resize(1).await.unwrap();
    assert_eq!(
        busy.await.unwrap().unwrap(),
        TestReply::Done,
        "the busy worker finished"
    );
    assert!(eventually(HANG_GUARD, || workers.workers().len() == 1).await);
    let states: Vec<WorkerState> = workers.stats().workers.iter().map(|w| w.state).collect();
    assert_eq!(states[1..], [WorkerState::Retired, WorkerState::Retired]);
    assert!(matches!(
        workers.send_to(2, TestJob::Add(1, 1)).await,
        Err(Error::NoSuchWorker { worker: 2, .. })
    ));
    for i in 0..10 {
        assert!(matches!(
            workers.send(TestJob::Add(i, 1)).await,
            Ok(TestReply::Sum { sum, .. }) if sum == i + 1
        ));
    }

    workers.resize(2).await.unwrap();
    let ids: Vec<usize> = workers.workers().iter().map(|w| w.id).collect();
    assert_eq!(ids, [0, 1], "a retired slot is reused");
    assert!(matches!(workers.resize(0).await, Err(Error::Config(_))));
}
