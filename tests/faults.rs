//! Faults and bad input, with real processes: killed workers, workers that cannot start,
//! strangers on the socket, and hosts that die.

use ipc2_test_support as support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ipc2::{Error, ExitCause};
use ipc2_common::handshake::{Hello, PROTOCOL_VERSION, Token};
use ipc2_common::{ToHost, codec};
use support::codes::{EXIT_AT_START, STARTED_BEFORE};
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, add, builder, eventually, set};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[tokio::test]
async fn worker_killed_mid_job_fails_that_job_and_the_next_100_succeed() {
    let workers = Arc::new(set(2).await);
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pid");
    let victim = {
        let workers = workers.clone();
        let marker = marker.clone();
        tokio::spawn(async move {
            workers
                .send(TestJob::Pause {
                    marker,
                    ms: u64::MAX,
                })
                .await
        })
    };
    let pid = support::job_started(&marker).await;
    support::sigkill(pid);

    let result = tokio::time::timeout(HANG_GUARD, victim)
        .await
        .unwrap()
        .unwrap();
    match result {
        Err(Error::WorkerExited(exit)) => {
            assert_eq!(exit.pid, pid);
            assert_eq!(exit.signal(), Some(9));
            assert_eq!(exit.cause, ExitCause::Died);
            assert!(exit.to_string().contains("killed by signal 9"), "{exit}");
        }
        other => panic!("expected WorkerExited, got {other:?}"),
    }
    for i in 0..100 {
        assert_eq!(add(&workers, i, 1).await.0, i + 1);
    }
    let replaced = || {
        let now = workers.workers();
        now.len() == 2 && now.iter().all(|w| w.pid != pid)
    };
    assert!(
        eventually(HANG_GUARD, replaced).await,
        "worker {pid} was not replaced: {:?}",
        workers.workers()
    );
}

#[tokio::test]
async fn idle_worker_killed_is_replaced_without_any_caller_seeing_an_error() {
    let workers = set(1).await;
    let first = support::only_worker(&workers);
    support::sigkill(first.pid);
    // Replaced before any job is sent: the supervisor saw the death itself.
    let second = support::replacement(&workers, &first).await;
    for i in 0..10 {
        assert_eq!(add(&workers, i, i).await, (2 * i, second.pid));
    }
}

#[tokio::test]
async fn worker_exiting_mid_job_with_code_0_is_still_an_error_for_that_job() {
    let workers = set(1).await;
    match workers.send(TestJob::Exit(0)).await {
        Err(Error::WorkerExited(exit)) => assert_eq!(exit.code(), Some(0)),
        other => panic!("expected WorkerExited, got {other:?}"),
    }
    assert_eq!(add(&workers, 2, 2).await.0, 4);
}

// The message, which is what a user reads, gives the OS reason and the path as resolved against
// the current directory (once only `could not start worker binary ./target/debug/v1-worker`).
#[tokio::test]
async fn missing_worker_binary_is_a_spawn_error_naming_the_path_and_the_reason() {
    let result = support::TestSet::builder()
        .worker_count(2)
        .worker_path("./target/debug/v1-worker-that-does-not-exist")
        .finish()
        .await;
    match result {
        Err(err @ Error::Spawn { .. }) => {
            let resolved = std::env::current_dir()
                .unwrap()
                .join("target/debug/v1-worker-that-does-not-exist");
            let message = err.to_string();
            assert!(message.contains(resolved.to_str().unwrap()), "{message}");
            assert!(message.contains("No such file or directory"), "{message}");
            assert!(format!("{err:?}").contains("No such file"), "{err:?}");
        }
        other => panic!("expected a spawn error, got {other:?}"),
    }
}

