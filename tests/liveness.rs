//! Liveness: requests the caller gave up on are cancelled on the worker, and heartbeats tell a
//! busy worker from a silent one.

use ipc2_test_support as support;

use std::time::Duration;

use ipc2::{Error, ExitCause, TimeoutAction, WorkerSet};
use support::calc::{CalcClient, CalcWorkers};
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, TestSet, eventually, helper};
use tokio::net::UnixListener;

async fn calc(count: usize) -> CalcWorkers {
    support::calc_builder(count).finish().await.unwrap()
}

#[tokio::test]
async fn a_timed_out_request_is_cancelled_so_the_worker_is_free_for_the_next_caller() {
    let workers = calc(1).await;
    let pid = workers.pid().await.unwrap();
    let late = workers
        .with_timeout(Duration::from_millis(100), TimeoutAction::Error)
        .sleep(600_000)
        .await;
    assert!(matches!(late, Err(Error::Timeout { .. })), "{late:?}");
    // Without the cancel, the worker would sleep for ten minutes before taking this call.
    let next = tokio::time::timeout(HANG_GUARD, workers.add(1, 2)).await;
    assert_eq!(next.unwrap().unwrap(), 3);
    assert_eq!(
        workers.pid().await.unwrap(),
        pid,
        "the worker was not restarted"
    );
}

// The call is dropped once the worker runs it (it has written the marker), not while it is
// still on its way.
#[tokio::test]
async fn a_dropped_call_is_cancelled_on_the_worker() {
    let workers = calc(1).await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pid");
    let ten_minutes = workers.pause(marker.to_str().unwrap().to_owned(), 600_000);
    let pid = tokio::select! {
        pid = support::job_started(&marker) => pid,
        _ = ten_minutes => panic!("a ten-minute pause answered"),
    };
    // Without the cancel, the worker would pause for ten minutes before taking this call.
    let next = tokio::time::timeout(HANG_GUARD, workers.add(2, 2)).await;
    assert_eq!(next.unwrap().unwrap(), 4);
    assert_eq!(workers.pid().await.unwrap(), pid, "not restarted");
}

// A worker busy with a job still sends a heartbeat every interval: sampled all through a job
// twenty intervals long, its silence stays under five intervals. Without heartbeats it would
// grow to the length of the job.
#[tokio::test]
async fn a_busy_worker_keeps_its_heartbeat() {
    const INTERVAL: Duration = Duration::from_millis(200);
    const JOB_MS: u64 = 20 * INTERVAL.as_millis() as u64;
    let workers: CalcWorkers = support::calc_builder(1)
        .heartbeat(INTERVAL, None)
        .finish()
        .await
        .unwrap();
    let job = workers.sleep(JOB_MS);
    tokio::pin!(job);
    let mut sample = tokio::time::interval(INTERVAL / 4);
    let mut silences = Vec::new();
    loop {
        tokio::select! {
            slept = &mut job => break slept.unwrap(),
            _ = sample.tick() => {
                let stats = workers.stats();
                silences.push(stats.workers[0].silent_for.expect("the worker is up"));
            }
        }
    }
    // The job lasts at least 80 sampling periods, however loaded the machine.
    assert!(
        silences.len() >= 10,
        "sampled only {} times",
        silences.len()
    );
    let loudest = silences.iter().max().unwrap();
    assert!(
        *loudest < 5 * INTERVAL,
        "silent for {loudest:?} while busy, with a heartbeat every {INTERVAL:?}; samples: {silences:?}"
    );
    assert_eq!(workers.stats().workers[0].restarts, 0);
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 7): silence was measured per whole frame, so a
// healthy worker whose reply took longer to arrive than the heartbeat timeout was killed as
// unresponsive. Here the reply takes about 640 ms, over twice the timeout, and a piece of it
// arrives every 10 ms.
#[tokio::test]
async fn a_reply_that_takes_longer_to_arrive_than_the_heartbeat_timeout_is_not_silence() {
    let scratch = tempfile::tempdir().unwrap();
    let workers: TestSet = TestSet::builder()
        .worker_count(1)
        .worker_path(support::helper("rogue_worker"))
        .env("ROGUE_MODE", "slow-reply")
        .env("ROGUE_ONCE", scratch.path().join("misbehaved"))
        .heartbeat(Duration::from_millis(100), Some(Duration::from_millis(300)))
        .finish()
        .await
        .unwrap();
    let outcome = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(1, 2))).await;
    match outcome.expect("the call ended instead of hanging") {
        Ok(TestReply::Bytes(bytes)) => assert_eq!(bytes.len(), 1 << 20),
        other => panic!("expected the slow reply, got {other:?}"),
    }
    assert_eq!(workers.stats().workers[0].restarts, 0);
}

