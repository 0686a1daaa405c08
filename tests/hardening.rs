//! Hardening rows of RELIABILITY.md with real processes: bad worker binaries, strangers on the
//! socket, unusable socket paths, panics, other users, grandchildren, crash loops and shutdown
//! with work in flight.
//!
//! The tests that need root are `#[ignore = "needs root"]` and fail without it; they must be the
//! only ignored tests here, because `.ci/run` (as root) runs them with `-- --ignored`.

use ipc2_test_support as support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipc2::{Error, ExitCause};
use support::codes::{CRASH_LOOP, PROBE_CONNECTED, PROBE_PERMISSION_DENIED};
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, TestSet, add, builder, eventually, set, socket_address};
use tokio::net::UnixStream;

// RELIABILITY.md row 19
#[tokio::test]
async fn worker_binary_without_execute_permission_is_a_spawn_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-executable");
    // A valid script: only its mode keeps it from running.
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let result = TestSet::builder()
        .worker_count(2)
        .worker_path(&path)
        .finish()
        .await;
    match result {
        Err(err @ Error::Spawn { .. }) => {
            assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
            assert!(err.to_string().contains("Permission denied"), "{err}");
            assert!(err.to_string().contains("chmod +x"), "{err}");
            let Error::Spawn {
                path: reported,
                source,
            } = &err
            else {
                unreachable!()
            };
            assert_eq!(reported, &path);
            assert_eq!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied,
                "{source}"
            );
        }
        other => panic!("expected a spawn error, got {other:?}"),
    }
}

// RELIABILITY.md row 16
#[tokio::test]
async fn silent_client_on_the_socket_does_not_keep_a_replacement_worker_out() {
    let workers = set(1).await;
    let _silent = UnixStream::connect(socket_address(&workers).await)
        .await
        .unwrap();
    let victim = support::only_worker(&workers);
    support::sigkill(victim.pid);
    // The replacement has to handshake while the silent client holds its connection open.
    let replacement = support::replacement(&workers, &victim).await;
    for i in 0..10 {
        assert_eq!(add(&workers, i, 1).await, (i + 1, replacement.pid));
    }
}

// RELIABILITY.md row 16
#[tokio::test]
async fn silent_client_is_disconnected_after_the_startup_timeout() {
    let workers = builder(1)
        .startup_timeout(Duration::from_secs(1))
        .finish()
        .await
        .unwrap();
    let before = workers.workers();
    let mut silent = UnixStream::connect(socket_address(&workers).await)
        .await
        .unwrap();
    assert!(
        support::closed_by_host(&mut silent).await,
        "the host kept a connection that never said hello"
    );
    for i in 0..10 {
        assert_eq!(add(&workers, i, 1).await.0, i + 1);
    }
    assert_eq!(workers.workers(), before, "no worker was disturbed");
}

// RELIABILITY.md row 17
#[tokio::test]
async fn socket_path_over_107_bytes_is_a_clear_error_not_a_panic() {
    let base = tempfile::tempdir().unwrap();
    let name_len = 150 - base.path().as_os_str().len() - 1;
    let long_dir = base.path().join("d".repeat(name_len));
    assert_eq!(long_dir.as_os_str().len(), 150);
    std::fs::create_dir(&long_dir).unwrap();

    let host = tokio::process::Command::new(support::helper("host_then_die"))
        .arg(support::helper("test_worker"))
        .arg("1")
        .env("TMPDIR", &long_dir)
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(HANG_GUARD, host.wait_with_output())
        .await
        .expect("host_then_die kept running: it did not fail to bind")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // `main` returned the error (exit code 1); a panic would exit with 101.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("107"), "the limit is not named: {stderr}");
    assert!(
        stderr.contains(long_dir.to_str().unwrap()),
        "the path is not named: {stderr}"
    );
}

// RELIABILITY.md row 12
#[tokio::test]
async fn socket_directory_is_removed_when_a_panic_unwinds_through_the_set() {
    let workers = set(1).await;
    let address = socket_address(&workers).await;
    let dir = Path::new(&address).parent().unwrap().to_owned();
    assert!(dir.is_dir(), "{}", dir.display());
    let pid = workers.workers()[0].pid;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _owned = workers;
        panic!("a panic while the worker set is alive");
    }));
    assert!(unwound.is_err());
    assert!(!dir.exists(), "{} outlived the unwind", dir.display());
    assert!(!support::exists(pid), "worker {pid} outlived the unwind");
}