// A worker binary run from a shell once printed `Error: Protocol(NotStartedByHost)`: the
// helpful sentence of its `Display` never reached the user.
#[test]
fn a_worker_run_by_hand_says_in_a_sentence_that_a_host_must_start_it() {
    let output = std::process::Command::new(support::helper("test_worker"))
        .env_remove("IPC2_ADDRESS")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "Error: this program was not started by an ipc2 host: run it through a WorkerSet"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn worker_exiting_at_start_reports_its_status_and_stderr() {
    let result = builder(2)
        .env("TEST_WORKER_MODE", "exit-at-start")
        .finish()
        .await;
    match result {
        Err(Error::WorkerExited(exit)) => {
            assert_eq!(exit.code(), Some(EXIT_AT_START));
            assert_eq!(exit.cause, ExitCause::ExitedBeforeConnecting);
            let message = exit.to_string();
            let code = format!("exited with code {EXIT_AT_START}");
            assert!(message.contains(&code), "{message}");
            assert!(
                message.contains("before connecting to the host")
                    && message.contains("ipc2::worker::serve"),
                "{message}"
            );
            assert!(
                message.contains("refusing to start (exit-at-start)"),
                "{message}"
            );
        }
        other => panic!("expected WorkerExited, got {other:?}"),
    }
}

#[tokio::test]
async fn sends_fail_fast_with_the_reason_while_no_worker_can_start() {
    let scratch = tempfile::tempdir().unwrap();
    let workers = builder(1)
        .env("TEST_WORKER_MODE", "start-once")
        .env("TEST_WORKER_STARTED", scratch.path().join("started"))
        .finish()
        .await
        .unwrap();
    // The worker dies mid-job; every restart now exits at start.
    let crash = workers.send(TestJob::Exit(1)).await;
    assert!(matches!(crash, Err(Error::WorkerExited(_))), "{crash:?}");
    let failing = eventually(HANG_GUARD, || workers.workers().is_empty()).await;
    assert!(failing);
    let result = tokio::time::timeout(HANG_GUARD, async {
        loop {
            match workers.send(TestJob::Add(1, 1)).await {
                Err(Error::NoWorkers(last)) => return last,
                // Until the first restart has failed, the call waits for it and then fails.
                other => assert!(matches!(other, Err(Error::NoWorkers(_))), "{other:?}"),
            }
        }
    })
    .await
    .unwrap();
    let why = result.to_string();
    let code = format!("exited with code {STARTED_BEFORE}");
    assert!(why.contains(&code), "{why}");
    assert!(why.contains("already started once"), "{why}");
}

#[tokio::test]
async fn worker_that_never_connects_times_out_and_is_killed() {
    let result = builder(1)
        .env("TEST_WORKER_MODE", "never-connect")
        .startup_timeout(Duration::from_millis(500))
        .finish()
        .await;
    match result {
        Err(err @ Error::StartTimeout { pid, .. }) => {
            assert!(!support::exists(pid), "pid {pid} left behind");
            let message = err.to_string();
            assert!(
                message.contains("did not connect to the host within 500ms")
                    && message.contains("ipc2::worker::serve or connect"),
                "{message}"
            );
        }
        other => panic!("expected StartTimeout, got {other:?}"),
    }
}

#[tokio::test]
async fn stranger_with_a_wrong_token_is_refused_and_the_set_keeps_serving() {
    let workers = set(2).await;
    let mut stranger = UnixStream::connect(support::socket_address(&workers).await)
        .await
        .unwrap();
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        token: Some(Token::random().unwrap()),
        worker_id: 0,
        pid: std::process::id(),
        host_name: String::new(),
        types: 0,
        describes_types: false,
    };
    let frame = codec::encode_frame(&ToHost::Hello, Some(&hello), 1024).unwrap();
    stranger.write_all(&frame).await.unwrap();
    assert!(support::closed_by_host(&mut stranger).await);
    for i in 0..10 {
        assert_eq!(add(&workers, i, 1).await.0, i + 1);
    }
    assert_eq!(workers.workers().len(), 2);
}

// Only a transport that authenticated its peer (TLS, a shared secret) may admit a worker
// without a token; on the Unix socket, anyone may connect.
#[tokio::test]
async fn stranger_without_a_token_is_refused_on_the_unix_socket() {
    // A set with a slot for a worker on another machine, on a Unix socket: the slot stays
    // vacant for a stranger.
    let dir = tempfile::tempdir().unwrap();
    let address = dir.path().join("socket");
    let listener = tokio::net::UnixListener::bind(&address).unwrap();
    let workers = builder(1)
        .listen(listener, address.to_str().unwrap())
        .remote_workers(0, 1)
        .finish()
        .await
        .expect("the local worker starts");
    let mut stranger = UnixStream::connect(&address).await.unwrap();
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        token: None,
        worker_id: 0,
        pid: std::process::id(),
        host_name: "elsewhere".into(),
        // The set's own types: only the missing token is wrong.
        types: ipc2::schema::Description::of::<TestJob, TestReply, TestReply>().fingerprint(),
        describes_types: false,
    };
    let frame = codec::encode_frame(&ToHost::Hello, Some(&hello), 1024).unwrap();
    stranger.write_all(&frame).await.unwrap();
    let mut sent = Vec::new();
    tokio::time::timeout(HANG_GUARD, stranger.read_to_end(&mut sent))
        .await
        .expect("the host closes the connection")
        .expect("the connection ends cleanly");
    assert!(sent.is_empty(), "the host welcomed a stranger");
    assert_eq!(add(&workers, 2, 2).await.0, 4);
    assert_eq!(workers.workers().len(), 1);
    assert_eq!(
        workers.stats().workers[1].state,
        ipc2::host::WorkerState::Vacant
    );
}

#[tokio::test]
async fn stranger_sending_garbage_is_refused_and_the_set_keeps_serving() {
    let workers = set(2).await;
    let before = workers.workers();
    let mut stranger = UnixStream::connect(support::socket_address(&workers).await)
        .await
        .unwrap();
    // A header claiming a 4 GiB frame, then junk: refused after the header, nothing allocated.
    let mut garbage = vec![0xff; 4];
    garbage.extend((0..4096u32).map(|i| (i * 7) as u8));
    let _ = stranger.write_all(&garbage).await;
    assert!(support::closed_by_host(&mut stranger).await);
    for i in 0..10 {
        assert_eq!(add(&workers, i, 1).await.0, i + 1);
    }
    assert_eq!(workers.workers(), before, "no worker was disturbed");
}

