//! Workers on other machines: the test plays the orchestrator, starting real worker processes
//! with `IPC2_CONNECT` and TLS credentials, which dial a host listening on loopback. The host
//! starts none of them and cannot signal them; what it promises is checked here: `finish` waits
//! for the minimum, a dead or silent worker fails only its own calls and its slot waits for the
//! next one, a worker with other types never takes a slot, and every way the host ends a
//! worker (a runaway job, shutdown) makes the process exit by itself.

use ipc2_test_support as support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use ipc2::host::{WorkerSetBuilder, WorkerState};
use ipc2::transport::TlsListener;
use ipc2::transport::env::ENV_CONNECT;
use ipc2::{Error, ExitCause, TimeoutAction, WorkerSet};
use support::HANG_GUARD;
use support::certs::{Credentials, Pki};
use support::jobs::{TestJob, TestReply};
use support::orchestrator::Launched;

type RemoteSet = WorkerSet<TlsListener, TestReply, TestJob>;

/// Long enough for a worker on a loaded machine to dial in.
const STARTUP: Duration = Duration::from_secs(20);

/// A host's listener on loopback, and what an orchestrator gives the workers it starts.
struct Deployment {
    pki: Pki,
    /// The worker's certificate, key and CA.
    worker: Credentials,
    /// `tls://localhost:{port}`.
    connect: String,
    listener: Option<TlsListener>,
}

impl Deployment {
    async fn new() -> Self {
        let pki = Pki::new("test-ca");
        let host = pki.issue_host("host", &["localhost"]);
        let worker = pki.issue_worker("worker", &["worker-1"]);
        let listener = TlsListener::bind("127.0.0.1:0", &host.config())
            .await
            .expect("the listener binds");
        let port = support::port_of(listener.address());
        Self {
            pki,
            worker,
            connect: format!("tls://localhost:{port}"),
            listener: Some(listener),
        }
    }

    /// A builder for a set that takes `min` to `max` workers on other machines.
    fn builder(
        &mut self,
        min: usize,
        max: usize,
    ) -> WorkerSetBuilder<TlsListener, TestReply, TestJob> {
        let listener = self.listener.take().expect("one set per deployment");
        WorkerSetBuilder::new()
            .listen(listener, self.connect.clone())
            .remote_workers(min, max)
            .max_in_flight_per_worker(1)
            .startup_timeout(STARTUP)
    }

    /// A set with one slot for a worker on another machine and no worker yet.
    async fn set_without_workers(&mut self) -> RemoteSet {
        finish(self.builder(0, 1))
            .await
            .expect("a set that requires no worker starts at once")
    }

    /// Starts `program` (a helper) as the orchestrator would on another machine.
    fn launch(&self, program: &str) -> Launched {
        self.launch_with(program, [])
    }