/// `path` if every user may run it, else a copy in a directory every user may enter (the
/// checkout may live under a private home directory). The `TempDir` holds the copy.
fn runnable_by_anyone(path: &Path) -> (PathBuf, Option<tempfile::TempDir>) {
    let open_to_others =
        |p: &Path| std::fs::metadata(p).is_ok_and(|meta| meta.permissions().mode() & 0o001 != 0);
    if path.ancestors().all(open_to_others) {
        return (path.to_owned(), None);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join(path.file_name().unwrap());
    std::fs::copy(path, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    (copy, Some(dir))
}

/// Fails the test unless it runs as root. For the tests marked `#[ignore = "needs root"]`,
/// which `.ci/run` runs as root with `cargo test --test hardening -- --ignored`.
fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (it switches to another uid); run it as root, as CI does"
    );
}

// RELIABILITY.md row 13
#[tokio::test]
#[ignore = "needs root"]
async fn process_of_another_uid_is_refused_with_eacces() {
    require_root();
    let workers = set(1).await;
    let address = socket_address(&workers).await;
    let (probe, _copy) = runnable_by_anyone(&support::helper("test_worker"));
    let run_probe = |uid: Option<u32>| {
        let mut command = tokio::process::Command::new(&probe);
        command
            .env("TEST_WORKER_MODE", "probe-connect")
            .env("TEST_WORKER_PROBE_ADDRESS", &address)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(uid) = uid {
            command.uid(uid).gid(uid);
        }
        async move {
            let status = tokio::time::timeout(HANG_GUARD, command.status())
                .await
                .expect("the probe finished")
                .expect("the probe started");
            status.code()
        }
    };
    // The same probe as this user connects, so a refusal below is the uid's doing.
    assert_eq!(run_probe(None).await, Some(PROBE_CONNECTED));
    assert_eq!(run_probe(Some(65534)).await, Some(PROBE_PERMISSION_DENIED));
    assert_eq!(add(&workers, 1, 2).await.0, 3);
}

async fn spawn_grandchild(workers: &TestSet) -> u32 {
    let TestReply::Pid(grandchild) = workers.send(TestJob::SpawnGrandchild).await.unwrap() else {
        panic!("no grandchild pid")
    };
    let worker = workers.workers()[0].pid;
    assert!(
        !support::is_dead(grandchild),
        "the grandchild is not running"
    );
    let group = support::group_and_session(grandchild).map(|(group, _)| group);
    assert_eq!(
        group,
        Some(worker),
        "the grandchild is in its worker's group"
    );
    grandchild
}

// RELIABILITY.md row 35
#[tokio::test]
async fn grandchild_of_a_worker_dies_when_the_set_is_dropped() {
    let workers = set(1).await;
    let grandchild = spawn_grandchild(&workers).await;
    drop(workers);
    // No longer our descendant once its parent is gone, so it is reaped elsewhere: poll.
    assert!(
        eventually(HANG_GUARD, || support::is_dead(grandchild)).await,
        "grandchild {grandchild} outlived the set"
    );
}

// RELIABILITY.md row 35
#[tokio::test]
async fn grandchild_of_a_worker_dies_when_the_set_shuts_down() {
    let workers = set(1).await;
    let grandchild = spawn_grandchild(&workers).await;
    tokio::time::timeout(HANG_GUARD, workers.shutdown())
        .await
        .expect("shutdown returned although a grandchild holds the worker's stderr");
    assert!(
        eventually(HANG_GUARD, || support::is_dead(grandchild)).await,
        "grandchild {grandchild} outlived the shutdown"
    );
}

/// Starts a grandchild of the only worker of `workers` that leaves the worker's process group
/// (`setsid`), and returns its pid, or `None` if the worker has no cgroup of its own here (see
/// `ipc2_host/src/process/cgroup.rs`): then nothing can find that grandchild once its worker is
/// gone. `.ci/run` sets `IPC2_REQUIRE_CGROUPS`, so CI never skips.
async fn spawn_detached(workers: &TestSet) -> Option<u32> {
    let TestReply::Pid(grandchild) = workers.send(TestJob::SpawnDetached).await.unwrap() else {
        panic!("no grandchild pid")
    };
    let worker = workers.workers()[0].pid;
    let session = || support::group_and_session(grandchild).map(|(_, session)| session);
    assert!(
        eventually(HANG_GUARD, || session() == Some(grandchild)).await,
        "grandchild {grandchild} never led a session of its own: {:?}",
        session()
    );
    let cgroup = std::fs::read_to_string(format!("/proc/{worker}/cgroup")).unwrap_or_default();
    if cgroup.contains("/ipc2-") {
        return Some(grandchild);
    }
    assert!(
        std::env::var_os("IPC2_REQUIRE_CGROUPS").is_none(),
        "IPC2_REQUIRE_CGROUPS is set, but worker {worker} has no cgroup of its own: {cgroup}"
    );
    eprintln!("skipped: the host cannot give its workers cgroups here ({cgroup})");
    support::sigkill(grandchild);
    None
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 9): killing the worker's process group missed
// a grandchild that had called setsid, which kept running and held two of the host's pipes.
#[tokio::test]
async fn grandchild_that_calls_setsid_dies_when_the_set_is_dropped() {
    let workers = set(1).await;
    let Some(grandchild) = spawn_detached(&workers).await else {
        return;
    };
    drop(workers);
    assert!(
        eventually(HANG_GUARD, || support::is_dead(grandchild)).await,
        "grandchild {grandchild} outlived the set"
    );
}

