//! File-descriptor hygiene over many spawn/kill cycles. Alone in its own test binary, so that no
//! other test's descriptors come and go in this process while it counts.
//!
//! The workers are `rogue_worker`s in `honest` mode: plain programs with no runtime, whose only
//! descriptors are stdio and their connection. (A tokio worker also holds its signal driver's
//! own socketpair, which would hide a leaked socket among legitimate ones.)

use ipc2_test_support as support;

use std::collections::HashSet;

use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, TestSet, eventually};

/// Spawn/kill cycles are spread over this many slots...
const SLOTS: usize = 20;
/// ...killed this many times each: 100 cycles. A worker killed young counts as a failed start,
/// and each slot's back-off doubles from 10 ms per failed start; 5 rounds keep it under 200 ms,
/// where 100 kills of one slot would take minutes at the 5 s cap.
const ROUNDS: usize = 5;

/// `(fd, readlink target)` for every descriptor `pid` holds (`"self"` for this process).
fn fds(pid: &str) -> Vec<(u32, String)> {
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the process's fd table")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

// RELIABILITY.md row 36
#[tokio::test]
async fn host_fds_return_to_baseline_after_100_kill_cycles_and_workers_hold_one_socket() {
    let before_set: HashSet<String> = fds("self").into_iter().map(|(_, t)| t).collect();
    let workers: TestSet = TestSet::builder()
        .worker_count(SLOTS)
        .worker_path(support::helper("rogue_worker"))
        .env("ROGUE_MODE", "honest")
        .finish()
        .await
        .unwrap();
    for i in 0..2 * SLOTS as u32 {
        let reply = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(i, 1)))
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(reply, TestReply::Sum { sum, .. } if sum == i + 1));
    }
    let baseline = fds("self");

    for round in 0..ROUNDS {
        let victims = workers.workers();
        assert_eq!(victims.len(), SLOTS, "round {round}: {victims:?}");
        for victim in &victims {
            support::sigkill(victim.pid);
        }
        let replaced = eventually(HANG_GUARD, || {
            let now = workers.workers();
            now.len() == SLOTS
                && now
                    .iter()
                    .zip(&victims)
                    .all(|(new, old)| new.id == old.id && new.generation > old.generation)
        })
        .await;
        assert!(replaced, "round {round}: {:?}", workers.workers());
    }

    // Polled: a dead worker's pipe and socket are closed by tasks that finish just after its
    // replacement is up.
    let back_to_baseline = eventually(HANG_GUARD, || fds("self").len() == baseline.len()).await;
    let after = fds("self");
    assert!(
        back_to_baseline,
        "{} fds after {} kill cycles, {} before\nbefore: {baseline:?}\nafter: {after:?}",
        after.len(),
        SLOTS * ROUNDS,
        baseline.len()
    );

    // Objects the host opened for the set: the listener, its ends of the connections, the
    // read ends of the workers' stderr pipes.
    let opened_by_host: HashSet<String> = after
        .into_iter()
        .map(|(_, target)| target)
        .filter(|target| !before_set.contains(target))
        .collect();
    for worker in workers.workers() {
        let held = fds(&worker.pid.to_string());
        let sockets = held
            .iter()
            .filter(|(_, target)| target.starts_with("socket:"))
            .count();
        assert_eq!(
            sockets, 1,
            "worker {} holds more than its own connection: {held:?}",
            worker.pid
        );
        // fd 2 is the worker's own stderr pipe, whose read end the host holds.
        let leaked: Vec<_> = held
            .iter()
            .filter(|(fd, target)| *fd > 2 && opened_by_host.contains(target))
            .collect();
        assert!(
            leaked.is_empty(),
            "worker {} inherited the host's {leaked:?}",
            worker.pid
        );
    }
}