#[tokio::test]
async fn dropping_the_set_kills_and_reaps_every_worker() {
    let workers = set(3).await;
    let pids: Vec<u32> = workers.workers().iter().map(|w| w.pid).collect();
    assert_eq!(pids.len(), 3);
    drop(workers);
    for pid in pids {
        // Not even a zombie: drop returns only once each worker has been reaped.
        assert!(!support::exists(pid), "worker {pid} outlived the set");
    }
}

// The test process becomes the subreaper of the host's orphans, so the workers stay visible (as
// zombies once dead) until this test reaps them.
#[test]
fn host_killed_with_sigkill_leaves_no_worker_running() {
    host_killed_with_sigkill_leaves_no_worker_behind(false);
}

// RELIABILITY.md row 34 with the workers busy: a worker inside a long job does not read its
// socket, so the end of the connection alone would not end it; the parent-death signal it asked
// for as it connected does.
#[test]
fn host_killed_with_sigkill_while_its_workers_are_busy_leaves_no_worker_running() {
    host_killed_with_sigkill_leaves_no_worker_behind(true);
}

fn host_killed_with_sigkill_leaves_no_worker_behind(busy: bool) {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
    let markers = tempfile::tempdir().unwrap();
    let mut command = Command::new(support::helper("host_then_die"));
    command.arg(support::helper("test_worker")).arg("2");
    if busy {
        command.arg(markers.path());
    }
    let mut host = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(host.stdout.take().unwrap()).lines();
    let pids: Vec<u32> = (0..2)
        .map(|_| lines.next().unwrap().unwrap().trim().parse().unwrap())
        .collect();
    for &pid in &pids {
        assert!(!support::is_dead(pid));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    if busy {
        // Each worker writes its marker as it starts the endless job.
        let running = runtime.block_on(eventually(HANG_GUARD, || {
            (0..2).all(|id| markers.path().join(id.to_string()).exists())
        }));
        assert!(running, "the workers never started their jobs");
    }
    support::sigkill(host.id());
    host.wait().unwrap();
    let all_dead = runtime.block_on(eventually(Duration::from_secs(5), || {
        pids.iter().all(|&pid| support::is_dead(pid))
    }));
    for &pid in &pids {
        if !all_dead && !support::is_dead(pid) {
            // Leave no orphan behind when failing.
            support::sigkill(pid);
        }
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG);
        }
    }
    assert!(all_dead, "workers {pids:?} outlived their SIGKILLed host");
}

#[tokio::test]
async fn connect_without_a_host_is_an_error_that_says_so() {
    assert!(!ipc2::worker::started_by_host());
    let err = ipc2::worker::connect::<UnixStream, TestJob, TestReply>()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not started by an ipc2 host"),
        "{err}"
    );
}

// RELIABILITY.md row 37: Ctrl-C in a terminal signals the foreground process group. Workers sit
// in groups of their own, so the host alone gets SIGINT and can let the running job finish.
#[test]
fn ctrl_c_reaches_only_the_host_which_lets_the_running_job_finish() {
    use std::os::unix::process::CommandExt;
    let scratch = tempfile::tempdir().unwrap();
    let mut host = Command::new(support::helper("ctrl_c_host"))
        .arg(support::helper("test_worker"))
        .arg(scratch.path().join("marker"))
        .arg("500")
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(host.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "running");
    let group = rustix::process::Pid::from_raw(host.id() as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(host.wait().unwrap().success());
    assert_eq!(rest, ["job: Ok(Done)", "shut down"]);
}

/// A worker whose host accepts its connection but never welcomes it (a stopped host, a network
/// that drops packets) gives up at the host's startup timeout and says so, instead of waiting
/// forever.
#[tokio::test]
async fn a_worker_never_welcomed_gives_up_at_the_startup_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silent.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let invitation = ipc2_common::handshake::Invitation {
        address: path.to_str().expect("a UTF-8 path").to_owned(),
        token: Token::random().unwrap(),
        worker_id: 0,
        max_frame_len: 1 << 20,
        heartbeat: None,
        spin: Duration::ZERO,
        cpu_limit: None,
        types: 0,
        startup_timeout: Some(Duration::from_millis(300)),
    };
    let (_token_file, env) = invitation.to_env(dir.path()).unwrap();
    let worker = tokio::process::Command::new(support::helper("test_worker"))
        .envs(env)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Accepted, and never answered.
    let (_connection, _) = listener.accept().await.unwrap();
    let output = tokio::time::timeout(HANG_GUARD, worker.wait_with_output())
        .await
        .expect("the worker gave up instead of waiting for ever")
        .unwrap();
    assert!(!output.status.success(), "{:?}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("did not welcome this worker within 300ms, the host's startup timeout"),
        "{stderr}"
    );
}