    /// [`launch`](Self::launch), with `env` besides.
    fn launch_with<const N: usize>(
        &self,
        program: &str,
        env: [(&'static str, PathBuf); N],
    ) -> Launched {
        let connect = [(ENV_CONNECT, PathBuf::from(&self.connect))];
        Launched::start(
            &[],
            &support::helper(program),
            self.worker.env().into_iter().chain(connect).chain(env),
        )
    }
}

async fn send(workers: &RemoteSet, job: TestJob) -> Result<TestReply, Error> {
    tokio::time::timeout(HANG_GUARD, workers.send(job))
        .await
        .expect("the call ended instead of hanging")
}

async fn finish(
    builder: WorkerSetBuilder<TlsListener, TestReply, TestJob>,
) -> Result<RemoteSet, Error> {
    tokio::time::timeout(HANG_GUARD, builder.finish())
        .await
        .expect("the start ended instead of hanging")
}

/// The process ids of the set's running workers.
fn pids(workers: &RemoteSet) -> BTreeSet<u32> {
    workers.workers().iter().map(|worker| worker.pid).collect()
}

/// The states of the set's slots, in slot order.
fn states(workers: &RemoteSet) -> Vec<WorkerState> {
    workers.stats().workers.iter().map(|w| w.state).collect()
}

/// How many of the set's slots are in `state`: which slot a worker on another machine takes
/// depends on which was free first.
fn count(workers: &RemoteSet, state: WorkerState) -> usize {
    states(workers).into_iter().filter(|s| *s == state).count()
}

/// Calls with a `Pause` of `ms` each, `count` at once; returns them running, with the pids of
/// the workers that run them (with one job per worker, one each).
async fn pauses(
    workers: &RemoteSet,
    count: usize,
    ms: u64,
) -> (
    Vec<tokio::task::JoinHandle<Result<TestReply, Error>>>,
    BTreeSet<u32>,
) {
    let dir = tempfile::tempdir().unwrap();
    let markers: Vec<PathBuf> = (0..count)
        .map(|i| dir.path().join(format!("pause-{i}")))
        .collect();
    let calls = markers
        .iter()
        .map(|marker| {
            let (workers, marker) = (workers.clone(), marker.clone());
            tokio::spawn(async move { workers.send(TestJob::Pause { marker, ms }).await })
        })
        .collect();
    let mut running = BTreeSet::new();
    for marker in &markers {
        running.insert(support::job_started(marker).await);
    }
    (calls, running)
}

fn this_machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("the host name")
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_workers_join_serve_and_a_killed_one_fails_only_its_own_call() {
    let mut deployment = Deployment::new().await;
    let starting = tokio::spawn(finish(deployment.builder(2, 3)));
    let first = [
        deployment.launch("test_worker"),
        deployment.launch("test_worker"),
    ];
    let workers = starting.await.unwrap().expect("two workers joined");
    let launched: BTreeSet<u32> = first.iter().map(Launched::pid).collect();
    assert_eq!(pids(&workers), launched);
    assert_eq!(count(&workers, WorkerState::Idle), 2);
    assert_eq!(count(&workers, WorkerState::Vacant), 1);
    for worker in workers.workers() {
        let remote = worker.remote.expect("the worker is on another machine");
        assert!(remote.address.ip().is_loopback(), "{remote}");
        assert_eq!(remote.host_name, this_machine());
    }
    for i in 0..20 {
        assert!(matches!(
            send(&workers, TestJob::Add(i, 1)).await,
            Ok(TestReply::Sum { sum, .. }) if sum == i + 1
        ));
    }
    match send(&workers, TestJob::Address).await {
        Ok(TestReply::Address(address)) => assert_eq!(address, deployment.connect),
        other => panic!("unexpected reply {other:?}"),
    }

    // A third joins later and is used as it arrives.
    let third = deployment.launch("test_worker");
    assert!(support::eventually(HANG_GUARD, || pids(&workers).len() == 3).await);
    assert!(pids(&workers).contains(&third.pid()));
    let (pauses, running) = pauses(&workers, 3, 4_000).await;
    assert_eq!(running, pids(&workers), "each worker runs one of the jobs");

    // The orchestrator's machine loses one: only the call it ran fails, naming its machine.
    let victim = first[1].pid();
    support::sigkill(victim);
    let mut outcomes = Vec::new();
    for pause in pauses {
        outcomes.push(
            tokio::time::timeout(HANG_GUARD, pause)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let (lost, done): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_err);
    assert_eq!(done.len(), 2, "{done:?}");
    match &lost[..] {
        [Err(Error::WorkerExited(exit))] => {
            assert_eq!(exit.pid, victim);
            assert_eq!(exit.cause, ExitCause::Died);
            assert!(exit.status.is_none(), "no exit status crosses machines");
            assert!(exit.remote.is_some(), "{exit}");
            let message = exit.to_string();
            assert!(message.contains("lost its connection"), "{message}");
            assert!(message.contains(&this_machine()), "{message}");
        }
        other => panic!("expected one WorkerExited, got {other:?}"),
    }
    assert!(
        support::eventually(HANG_GUARD, || states(&workers)
            .contains(&WorkerState::Vacant))
        .await,
        "the lost worker's slot waits for another: {:?}",
        states(&workers)
    );
    let slot = workers
        .stats()
        .workers
        .into_iter()
        .find(|w| w.state == WorkerState::Vacant)
        .expect("a vacant slot");
    assert_eq!(slot.restarts, 1);
    assert_eq!(slot.jobs_failed, 1);

    // The orchestrator starts another, which takes the vacant slot.
    let successor = deployment.launch("test_worker");
    assert!(support::eventually(HANG_GUARD, || pids(&workers).contains(&successor.pid())).await);
    assert_eq!(pids(&workers).len(), 3);
    assert_eq!(workers.stats().workers[slot.id].generation, Some(2));

    // What a host does to its own processes it cannot do to these.
    assert!(matches!(workers.resize(4).await, Err(Error::Config(_))));
    workers
        .restart()
        .await
        .expect("a restart skips remote workers");
    assert!(pids(&workers).contains(&successor.pid()));
}

#[tokio::test]
async fn the_start_fails_naming_the_address_when_too_few_workers_join() {
    let mut deployment = Deployment::new().await;
    let builder = deployment
        .builder(2, 2)
        .startup_timeout(Duration::from_secs(5));
    let starting = tokio::spawn(finish(builder));
    let _only = deployment.launch("test_worker");
    match starting.await.unwrap() {
        Err(
            err @ Error::RemoteWorkersMissing {
                connected, wanted, ..
            },
        ) => {
            // On a loaded machine even the one may not have made it in time.
            assert!(connected <= 1 && wanted == 2, "{err}");
            let message = err.to_string();
            assert!(message.contains("of the 2"), "{message}");
            assert!(
                message.contains(&format!("IPC2_CONNECT={}", deployment.connect)),
                "{message}"
            );
        }
        Err(other) => panic!("expected RemoteWorkersMissing, got {other}"),
        Ok(_) => panic!("the set started with one of two workers"),
    }
}

#[tokio::test]
async fn a_worker_started_before_its_host_keeps_dialing_until_the_host_listens() {
    let mut deployment = Deployment::new().await;
    // Take the listener's port away: the worker's first attempts are refused.
    let listener = deployment.listener.take().unwrap();
    let port = support::port_of(listener.address());
    drop(listener);
    let mut early = deployment.launch("test_worker");
    let pki_host = deployment.pki.issue_host("host-again", &["localhost"]);
    assert!(
        early.exited(Duration::from_millis(500)).await.is_none(),
        "the worker gave up on an absent host: {}",
        early.stderr()
    );
    deployment.listener = Some(
        TlsListener::bind(&format!("127.0.0.1:{port}"), &pki_host.config())
            .await
            .expect("the port is free again"),
    );
    let workers = finish(deployment.builder(1, 1))
        .await
        .expect("the early worker joined");
    assert_eq!(pids(&workers), BTreeSet::from([early.pid()]));
    assert!(matches!(
        send(&workers, TestJob::Add(2, 3)).await,
        Ok(TestReply::Sum { sum: 5, .. })
    ));
}

#[tokio::test]
async fn a_worker_built_with_other_types_is_refused_and_its_slot_waits_for_a_good_one() {
    let mut deployment = Deployment::new().await;
    let starting = tokio::spawn(finish(deployment.builder(1, 2)));
    let _good = deployment.launch("test_worker");
    let workers = starting.await.unwrap().expect("a worker joined");

    let mut stranger = deployment.launch("calc_worker");
    let status = stranger
        .exited(HANG_GUARD)
        .await
        .expect("the refused worker exits");
    assert!(!status.success(), "{status}");
    let why = stranger.stderr();
    // Told by the host, as its orchestrator's log is all its operator sees.
    assert!(
        why.contains("did not accept this worker: its types are not the host's")
            && why.contains("the host sends TestJob, the worker expects CalcRequest"),
        "{why}"
    );
    assert_eq!(count(&workers, WorkerState::Idle), 1);
    assert_eq!(count(&workers, WorkerState::Vacant), 1);

    let good = deployment.launch("test_worker");
    assert!(support::eventually(HANG_GUARD, || pids(&workers).contains(&good.pid())).await);
    assert_eq!(count(&workers, WorkerState::Idle), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_remote_worker_fails_its_call_and_exits_once_it_runs_again() {
    let mut deployment = Deployment::new().await;
    let builder = deployment
        .builder(1, 1)
        .heartbeat(Duration::from_millis(200), Some(Duration::from_secs(2)));
    let starting = tokio::spawn(finish(builder));
    let mut frozen = deployment.launch("test_worker");
    let workers = starting.await.unwrap().expect("the worker joined");

    // It stops itself with SIGSTOP, as a machine cut off by the network falls silent.
    match send(&workers, TestJob::Freeze).await {
        Err(Error::WorkerExited(exit)) => {
            assert!(matches!(exit.cause, ExitCause::Unresponsive(_)), "{exit}");
            assert!(exit.to_string().contains("was disconnected"), "{exit}");
        }
        other => panic!("expected WorkerExited, got {other:?}"),
    }
    assert!(support::eventually(HANG_GUARD, || states(&workers) == [WorkerState::Vacant]).await);
    assert!(frozen.try_exited().is_none());
    let pid = rustix::process::Pid::from_raw(frozen.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    let status = frozen
        .exited(HANG_GUARD)
        .await
        .expect("once it runs, it finds the host gone and exits");
    assert!(status.success(), "{status}: {}", frozen.stderr());
}

#[tokio::test]
async fn a_runaway_job_disconnects_its_remote_worker_which_exits() {
    let mut deployment = Deployment::new().await;
    let starting = tokio::spawn(finish(deployment.builder(1, 1)));
    // The job blocks the worker's only runtime thread: its connection's reader cannot run.
    let mut runaway = deployment.launch_with(
        "test_worker",
        [("TEST_WORKER_RUNTIME", PathBuf::from("current-thread"))],
    );
    let workers = starting.await.unwrap().expect("the worker joined");
    let timed_out = workers
        .send_timeout(
            TestJob::Block(600_000),
            Duration::from_millis(300),
            TimeoutAction::Restart,
        )
        .await;
    assert!(
        matches!(timed_out, Err(Error::Timeout { .. })),
        "{timed_out:?}"
    );
    let status = runaway
        .exited(HANG_GUARD)
        .await
        .expect("the disconnected worker exits with its job still running");
    assert!(status.success(), "{status}");
    assert!(support::eventually(HANG_GUARD, || states(&workers) == [WorkerState::Vacant]).await);
}

#[tokio::test]
async fn shutdown_makes_every_remote_worker_exit() {
    let mut deployment = Deployment::new().await;
    let starting = tokio::spawn(finish(deployment.builder(2, 2)));
    let mut launched = [
        deployment.launch("test_worker"),
        deployment.launch("test_worker"),
    ];
    let workers = starting.await.unwrap().expect("the workers joined");
    tokio::time::timeout(HANG_GUARD, workers.shutdown())
        .await
        .expect("shutdown ends");
    for worker in &mut launched {
        let status = worker.exited(HANG_GUARD).await.expect("the worker exits");
        assert!(status.success(), "{status}");
    }
    assert_eq!(
        states(&workers),
        [WorkerState::Stopped, WorkerState::Stopped]
    );
}

#[tokio::test]
async fn local_and_remote_workers_serve_side_by_side_and_a_full_set_refuses_more() {
    let mut deployment = Deployment::new().await;
    let builder = deployment
        .builder(1, 1)
        .worker_count(1)
        .worker_path(support::helper("test_worker"));
    let builder = deployment
        .worker
        .env()
        .into_iter()
        .fold(builder, |builder, (name, value)| builder.env(name, value));
    let starting = tokio::spawn(finish(builder));
    let remote = deployment.launch("test_worker");
    let workers = starting.await.unwrap().expect("both workers started");
    let infos = workers.workers();
    assert_eq!(infos.len(), 2);
    assert!(infos[0].remote.is_none(), "slot 0 is the host's own worker");
    assert_eq!(
        infos[1].remote.as_ref().map(|_| infos[1].pid),
        Some(remote.pid())
    );
    let (pauses, running) = pauses(&workers, 2, 200).await;
    assert_eq!(running, pids(&workers), "both kinds of worker run jobs");
    for pause in pauses {
        assert!(matches!(pause.await.unwrap(), Ok(TestReply::Done)));
    }

    let mut extra = deployment.launch("test_worker");
    let status = extra
        .exited(HANG_GUARD)
        .await
        .expect("a worker with no slot to take is refused and exits");
    assert!(!status.success(), "{status}");
    let why = extra.stderr();
    assert!(
        why.contains("all 1 slots for workers on other machines are taken"),
        "{why}"
    );
    assert_eq!(pids(&workers), BTreeSet::from([infos[0].pid, remote.pid()]));
}

#[tokio::test]
async fn a_worker_given_its_host_and_credentials_in_code_joins() {
    let mut deployment = Deployment::new().await;
    let starting = tokio::spawn(finish(deployment.builder(1, 1)));
    let credentials = &deployment.worker;
    let env = [
        ("TEST_WORKER_MODE", PathBuf::from("dial-in-code")),
        ("TEST_WORKER_DIAL", PathBuf::from(&deployment.connect)),
        ("TEST_WORKER_CERT", credentials.cert.clone()),
        ("TEST_WORKER_KEY", credentials.key.clone()),
        ("TEST_WORKER_CA", credentials.ca.clone()),
    ];
    // No IPC2_CONNECT and no IPC2_TLS_* in its environment.
    let worker = Launched::start(&[], &support::helper("test_worker"), env);
    let workers = starting.await.unwrap().expect("the worker joined");
    assert_eq!(pids(&workers), BTreeSet::from([worker.pid()]));
    assert!(matches!(
        send(&workers, TestJob::Add(20, 22)).await,
        Ok(TestReply::Sum { sum: 42, .. })
    ));
}

#[tokio::test]
async fn calls_fail_at_once_once_no_remote_worker_has_come_for_the_startup_timeout() {
    let mut deployment = Deployment::new().await;
    let workers = finish(
        deployment
            .builder(0, 1)
            .startup_timeout(Duration::from_secs(1)),
    )
    .await
    .expect("a set that requires no worker starts at once");
    // The call waits for a worker, then fails when the slot has waited the startup timeout.
    match send(&workers, TestJob::Add(1, 1)).await {
        Err(Error::NoWorkers(why)) => {
            assert!(matches!(*why, Error::NoRemoteWorker { .. }), "{why}");
            assert!(why.to_string().contains(&deployment.connect), "{why}");
        }
        other => panic!("expected NoWorkers, got {other:?}"),
    }
    assert!(matches!(
        send(&workers, TestJob::Add(1, 1)).await,
        Err(Error::NoWorkers(_))
    ));
    assert_eq!(count(&workers, WorkerState::Failing), 1);

    let late = deployment.launch("test_worker");
    assert!(support::eventually(HANG_GUARD, || pids(&workers).contains(&late.pid())).await);
    assert!(matches!(
        send(&workers, TestJob::Add(1, 1)).await,
        Ok(TestReply::Sum { sum: 2, .. })
    ));
}

#[tokio::test]
async fn a_remote_worker_over_unencrypted_tcp_with_the_secret_joins() {
    use ipc2::transport::env::ENV_SECRET_FILE;
    use ipc2::transport::{SharedSecret, UnencryptedTcpListener};
    let secret = "a shared secret of more than thirty-two bytes";
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, secret).unwrap();
    let listener = UnencryptedTcpListener::bind_unencrypted(
        "127.0.0.1:0",
        SharedSecret::new(secret).expect("a long enough secret"),
    )
    .await
    .expect("the listener binds");
    let connect = listener.address().to_owned();
    let starting = tokio::spawn(
        WorkerSetBuilder::<_, TestReply, TestJob>::new()
            .listen(listener, connect.clone())
            .remote_workers(1, 1)
            .startup_timeout(STARTUP)
            .finish(),
    );
    let env = [
        (ENV_CONNECT, PathBuf::from(&connect)),
        (ENV_SECRET_FILE, secret_file),
    ];
    let worker = Launched::start(&[], &support::helper("test_worker"), env);
    let workers = tokio::time::timeout(HANG_GUARD, starting)
        .await
        .expect("the start ended")
        .unwrap()
        .expect("the worker joined");
    let infos = workers.workers();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].pid, worker.pid());
    assert!(infos[0].remote.is_some());
    assert!(matches!(
        tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(3, 4))).await,
        Ok(Ok(TestReply::Sum { sum: 7, .. }))
    ));
}

#[tokio::test]
async fn a_set_that_takes_no_remote_workers_refuses_one_and_says_so() {
    let mut deployment = Deployment::new().await;
    let listener = deployment.listener.take().unwrap();
    let builder = WorkerSetBuilder::<_, TestReply, TestJob>::new()
        .listen(listener, deployment.connect.clone())
        .worker_count(1)
        .worker_path(support::helper("test_worker"))
        .startup_timeout(STARTUP);
    let builder = deployment
        .worker
        .env()
        .into_iter()
        .fold(builder, |builder, (name, value)| builder.env(name, value));
    let workers = finish(builder).await.expect("its own worker starts");
    let mut stranger = deployment.launch("test_worker");
    let status = stranger
        .exited(HANG_GUARD)
        .await
        .expect("the refused worker exits");
    assert!(!status.success(), "{status}");
    let why = stranger.stderr();
    assert!(
        why.contains("this set takes no workers from other machines"),
        "{why}"
    );
    assert_eq!(workers.workers().len(), 1);
}

// The name a worker reports goes into the host's logs and errors.
#[tokio::test]
async fn a_worker_whose_host_name_holds_control_characters_is_refused_and_told_why() {
    use ipc2::transport::TlsClient;
    use ipc2_common::handshake::{Hello, MAX_WELCOME_LEN, PROTOCOL_VERSION};
    use ipc2_common::{FrameCodec, ToHost, ToWorker, codec};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::codec::Decoder;

    let mut deployment = Deployment::new().await;
    let workers = deployment.set_without_workers().await;
    let mut forger = TlsClient::connect_with(&deployment.connect, &deployment.worker.config())
        .await
        .expect("the forger's certificate is good");
    let types = ipc2::schema::Description::of::<TestJob, TestReply, TestReply>();
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        token: None,
        worker_id: 0,
        pid: 1,
        host_name: "node-7\u{1b}[2J".into(),
        types: types.fingerprint(),
        describes_types: true,
    };
    let mut frames = codec::encode_frame(&ToHost::Hello, Some(&hello), 1 << 20).unwrap();
    frames.extend(codec::encode_frame(&ToHost::Types, Some(&types), 1 << 20).unwrap());
    forger.write_all(&frames).await.unwrap();
    let mut answer = bytes::BytesMut::new();
    let read = async { while forger.read_buf(&mut answer).await.unwrap_or(0) > 0 {} };
    tokio::time::timeout(HANG_GUARD, read)
        .await
        .expect("the host answers and closes");
    let payload = FrameCodec::new(MAX_WELCOME_LEN)
        .decode(&mut answer)
        .expect("a well-formed frame")
        .expect("a whole frame");
    let (header, body) = codec::decode_header::<ToWorker>(&payload).unwrap();
    assert_eq!(header, ToWorker::Refused);
    let reason: String = codec::decode_body(body).unwrap();
    assert!(reason.contains("control characters"), "{reason}");
    assert_eq!(count(&workers, WorkerState::Vacant), 1);
}