#[tokio::test]
async fn grandchild_that_calls_setsid_dies_with_its_worker_and_does_not_hold_up_the_report() {
    let workers = set(1).await;
    let Some(grandchild) = spawn_detached(&workers).await else {
        return;
    };
    let crashed = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Exit(3)))
        .await
        .expect("the crash was reported");
    assert!(
        matches!(&crashed, Err(Error::WorkerExited(exit)) if exit.code() == Some(3)),
        "{crashed:?}"
    );
    assert!(
        eventually(HANG_GUARD, || support::is_dead(grandchild)).await,
        "grandchild {grandchild} outlived its worker"
    );
    assert_eq!(add(&workers, 1, 2).await.0, 3);
}

fn lines_in(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
}

// RELIABILITY.md row 29
#[tokio::test]
async fn crash_loop_backs_off_instead_of_spinning_and_sends_fail_at_once() {
    let scratch = tempfile::tempdir().unwrap();
    let counter = scratch.path().join("starts");
    let workers = builder(1)
        .env("TEST_WORKER_MODE", "crash-loop")
        .env("TEST_WORKER_COUNTER", &counter)
        .finish()
        .await
        .unwrap();
    assert_eq!(lines_in(&counter), 1);
    // The worker dies mid-job; every restart now exits at start with `CRASH_LOOP`.
    let crash = workers.send(TestJob::Exit(1)).await;
    assert!(matches!(crash, Err(Error::WorkerExited(_))), "{crash:?}");

    // The one place a time window is the thing under test: how many starts 3 s of wall time
    // hold. Back-off doubling from 10 ms allows about 9; a busy loop would make hundreds.
    let window = Duration::from_secs(3);
    let max_starts = 15;
    let opened = Instant::now();
    let mut restarts = 0;
    while opened.elapsed() < window && restarts <= max_starts {
        tokio::time::sleep(Duration::from_millis(20)).await;
        restarts = lines_in(&counter) - 1;
    }
    assert!(
        restarts <= max_starts,
        "{restarts} starts within {:?}: no back-off",
        opened.elapsed()
    );

    let refused = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(1, 1)))
        .await
        .expect("send waited instead of failing");
    match refused {
        Err(Error::NoWorkers(_)) => {}
        Err(err)
            if err
                .to_string()
                .contains(&format!("exited with code {CRASH_LOOP}")) => {}
        other => panic!("expected a refusal that says why, got {other:?}"),
    }
}

// RELIABILITY.md row 33. A job still running when the grace runs out dies with its worker, and
// its caller gets what every caller whose worker dies gets (DESIGN.md, "Supervision"):
// `WorkerExited` with that worker's report, whose cause says shutdown stopped it. A bare
// `Shutdown` is for jobs that never reached a worker (sent or queued after `shutdown`).
#[tokio::test]
async fn shutdown_with_a_short_grace_ends_a_long_job_and_reaps_its_worker() {
    let workers = Arc::new(
        builder(1)
            .shutdown_grace(Duration::from_millis(100))
            .finish()
            .await
            .unwrap(),
    );
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("pid");
    let paused = {
        let workers = workers.clone();
        let marker = marker.clone();
        tokio::spawn(async move { workers.send(TestJob::Pause { marker, ms: 30_000 }).await })
    };
    let pid = support::job_started(&marker).await;

    tokio::time::timeout(HANG_GUARD, workers.shutdown())
        .await
        .expect("shutdown returned");
    let result = tokio::time::timeout(HANG_GUARD, paused)
        .await
        .expect("the paused call ended")
        .unwrap();
    match result {
        Err(Error::WorkerExited(exit)) => {
            assert_eq!(exit.pid, pid, "{exit}");
            assert_eq!(exit.cause, ExitCause::Shutdown, "{exit}");
        }
        other => panic!("expected the paused call to end with its worker's report, got {other:?}"),
    }
    assert!(!support::exists(pid), "worker {pid} survived shutdown");
    assert!(matches!(
        workers.send(TestJob::Add(1, 1)).await,
        Err(Error::Shutdown)
    ));
}

