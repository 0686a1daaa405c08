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
