//! Helpers shared by the integration tests: finding the helper programs, building sets of test
//! workers, and looking at processes through `/proc`.

#![allow(dead_code)]

pub mod calc;
pub mod jobs;
pub mod store;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ipc2::WorkerSet;
use ipc2::host::WorkerSetBuilder;
use jobs::{TestJob, TestReply};
use tokio::net::UnixListener;

/// Bounds waits that only guard against a hang; never a speed requirement.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

pub type TestSet = WorkerSet<UnixListener, TestReply, TestJob>;

/// A helper program built from `tests/helpers/` (declared as an example, so `cargo test` builds
/// it next to the tests).
pub fn helper(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in <target>/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test`, which builds it",
        path.display()
    );
    path
}

/// A builder for `count` test workers.
pub fn builder(count: usize) -> WorkerSetBuilder<UnixListener, TestReply, TestJob> {
    WorkerSet::builder()
        .worker_count(count)
        .worker_path(helper("test_worker"))
}

/// Starts `count` test workers.
pub async fn set(count: usize) -> TestSet {
    builder(count).finish().await.expect("test workers start")
}

/// Whether `pid` has exited: no such process, or a zombie.
pub fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Whether `/proc/<pid>` exists at all (a zombie counts as existing).
pub fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Polls `condition` every 10 ms until it holds; false if it still fails after `limit`.
pub async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

/// Kills `pid` with SIGKILL.
pub fn sigkill(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("valid pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill");
}

/// The pid of a worker, asked of the worker itself.
pub async fn pid_of_some_worker(set: &TestSet) -> u32 {
    match set.send(TestJob::Add(0, 0)).await.expect("add") {
        TestReply::Sum { pid, .. } => pid,
        other => panic!("unexpected reply {other:?}"),
    }
}

/// The address of the set's socket, asked of a worker.
pub async fn socket_address(set: &TestSet) -> String {
    match set.send(TestJob::Address).await.expect("address") {
        TestReply::Address(address) => address,
        other => panic!("unexpected reply {other:?}"),
    }
}

/// Reads `stream` until the host closes it; true if it did within [`HANG_GUARD`].
pub async fn closed_by_host(stream: &mut tokio::net::UnixStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut sink = [0u8; 64];
    let read = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(HANG_GUARD, read).await.is_ok()
}

/// A builder for `count` workers serving `calc::Calc` (the `calc_worker` helper).
pub fn calc_builder(
    count: usize,
) -> WorkerSetBuilder<UnixListener, calc::CalcResponse, calc::CalcRequest> {
    calc::CalcWorkers::builder()
        .worker_count(count)
        .worker_path(helper("calc_worker"))
}