// RELIABILITY.md row 14: an impostor of the same UID that knows the token (here, handed to it)
// and connects before the real worker is refused by its peer credentials, and takes no slot.
#[tokio::test]
async fn impostor_with_the_right_token_is_refused_by_its_peer_credentials() {
    use ipc2_common::handshake::{Hello, PROTOCOL_VERSION, Token};
    use ipc2_common::{ToHost, codec};
    use tokio::io::AsyncWriteExt;

    let dir = tempfile::tempdir().unwrap();
    let starting = {
        let dir = dir.path().to_owned();
        tokio::spawn(async move {
            support::builder(1)
                .env("TEST_WORKER_MODE", "leak-invitation")
                .env("TEST_WORKER_DIR", &dir)
                .finish()
                .await
        })
    };
    let invitation = dir.path().join("invitation");
    assert!(support::eventually(HANG_GUARD, || invitation.exists()).await);
    let text = std::fs::read_to_string(&invitation).unwrap();
    let [address, token_hex, worker_id]: [&str; 3] =
        text.lines().collect::<Vec<_>>().try_into().unwrap();
    let token: Token = token_hex.parse().unwrap();
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        token: Some(token),
        worker_id: worker_id.parse().unwrap(),
        pid: std::process::id(),
        host_name: String::new(),
        types: 0,
        describes_types: false,
    };
    let mut impostor = UnixStream::connect(address).await.unwrap();
    let frame = codec::encode_frame(&ToHost::Hello, Some(&hello), 1024).unwrap();
    impostor.write_all(&frame).await.unwrap();
    assert!(
        support::closed_by_host(&mut impostor).await,
        "the impostor was refused"
    );

    std::fs::write(dir.path().join("go"), "").unwrap();
    let workers = starting
        .await
        .unwrap()
        .expect("the real worker still gets its slot");
    assert!(matches!(
        workers.send(TestJob::Add(1, 1)).await,
        Ok(TestReply::Sum { sum: 2, .. })
    ));
}

/// Starts a `host_then_die` with one test worker and `dir` as its temporary directory; returns
/// it and the first line it printed (its worker's pid, once the set is up).
fn host_in(dir: &Path) -> (std::process::Child, String) {
    let mut host = std::process::Command::new(support::helper("host_then_die"))
        .arg(support::helper("test_worker"))
        .arg("1")
        .env("TMPDIR", dir)
        .env_remove("XDG_RUNTIME_DIR")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(host.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (host, line)
}

// RELIABILITY.md row 18: leftovers of a host killed earlier (lookalike directories, a stale
// socket) do not disturb a new host, which makes its own fresh directory.
#[test]
fn stale_directories_and_sockets_from_a_killed_host_are_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["ipc2-AAAAAA", "ipc2-stale1"] {
        let stale = tmp.path().join(name);
        std::fs::create_dir(&stale).unwrap();
        drop(std::os::unix::net::UnixListener::bind(stale.join("ipc2.sock")).unwrap());
    }
    let (mut host, line) = host_in(tmp.path());
    let pid: u32 = line
        .trim()
        .parse()
        .expect("the host started and printed its worker's pid");
    host.kill().unwrap();
    host.wait().unwrap();
    let dirs = std::fs::read_dir(tmp.path()).unwrap().count();
    assert!(
        dirs >= 3,
        "the new host made a directory of its own beside the stale ones"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert!(runtime.block_on(support::eventually(HANG_GUARD, || support::is_dead(pid))));
}

// https://github.com/ipc2-rs/ipc2/issues/11: a host killed with SIGKILL left its directory behind,
// one per run. The next host removes those whose host is gone, and only those.
#[test]
fn a_new_host_removes_the_directories_of_hosts_that_are_gone_and_only_those() {
    use rustix::fs::{FlockOperation, flock};

    let tmp = tempfile::tempdir().unwrap();
    // A directory as a host leaves it: its socket, and its lock file (held while the host lives).
    let make = |name: &str, lock: bool| {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        drop(std::os::unix::net::UnixListener::bind(dir.join("ipc2.sock")).unwrap());
        if lock {
            std::fs::write(dir.join("lock"), "").unwrap();
        }
        dir
    };
    let stale = make("ipc2-4000001-stale1", true);
    // A live host, in this pid namespace or another: it holds its lock.
    let alive = make("ipc2-4000002-alive1", true);
    let held = std::fs::File::open(alive.join("lock")).unwrap();
    flock(&held, FlockOperation::NonBlockingLockExclusive).unwrap();
    // Not ipc2's to judge: no lock file, a name without a pid, or something of the user's in it.
    let unlocked = make("ipc2-4000003-nolock", false);
    let unnamed = make("ipc2-AAAAAA", true);
    let users = make("ipc2-2024-notes", true);
    std::fs::write(users.join("notes.txt"), "mine").unwrap();

    let (mut host, line) = host_in(tmp.path());
    assert!(
        line.trim().parse::<u32>().is_ok(),
        "the host started: {line:?}"
    );
    host.kill().unwrap();
    host.wait().unwrap();
    assert!(
        !stale.exists(),
        "the directory of a host that is gone was removed"
    );
    for kept in [&alive, &unlocked, &unnamed] {
        assert!(
            kept.join("ipc2.sock").exists(),
            "{} was emptied",
            kept.display()
        );
    }
    assert!(
        users.join("notes.txt").exists(),
        "the user's file was removed"
    );
    drop(held);
    // The killed host's own directory is stale now, and the next host removes it.
    let killed = format!("ipc2-{}-", host.id());
    let left = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&killed))
    };
    assert!(left(), "the killed host left its directory");
    let status = std::process::Command::new(support::helper("host_then_die"))
        .arg("/nonexistent/worker")
        .arg("1")
        .env("TMPDIR", tmp.path())
        .env_remove("XDG_RUNTIME_DIR")
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "that host fails to start its worker, after the sweep"
    );
    assert!(!left(), "the next host removed the killed host's directory");
}