// Each connection holds a descriptor until its hello (or the startup timeout): anyone who can
// reach the port could otherwise use up the host's.
#[tokio::test]
async fn connections_that_never_say_hello_are_bounded_and_the_next_is_closed_at_once() {
    let mut deployment = Deployment::new().await;
    let workers = deployment.set_without_workers().await;
    let address = deployment.connect.replace("tls://localhost", "127.0.0.1");
    // The documented bound: 64, plus one per slot.
    let mut silent = Vec::new();
    for _ in 0..64 + 1 {
        silent.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    let mut one_too_many = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Those let in are closed only once their time for a hello is up; the one past the bound
    // at once, so before the first of them, which was accepted before it.
    let (mut sink, mut other_sink) = ([0u8; 16], [0u8; 16]);
    let first_closed = tokio::time::timeout(HANG_GUARD, async {
        use tokio::io::AsyncReadExt;
        tokio::select! {
            _ = one_too_many.read(&mut sink) => "the connection past the bound",
            _ = silent[0].read(&mut other_sink) => "the first connection let in",
        }
    })
    .await
    .expect("a connection is closed");
    assert_eq!(first_closed, "the connection past the bound");
    drop(silent);
    let worker = deployment.launch("test_worker");
    assert!(support::eventually(HANG_GUARD, || pids(&workers).contains(&worker.pid())).await);
}

// The README's demo of workers the host does not start, run as a user would.
#[tokio::test]
async fn the_remote_calc_example_runs_its_story_to_the_end() {
    let run = tokio::process::Command::new(support::helper("remote_calc"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(HANG_GUARD, run)
        .await
        .expect("the example ended")
        .expect("the example ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "add(6, 7) -> 13",
        ") lost its connection after",
        "add(1, 2) -> 3",
        "host: 2 workers again",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert_eq!(
        stdout.matches("exited: exit status: 0").count(),
        2,
        "{stdout}"
    );
}
