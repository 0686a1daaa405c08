//! Supervision policies with real processes: the restart limit and poison-job quarantine.

use ipc2_test_support as support;

use std::time::Duration;

use ipc2::Error;
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, builder, eventually};

#[tokio::test]
async fn past_the_restart_limit_jobs_are_refused_until_a_worker_starts_cleanly() {
    let scratch = tempfile::tempdir().unwrap();
    let started = scratch.path().join("started");
    let workers = builder(1)
        .env("TEST_WORKER_MODE", "start-once")
        .env("TEST_WORKER_STARTED", &started)
        .restart_limit(0, Duration::from_secs(600))
        .finish()
        .await
        .unwrap();
    let crash = workers.send(TestJob::Exit(9)).await;
    assert!(matches!(crash, Err(Error::WorkerExited(_))), "{crash:?}");

    // One death is over a limit of zero: the set refuses jobs at once, saying why.
    let refused = tokio::time::timeout(HANG_GUARD, async {
        loop {
            match workers.send(TestJob::Add(1, 1)).await {
                Err(Error::RestartLimit { restarts, last, .. }) => return (restarts, last),
                other => assert!(
                    matches!(other, Err(Error::NoWorkers(_))),
                    "before the limit is noted a call may only wait and fail: {other:?}"
                ),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(refused.0, 1);
    assert_eq!(refused.1.code(), Some(9));

    // Let the next start succeed: the set heals by itself.
    std::fs::remove_file(&started).unwrap();
    let healed = eventually(HANG_GUARD, || !workers.workers().is_empty()).await;
    assert!(healed, "a worker started cleanly again");
    assert!(matches!(
        workers.send(TestJob::Add(2, 3)).await,
        Ok(TestReply::Sum { sum: 5, .. })
    ));
}

#[tokio::test]
async fn a_job_that_keeps_killing_workers_is_quarantined() {
    let workers = builder(2).quarantine_after(2).finish().await.unwrap();
    for _ in 0..2 {
        let crash = workers.send(TestJob::Exit(7)).await;
        assert!(matches!(crash, Err(Error::WorkerExited(_))), "{crash:?}");
    }
    assert!(eventually(HANG_GUARD, || workers.workers().len() == 2).await);
    let before = workers.workers();
    assert!(matches!(
        workers.send(TestJob::Exit(7)).await,
        Err(Error::Quarantined { crashes: 2 })
    ));
    assert_eq!(
        workers.workers(),
        before,
        "the quarantined job killed no one"
    );
    // Other jobs, even a similar one, still run.
    assert!(matches!(
        workers.send(TestJob::Add(1, 2)).await,
        Ok(TestReply::Sum { sum: 3, .. })
    ));
    assert!(matches!(
        workers.send(TestJob::Exit(8)).await,
        Err(Error::WorkerExited(_))
    ));
}

/// Sends the never-answering `Pause` job that writes `marker` from a task of its own, and
/// returns it once the job runs on a worker, with that worker's pid.
async fn running_pause(
    workers: &std::sync::Arc<support::TestSet>,
    marker: &std::path::Path,
) -> (tokio::task::JoinHandle<Result<TestReply, Error>>, u32) {
    let _ = std::fs::remove_file(marker);
    let job = TestJob::Pause {
        marker: marker.to_owned(),
        ms: u64::MAX,
    };
    let call = tokio::spawn({
        let workers = workers.clone();
        async move { workers.send(job).await }
    });
    (call, support::job_started(marker).await)
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 6): a job that twice shared a worker with a
// poison job was refused as if it were the poison. The calc worker runs 4 jobs at once here.
#[tokio::test]
async fn a_job_that_only_shared_a_worker_with_the_crash_is_not_quarantined() {
    use support::calc::CalcClient;
    let workers = std::sync::Arc::new(
        support::calc_builder(1)
            .env("CALC_WORKER_CONCURRENCY", "4")
            .max_in_flight_per_worker(4)
            .memory_limit(1 << 30)
            .quarantine_after(2)
            .finish()
            .await
            .unwrap(),
    );
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("innocent");
    let pause = |workers: &std::sync::Arc<support::calc::CalcWorkers>| {
        let _ = std::fs::remove_file(&marker);
        let workers = workers.clone();
        let marker = marker.to_string_lossy().into_owned();
        tokio::spawn(async move { workers.pause(marker, 3_600_000).await })
    };
    for _ in 0..2 {
        let innocent = pause(&workers);
        support::job_started(&marker).await;
        let poison = tokio::time::timeout(HANG_GUARD, workers.hog_memory()).await;
        assert!(
            matches!(poison, Ok(Err(Error::WorkerExited(_)))),
            "{poison:?}"
        );
        let innocent = tokio::time::timeout(HANG_GUARD, innocent).await.unwrap();
        assert!(matches!(innocent.unwrap(), Err(Error::WorkerExited(_))));
    }
    // Admitted and running again: it was never blamed.
    let _again = pause(&workers);
    support::job_started(&marker).await;
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 6): kills from outside were blamed on the job.
#[tokio::test]
async fn a_job_whose_worker_is_killed_from_outside_is_not_quarantined() {
    let workers = std::sync::Arc::new(builder(1).quarantine_after(2).finish().await.unwrap());
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("victim");
    for _ in 0..2 {
        let (call, pid) = running_pause(&workers, &marker).await;
        support::sigkill(pid);
        let outcome = tokio::time::timeout(HANG_GUARD, call).await.unwrap();
        assert!(matches!(outcome.unwrap(), Err(Error::WorkerExited(_))));
    }
    let (_again, pid) = running_pause(&workers, &marker).await;
    assert!(support::exists(pid), "admitted and running");
}
