//! Per-worker resource limits, applied before the worker runs: a worker that goes over one dies
//! with a report that says which, and is replaced.

use ipc2_test_support as support;

use std::time::Duration;

use ipc2::Error;
use support::HANG_GUARD;
use support::calc::{CalcClient, CalcWorkers};

#[tokio::test]
async fn a_worker_over_its_memory_limit_dies_with_a_report_and_is_replaced() {
    let workers: CalcWorkers = support::calc_builder(1)
        .memory_limit(1 << 30)
        .finish()
        .await
        .unwrap();
    let hogged = tokio::time::timeout(HANG_GUARD, workers.hog_memory()).await;
    match hogged.expect("the worker died instead of hogging memory for ever") {
        Err(Error::WorkerExited(exit)) => {
            assert_eq!(exit.signal(), Some(6), "{exit}");
            assert!(exit.stderr_tail.contains("memory allocation"), "{exit}");
            assert!(
                exit.to_string()
                    .contains("memory limit of 1073741824 bytes"),
                "the report names the limit: {exit}"
            );
        }
        other => panic!("expected the worker to die, got {other:?}"),
    }
    assert_eq!(workers.add(1, 2).await.unwrap(), 3);
}

#[tokio::test]
async fn a_worker_over_its_cpu_time_limit_dies_of_sigxcpu_and_is_replaced() {
    let workers: CalcWorkers = support::calc_builder(1)
        .cpu_time_limit(Duration::from_secs(1))
        .finish()
        .await
        .unwrap();
    let spun = tokio::time::timeout(HANG_GUARD, workers.spin()).await;
    match spun.expect("the worker died instead of spinning for ever") {
        Err(Error::WorkerExited(exit)) => {
            assert_eq!(exit.signal(), Some(24), "{exit}");
            assert!(exit.to_string().contains("SIGXCPU"), "{exit}");
        }
        other => panic!("expected the worker to die, got {other:?}"),
    }
    assert_eq!(workers.add(1, 2).await.unwrap(), 3);
}

// https://github.com/ipc2-rs/ipc2/issues/11: the limit was RLIMIT_CPU over the worker's whole life,
// so a 1 s limit killed the 18th of thirty 100 ms jobs. It is a limit per job now.
#[tokio::test]
async fn the_cpu_time_limit_is_per_job_so_many_short_jobs_pass_and_a_long_one_is_stopped() {
    let workers: CalcWorkers = support::calc_builder(1)
        .cpu_time_limit(Duration::from_secs(1))
        .finish()
        .await
        .unwrap();
    let worker = support::only_worker(&workers);
    for _ in 0..30 {
        let burnt = tokio::time::timeout(HANG_GUARD, workers.burn(100)).await;
        assert_eq!(burnt.expect("the job ended").unwrap(), 100);
    }
    assert_eq!(
        support::only_worker(&workers).pid,
        worker.pid,
        "3 s of CPU in all, one worker"
    );
    let long = tokio::time::timeout(HANG_GUARD, workers.burn(3000)).await;
    match long.expect("the job was stopped") {
        Err(Error::WorkerExited(exit)) => {
            assert_eq!(exit.signal(), Some(24), "{exit}");
            assert!(
                exit.to_string().contains("CPU time limit of 1s"),
                "the report names the limit: {exit}"
            );
        }
        other => panic!("expected the 3 s job to be stopped, got {other:?}"),
    }
    assert_eq!(workers.add(1, 2).await.unwrap(), 3);
}

#[tokio::test]
async fn workers_run_at_the_requested_nice_value() {
    let workers: CalcWorkers = support::calc_builder(1).nice(7).finish().await.unwrap();
    let pid = workers.pid().await.unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Field 19 is the nice value; fields after the parenthesised name start at 3.
    let after_name = stat.rsplit_once(')').unwrap().1;
    let nice: i32 = after_name
        .split_whitespace()
        .nth(16)
        .unwrap()
        .parse()
        .unwrap();
    let own = {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let after = stat.rsplit_once(')').unwrap().1.to_owned();
        after
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse::<i32>()
            .unwrap()
    };
    assert_eq!(nice, (own + 7).min(19));
}
