//! What ipc2's integration tests (`tests/*.rs`) and their helper programs (`tests/helpers/*.rs`)
//! share: the test worker's jobs, the test services, the helpers' exit codes, finding the helper
//! programs, building sets of test workers, waiting for what they report, and looking at
//! processes through `/proc`.

pub mod calc;
pub mod calc_impl;
pub mod certs;
pub mod codes;
pub mod eval;
pub mod hostile;
pub mod jobs;
pub mod orchestrator;
pub mod store;
pub mod tools;
pub mod versions;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ipc2::WorkerSet;
use ipc2::host::{WorkerInfo, WorkerSetBuilder};
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

/// A builder for `count` workers serving `calc::Calc` (the `calc_worker` helper).
pub fn calc_builder(
    count: usize,
) -> WorkerSetBuilder<UnixListener, calc::CalcResponse, calc::CalcRequest, calc::Progress> {
    calc::CalcWorkers::builder()
        .worker_count(count)
        .worker_path(helper("calc_worker"))
}

/// `a + b` as computed by a worker of `workers`, and that worker's pid. Panics on any other
/// outcome, or if the call does not end within [`HANG_GUARD`].
pub async fn add(workers: &TestSet, a: u32, b: u32) -> (u32, u32) {
    match tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(a, b)))
        .await
        .expect("the call ended instead of hanging")
    {
        Ok(TestReply::Sum { sum, pid }) => (sum, pid),
        other => panic!("unexpected reply {other:?}"),
    }
}

/// The only worker of a one-worker set.
pub fn only_worker<R, W, E>(workers: &WorkerSet<UnixListener, R, W, E>) -> WorkerInfo {
    let all = workers.workers();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

/// Waits until the slot of `before` runs the next generation (its replacement has completed
/// its handshake), and returns that worker. Panics if it does not within [`HANG_GUARD`].
pub async fn replacement<S: ipc2::Server, R, W>(
    workers: &WorkerSet<S, R, W>,
    before: &WorkerInfo,
) -> WorkerInfo {
    let next = || {
        workers
            .workers()
            .into_iter()
            .find(|w| w.id == before.id && w.generation == before.generation + 1)
    };
    assert!(
        eventually(HANG_GUARD, || next().is_some()).await,
        "slot {} never ran generation {} (worker {} was not replaced): {:?}",
        before.id,
        before.generation + 1,
        before.pid,
        workers.workers()
    );
    next().expect("a slot never goes back a generation")
}

/// The worker `rogue` is dead, its slot runs the next generation, and that worker answers 10
/// calls.
pub async fn replaced_and_serving(workers: &TestSet, rogue: &WorkerInfo) {
    assert!(
        eventually(HANG_GUARD, || is_dead(rogue.pid)).await,
        "rogue worker {} is still alive",
        rogue.pid
    );
    let replacement = replacement(workers, rogue).await;
    assert_ne!(replacement.pid, rogue.pid);
    for i in 0..10 {
        assert_eq!(add(workers, i, 100).await, (i + 100, replacement.pid));
    }
}

/// Writes this process's pid to `marker` whole (to a file beside it, then renamed, so a reader
/// never sees it half-written): how a worker says it has started a job. See [`job_started`].
pub fn write_pid(marker: &Path) -> std::io::Result<()> {
    let mut partial = marker.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, std::process::id().to_string())?;
    std::fs::rename(&partial, marker)
}

/// Waits until a worker has started the job that writes its pid to `marker` (`TestJob::Pause`,
/// `Calc::pause`), and returns that pid. Panics if it does not within [`HANG_GUARD`].
pub async fn job_started(marker: &Path) -> u32 {
    let pid = || {
        std::fs::read_to_string(marker)
            .ok()
            .and_then(|text| text.parse::<u32>().ok())
    };
    assert!(
        eventually(HANG_GUARD, || pid().is_some()).await,
        "no worker started the job that writes {}",
        marker.display()
    );
    pid().expect("the marker, once written, stays")
}

/// Every item of `items`, each of which must be `Ok`, until the stream ends; each read bounded by
/// [`HANG_GUARD`].
pub async fn read_all<T: std::fmt::Debug>(items: &mut ipc2::host::ReplyStream<T>) -> Vec<T> {
    let mut seen = Vec::new();
    while let Some(item) = tokio::time::timeout(HANG_GUARD, items.next())
        .await
        .expect("the stream moves on")
    {
        seen.push(item.expect("every item arrives"));
    }
    seen
}

/// The next `n` events of `events`, each of which must decode; each read bounded by
/// [`HANG_GUARD`].
pub async fn next_events<E: serde::de::DeserializeOwned>(
    events: &mut ipc2::host::Events<E>,
    n: usize,
) -> Vec<E> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let event = tokio::time::timeout(HANG_GUARD, events.recv())
            .await
            .expect("the event arrives")
            .expect("the set is running")
            .expect("the event decodes");
        seen.push(event.event);
    }
    seen
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

/// The process group and session of `pid`, read from `/proc/<pid>/stat`; `None` if there is no
/// such process.
///
/// Either is zero when its leader is outside this pid namespace, as in some CI containers:
/// `getsid` and `getpgid` report it so too, which `rustix::process::Pid` cannot represent
/// (rustix panics).
pub fn group_and_session(pid: u32) -> Option<(u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    // After the command name: state, ppid, pgrp, session.
    let mut ids = fields.split_whitespace().skip(2).map(str::parse);
    Some((ids.next()?.ok()?, ids.next()?.ok()?))
}

/// Whether `/proc/<pid>` exists at all (a zombie counts as existing).
pub fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
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

/// The port of a listener's address (`tls://127.0.0.1:41234`, `127.0.0.1:41234`).
pub fn port_of(address: &str) -> u16 {
    address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{address} has no port"))
}

/// Kills `pid` with SIGKILL.
pub fn sigkill(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("valid pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill");
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
