//! Chaos: jobs keep flowing while a killer SIGKILLs a random worker again and again. Every job
//! must end with its own correct reply or with a crash report for the worker it was on; none may
//! hang; and once the killer stops, the set is back at full strength.
//!
//! The CI run lasts a few seconds; the long soak is `#[ignore]`d:
//! `cargo build --release --examples && cargo test --release --test chaos -- --ignored --nocapture`.

use ipc2_test_support as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipc2::Error;
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, TestSet, builder, eventually};

#[derive(Debug, Default)]
struct Tally {
    answered: AtomicU64,
    crashed: AtomicU64,
}

struct Figures {
    last_victim: Option<u32>,
    jobs: u64,
    answered: u64,
    crashed: u64,
    kills: u64,
    elapsed: Duration,
}

/// Runs `callers` tasks sending `Add` jobs (at most `max_jobs` in all) while a killer SIGKILLs
/// a random worker every `kill_every`, for `duration` or until the jobs are done.
async fn chaos(
    workers: Arc<TestSet>,
    callers: usize,
    max_jobs: u64,
    kill_every: Duration,
    duration: Duration,
) -> Figures {
    let tally = Arc::new(Tally::default());
    let issued = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();

    let killer = {
        let workers = workers.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut kills = 0u64;
            let mut last_victim = None;
            let mut ticker = tokio::time::interval(kill_every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let alive = workers.workers();
                if alive.is_empty() {
                    continue;
                }
                let victim = &alive[(kills as usize * 7 + 3) % alive.len()];
                support::sigkill(victim.pid);
                last_victim = Some(victim.pid);
                kills += 1;
            }
            (kills, last_victim)
        })
    };

    let mut tasks = Vec::new();
    for caller in 0..callers as u32 {
        let workers = workers.clone();
        let tally = tally.clone();
        let issued = issued.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) && issued.fetch_add(1, Ordering::Relaxed) < max_jobs
            {
                n += 1;
                let call = workers.send(TestJob::Add(caller, n));
                match tokio::time::timeout(HANG_GUARD, call).await {
                    Err(_) => panic!("a job hung"),
                    Ok(Ok(TestReply::Sum { sum, .. })) => {
                        assert_eq!(sum, caller + n, "a caller got someone else's reply");
                        tally.answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(Error::WorkerExited(exit))) => {
                        assert_eq!(exit.signal(), Some(9), "{exit}");
                        tally.crashed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(other) => panic!("unexpected outcome {other:?}"),
                }
            }
        }));
    }
    let deadline = tokio::time::sleep(duration);
    tokio::pin!(deadline);
    let all_done = futures_util::future::join_all(tasks);
    tokio::pin!(all_done);
    let finished = tokio::select! {
        results = &mut all_done => Some(results),
        _ = &mut deadline => None,
    };
    stop.store(true, Ordering::Relaxed);
    let results = match finished {
        Some(results) => results,
        None => all_done.await,
    };
    for result in results {
        result.expect("a caller panicked");
    }
    let (kills, last_victim) = killer.await.unwrap();
    let answered = tally.answered.load(Ordering::Relaxed);
    let crashed = tally.crashed.load(Ordering::Relaxed);
    Figures {
        last_victim,
        jobs: answered + crashed,
        answered,
        crashed,
        kills,
        elapsed: start.elapsed(),
    }
}

async fn chaos_set(count: usize) -> Arc<TestSet> {
    Arc::new(
        builder(count)
            .restart_limit(usize::MAX, Duration::from_secs(1))
            .finish()
            .await
            .unwrap(),
    )
}

/// Waits until the last victim is gone and every slot runs a live worker again, then checks
/// that 1,000 jobs all get their own reply.
async fn back_to_full_strength(workers: &TestSet, count: usize, last_victim: Option<u32>) {
    let recovered = eventually(HANG_GUARD, || {
        let alive = workers.workers();
        alive.len() == count
            && alive
                .iter()
                .all(|w| Some(w.pid) != last_victim && !support::is_dead(w.pid))
    })
    .await;
    assert!(recovered, "the set did not return to {count} workers");
    for i in 0..1000 {
        match tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(i, 1))).await {
            Ok(Ok(TestReply::Sum { sum, .. })) => assert_eq!(sum, i + 1),
            other => panic!("after the chaos, job {i} ended with {other:?}"),
        }
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_survive_a_worker_killed_every_100ms_and_the_set_recovers() {
    let workers = chaos_set(4).await;
    let figures = chaos(
        workers.clone(),
        32,
        u64::MAX,
        Duration::from_millis(100),
        Duration::from_secs(8),
    )
    .await;
    println!(
        "chaos: {} jobs ({} answered, {} crash errors), {} kills in {:.1?}",
        figures.jobs, figures.answered, figures.crashed, figures.kills, figures.elapsed
    );
    assert!(figures.kills >= 10, "the killer ran");
    assert!(figures.answered > 0);
    back_to_full_strength(&workers, 4, figures.last_victim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the long soak: about a million jobs; run it by hand"]
async fn soak_one_million_jobs_with_a_kill_every_second() {
    let jobs: u64 = std::env::var("IPC2_SOAK_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let workers = chaos_set(4).await;
    let rss_start = rss_kib();
    let figures = chaos(
        workers.clone(),
        64,
        jobs,
        Duration::from_secs(1),
        Duration::from_secs(3600),
    )
    .await;
    back_to_full_strength(&workers, 4, figures.last_victim).await;
    println!(
        "soak: {} jobs ({} answered, {} crash errors, 0 hangs), {} kills in {:.1?}; host RSS {} KiB at start, {} KiB at end",
        figures.jobs,
        figures.answered,
        figures.crashed,
        figures.kills,
        figures.elapsed,
        rss_start,
        rss_kib()
    );
    assert_eq!(figures.jobs, jobs);
}