// A worker stopped with SIGSTOP is as stuck as a worker can be: nothing it runs can answer.
#[tokio::test]
async fn a_worker_that_goes_silent_is_killed_as_unresponsive_and_replaced() {
    let workers: TestSet = support::builder(1)
        .heartbeat(Duration::from_millis(50), Some(Duration::from_millis(500)))
        .finish()
        .await
        .unwrap();
    let frozen = workers.workers()[0].clone();
    let outcome = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Freeze)).await;
    match outcome.unwrap() {
        Err(Error::WorkerExited(exit)) => {
            assert_eq!(exit.pid, frozen.pid);
            assert!(matches!(exit.cause, ExitCause::Unresponsive(_)), "{exit}");
            assert!(exit.to_string().contains("sent nothing for"), "{exit}");
        }
        other => panic!("expected the frozen worker to be killed, got {other:?}"),
    }
    assert!(matches!(
        workers.send(TestJob::Add(1, 1)).await,
        Ok(TestReply::Sum { sum: 2, .. })
    ));
    assert!(eventually(HANG_GUARD, || support::is_dead(frozen.pid)).await);
}

// The blocking API carries the connection on a thread of its own, so a handler that blocks
// the program's thread for longer than the heartbeat timeout is busy, not stuck.
#[tokio::test]
async fn a_blocking_worker_busy_past_the_heartbeat_timeout_is_not_taken_for_stuck() {
    let workers: WorkerSet<UnixListener, TestReply, TestJob, String> = WorkerSet::builder()
        .worker_count(1)
        .worker_path(helper("blocking_worker"))
        .heartbeat(Duration::from_millis(50), Some(Duration::from_millis(500)))
        .finish()
        .await
        .unwrap();
    let pid = workers.workers()[0].pid;
    let slept = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Sleep(1500))).await;
    assert_eq!(slept.unwrap().unwrap(), TestReply::Done);
    match workers.send(TestJob::Add(2, 2)).await.unwrap() {
        TestReply::Sum { sum: 4, pid: same } => assert_eq!(same, pid, "not restarted"),
        other => panic!("unexpected reply {other:?}"),
    }
}

// A synchronous service method is CPU work: it runs off the worker's I/O (`block_in_place`),
// so heartbeats keep coming while it spins and the worker is busy, not taken for stuck.
#[tokio::test]
async fn a_spinning_sync_handler_does_not_silence_the_heartbeat() {
    let workers: CalcWorkers = support::calc_builder(1)
        .heartbeat(Duration::from_millis(50), Some(Duration::from_secs(5)))
        .finish()
        .await
        .unwrap();
    let spun = workers
        .with_timeout(Duration::from_millis(6000), TimeoutAction::Error)
        .spin()
        .await;
    assert!(matches!(spun, Err(Error::Timeout { .. })), "{spun:?}");
    let stats = workers.stats();
    assert_eq!(stats.workers[0].restarts, 0, "not killed as unresponsive");
    assert!(stats.workers[0].silent_for.unwrap() < Duration::from_secs(5));
}
