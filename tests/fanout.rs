//! One set, many callers and many workers (issue 12): a clonable handle, calls to one chosen
//! worker or to all of them, and `map` over many jobs.

use ipc2_test_support as support;

use std::collections::HashSet;

use futures_util::StreamExt;
use ipc2::{Error, WorkerSet};
use serde::{Deserialize, Serialize};
use support::calc::CalcClient;
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, eventually, set};
use tokio::net::UnixListener;

// Spawning tasks in a loop needed an `Arc` (E0382 first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_are_one_set_which_stops_with_the_last_clone() {
    let workers = set(2).await;
    let pids: Vec<u32> = workers.workers().iter().map(|w| w.pid).collect();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let workers = workers.clone();
            tokio::spawn(async move { support::add(&workers, i, 1).await.0 })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), i as u32 + 1);
    }
    let other = workers.clone();
    drop(workers);
    assert_eq!(
        support::add(&other, 2, 2).await.0,
        4,
        "a clone keeps the set alive"
    );
    drop(other);
    for pid in pids {
        assert!(
            eventually(HANG_GUARD, || support::is_dead(pid)).await,
            "worker {pid} outlived the last clone"
        );
    }
}

#[tokio::test]
async fn shutdown_from_one_clone_stops_the_set_for_all() {
    let workers = set(1).await;
    let other = workers.clone();
    tokio::time::timeout(HANG_GUARD, other.shutdown())
        .await
        .expect("shutdown returns");
    assert!(matches!(
        workers.send(TestJob::Add(1, 1)).await,
        Err(Error::Shutdown)
    ));
}

/// A job type that is not `Clone`; it encodes, and describes itself at the handshake, exactly as
/// the `TestJob` it holds.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct NotClone(TestJob);

// `broadcast` needed `W: Clone`, which a generated request enum is not.
#[tokio::test]
async fn broadcast_encodes_once_and_needs_no_clone() {
    let workers: WorkerSet<UnixListener, TestReply, NotClone> = WorkerSet::builder()
        .worker_count(3)
        .worker_path(support::helper("test_worker"))
        .finish()
        .await
        .unwrap();
    let running: HashSet<(usize, u32)> = workers.workers().iter().map(|w| (w.id, w.pid)).collect();
    let outcomes = workers.broadcast(NotClone(TestJob::Add(2, 3))).await;
    let answered: HashSet<(usize, u32)> = outcomes
        .into_iter()
        .map(|(worker, outcome)| match outcome {
            Ok(TestReply::Sum { sum: 5, pid }) => (worker, pid),
            other => panic!("worker {worker}: {other:?}"),
        })
        .collect();
    assert_eq!(answered, running, "each worker answered once, by its id");
}

#[tokio::test]
async fn on_runs_service_methods_and_one_way_methods_on_the_chosen_worker() {
    let workers = support::calc_builder(3).finish().await.unwrap();
    for info in workers.workers() {
        assert_eq!(workers.on(info.id).pid().await.unwrap(), info.pid);
    }
    // One-way through `on` (through `send_to` it was refused as "one-way").
    workers.on(2).log("for worker 2".into()).await.unwrap();
    let lines = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let lines = workers.on(2).lines().await.unwrap();
            if !lines.is_empty() {
                return lines;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the line arrived");
    assert_eq!(lines, ["for worker 2"]);
    assert!(workers.on(0).lines().await.unwrap().is_empty());
    assert!(matches!(
        workers.on(7).pid().await,
        Err(Error::NoSuchWorker { worker: 7, .. })
    ));
}

#[tokio::test]
async fn map_yields_in_order_and_map_unordered_yields_every_job_once() {
    let workers = support::builder(2)
        .max_in_flight_per_worker(4)
        .finish()
        .await
        .unwrap();
    let sums: Vec<u32> = workers
        .map((0..1000).map(|i| TestJob::Add(i, 1)))
        .map(|reply| match reply {
            Ok(TestReply::Sum { sum, .. }) => sum,
            other => panic!("{other:?}"),
        })
        .collect()
        .await;
    assert_eq!(sums, (1..=1000).collect::<Vec<_>>());

    let mut seen: Vec<usize> = workers
        .map_unordered((0..1000).map(|i| TestJob::Add(i, 1)))
        .map(|(index, reply)| {
            assert!(
                matches!(reply, Ok(TestReply::Sum { sum, .. }) if sum == index as u32 + 1),
                "{index}: {reply:?}"
            );
            index
        })
        .collect()
        .await;
    seen.sort();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
}

// `workers.on_all()` runs a service method on every worker and gives each one's result by id;
// one-way methods reach every worker; a worker that dies running its copy is that worker's
// error alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_all_runs_on_every_worker_and_reports_each_ones_outcome() {
    let workers = support::calc_builder(2).finish().await.unwrap();
    let running: Vec<(usize, u32)> = workers.workers().iter().map(|w| (w.id, w.pid)).collect();
    let mut pids: Vec<(usize, u32)> = workers
        .on_all()
        .pid()
        .await
        .into_iter()
        .map(|(id, pid)| (id, pid.unwrap()))
        .collect();
    pids.sort();
    assert_eq!(pids, running);

    for (id, sent) in workers.on_all().log("to every worker".into()).await {
        sent.unwrap_or_else(|err| panic!("worker {id}: {err}"));
    }
    for (id, _) in &running {
        let logged = || async { workers.on(*id).lines().await.unwrap() };
        let mut lines = logged().await;
        let started = std::time::Instant::now();
        while lines.is_empty() && started.elapsed() < HANG_GUARD {
            tokio::task::yield_now().await;
            lines = logged().await;
        }
        assert_eq!(lines, ["to every worker"], "worker {id}");
    }

    let dir = tempfile::tempdir().unwrap();
    let (victim_id, victim) = running[1];
    let all = workers.on_all();
    let calls = all.pause_in(dir.path().to_string_lossy().into_owned(), 1500);
    let kill = async {
        let started = || dir.path().join(victim.to_string()).exists();
        assert!(
            eventually(HANG_GUARD, started).await,
            "the victim runs its copy"
        );
        support::sigkill(victim);
    };
    let (outcomes, ()) = tokio::time::timeout(HANG_GUARD, async { tokio::join!(calls, kill) })
        .await
        .expect("every copy ended");
    for (id, outcome) in outcomes {
        match outcome {
            Err(Error::WorkerExited(exit)) if id == victim_id => assert_eq!(exit.pid, victim),
            Ok(()) if id != victim_id => {}
            other => panic!("worker {id}: {other:?}"),
        }
    }
}