// https://github.com/ipc2-rs/ipc2/issues/11: a handler ran `sh -c env` and saw IPC2_TOKEN; a
// process in the worker's group holding it could pass the peer checks.
#[tokio::test]
async fn a_process_the_worker_starts_cannot_obtain_the_token_or_join_as_a_worker() {
    let workers = set(1).await;
    let TestReply::Args(env) = workers.send(TestJob::Env).await.unwrap() else {
        panic!("no environment")
    };
    assert!(
        !env.iter().any(|line| line.starts_with("IPC2_TOKEN=")),
        "{env:?}"
    );
    let token_file = env
        .iter()
        .find_map(|line| line.strip_prefix("IPC2_TOKEN_FILE="))
        .expect("the environment names the token file");
    assert!(
        !Path::new(token_file).exists(),
        "the worker deleted its token file as it read it"
    );
    let TestReply::Args(child) = workers.send(TestJob::RunSelf).await.unwrap() else {
        panic!("no outcome")
    };
    assert_ne!(child[0], "0", "the child joined: {child:?}");
    assert!(
        child[1].contains("IPC2_TOKEN_FILE") && child[1].contains("cannot be read"),
        "{child:?}"
    );
    assert_eq!(workers.workers().len(), 1);
    assert_eq!(add(&workers, 1, 2).await.0, 3);
}

// https://github.com/ipc2-rs/ipc2/issues/16 (item 11): at the descriptor limit the workers
// started but `accept` failed with EMFILE; the host logged a warning every 50 ms and after 20 s
// reported `StartTimeout`, which was false. Whichever step runs out of descriptors first, the
// error must say so at once. How many descriptors each step needs varies, so the host is run with
// every small number of them free, and at least one of those runs must get as far as `accept`.
#[tokio::test]
async fn a_host_out_of_descriptors_reports_the_failed_accept_at_once_not_a_start_timeout() {
    let mut reached_accept = false;
    for free in 0..=16 {
        let output = tokio::time::timeout(
            HANG_GUARD,
            tokio::process::Command::new(support::helper("fd_limited_host"))
                .arg(support::helper("test_worker"))
                .arg(free.to_string())
                .arg("10")
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the host ended within the hang guard")
        .expect("the host ran");
        let line = String::from_utf8_lossy(&output.stdout);
        let line = line.trim();
        assert!(output.status.success(), "{free} free: {output:?}");
        if line == "ok" {
            continue;
        }
        assert!(
            line.contains("Too many open files"),
            "{free} free: the error must give the real cause: {line}"
        );
        assert!(
            !line.contains("did not connect within"),
            "{free} free: {line}"
        );
        if line.contains("failed to accept its connection") {
            assert!(line.contains("ulimit -n"), "it says what to do: {line}");
            reached_accept = true;
        }
    }
    assert!(reached_accept, "no run got as far as accepting a worker");
}
