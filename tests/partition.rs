//! Workers on other machines across a real network that breaks. Three network namespaces stand
//! in for three machines: the host's, where this test's host runs, and two more, each with two
//! worker processes that the test starts as their orchestrator would, joined to the host's by a
//! veth pair of their own. Then the link of one machine goes down mid-job: its calls fail within
//! the heartbeat timeout while the other machine serves on; when the link comes back, its
//! workers find their connections gone, exit, are started again by the orchestrator, and serve.
//!
//! Needs root (`ip netns add`, `setns`): `#[ignore = "needs root"]`, which CI runs, as root
//! (`cargo test --test partition -- --ignored`). Every namespace and link it creates is removed
//! afterwards, also when it fails. It prints how long detecting the partition and recovering
//! from it took.

use ipc2_test_support as support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipc2::host::{WorkerSetBuilder, WorkerState};
use ipc2::transport::TlsListener;
use ipc2::transport::env::ENV_CONNECT;
use ipc2::{Error, ExitCause, WorkerSet};
use support::HANG_GUARD;
use support::certs::{Credentials, Pki};
use support::jobs::{TestJob, TestReply};
use support::orchestrator::Launched;

type RemoteSet = WorkerSet<TlsListener, TestReply, TestJob>;

/// How often workers send a heartbeat, and how long the host waits for one.
const HEARTBEAT: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(2));
/// Workers per machine.
const PER_MACHINE: usize = 2;
/// How long each job of the partitioned round runs: past the heartbeat timeout, so the calls of
/// the cut-off machine fail while the others are still running.
const JOB_MS: u64 = 4_000;

/// The test's three namespaces and the veth pairs between them, removed on drop.
struct Network {
    prefix: String,
    created: Vec<String>,
}

impl Network {
    fn create() -> Self {
        let mut network = Self {
            prefix: format!("ipc2p{}", std::process::id()),
            created: Vec::new(),
        };
        for ns in [network.host(), network.machine(1), network.machine(2)] {
            ip(&["netns", "add", &ns]);
            network.created.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        let host = network.host();
        for i in 1..=2 {
            let machine = network.machine(i);
            let link = format!("vh{i}");
            ip(&[
                "-n", &host, "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns",
                &machine,
            ]);
            ip(&[
                "-n",
                &host,
                "addr",
                "add",
                &format!("10.99.{i}.1/24"),
                "dev",
                &link,
            ]);
            ip(&[
                "-n",
                &machine,
                "addr",
                "add",
                &format!("10.99.{i}.2/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &host, "link", "set", &link, "up"]);
            ip(&["-n", &machine, "link", "set", "eth0", "up"]);
        }
        network
    }

    fn host(&self) -> String {
        format!("{}-host", self.prefix)
    }

    fn machine(&self, i: usize) -> String {
        format!("{}-m{i}", self.prefix)
    }

    /// Takes the host's end of machine `i`'s link down or up.
    fn set_link(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.host(), "link", "set", &format!("vh{i}"), state]);
    }

    /// Moves the calling thread (and the threads it starts from now on) into the host's
    /// namespace: sockets it creates are the host machine's.
    fn enter_host(&self) {
        let path = format!("/var/run/netns/{}", self.host());
        let ns = std::fs::File::open(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns into the host's namespace (this test needs root)");
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it, and with them their peers.
        for ns in self.created.drain(..).rev() {
            let deleted = Command::new("ip").args(["netns", "del", &ns]).status();
            if !deleted.is_ok_and(|status| status.success()) {
                eprintln!("partition test: could not delete network namespace {ns}");
            }
        }
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2's `ip` runs (apt-get install iproute2)");
    assert!(
        output.status.success(),
        "ip {}: {} (this test needs root)",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The orchestrator of the two machines: it keeps [`PER_MACHINE`] workers running on each,
/// starting another whenever one exits, as a Kubernetes Deployment or systemd would.
struct Orchestrator {
    machines: Mutex<[Vec<Launched>; 2]>,
    namespaces: [String; 2],
    env: Vec<(&'static str, PathBuf)>,
    port: u16,
}

impl Orchestrator {
    /// Starts workers where fewer than [`PER_MACHINE`] run.
    fn keep_up(&self) {
        let mut machines = self.machines.lock().unwrap();
        for (i, workers) in machines.iter_mut().enumerate() {
            workers.retain_mut(|worker| worker.try_exited().is_none());
            while workers.len() < PER_MACHINE {
                workers.push(self.launch(i));
            }
        }
    }

    fn launch(&self, i: usize) -> Launched {
        let connect = format!("tls://10.99.{}.1:{}", i + 1, self.port);
        let env = self
            .env
            .iter()
            .cloned()
            .chain([(ENV_CONNECT, PathBuf::from(connect))]);
        let wrapper = ["ip", "netns", "exec", self.namespaces[i].as_str()];
        Launched::start(&wrapper, &support::helper("test_worker"), env)
    }

    fn pids(&self, i: usize) -> BTreeSet<u32> {
        self.machines.lock().unwrap()[i]
            .iter()
            .map(Launched::pid)
            .collect()
    }
}

/// The machine (1 or 2) a connected worker is on, told by its address.
fn machine_of(address: IpAddr) -> usize {
    match address.to_string().as_str() {
        "10.99.1.2" => 1,
        "10.99.2.2" => 2,
        other => panic!("a worker from an unknown address {other}"),
    }
}

/// How many of the set's slots are in `state`.
fn count(workers: &RemoteSet, state: WorkerState) -> usize {
    let stats = workers.stats();
    stats.workers.iter().filter(|w| w.state == state).count()
}

/// Runs `PER_MACHINE * 2` jobs of `ms` at once, one per worker; returns each one's outcome
/// with the pid that ran it and when it ended.
async fn one_job_each(
    workers: &RemoteSet,
    ms: u64,
    dir: &tempfile::TempDir,
    between: impl FnOnce(),
) -> Vec<(u32, Result<TestReply, Error>, Instant)> {
    let markers: Vec<_> = (0..PER_MACHINE * 2)
        .map(|i| dir.path().join(format!("job-{ms}-{i}")))
        .collect();
    let calls: Vec<_> = markers
        .iter()
        .map(|marker| {
            let workers = workers.clone();
            let marker = marker.clone();
            tokio::spawn(async move {
                let outcome = workers.send(TestJob::Pause { marker, ms }).await;
                (outcome, Instant::now())
            })
        })
        .collect();
    let mut pids = Vec::new();
    for marker in &markers {
        pids.push(support::job_started(marker).await);
    }
    between();
    let mut outcomes = Vec::new();
    for (pid, call) in pids.into_iter().zip(calls) {
        let (outcome, at) = tokio::time::timeout(HANG_GUARD, call)
            .await
            .expect("the call ended")
            .expect("the call's task");
        outcomes.push((pid, outcome, at));
    }
    outcomes
}

#[test]
#[ignore = "needs root"]
fn a_partitioned_machine_fails_only_its_calls_and_its_workers_come_back() {
    let network = Network::create();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                network.enter_host();
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(partition(&network));
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
}

async fn partition(network: &Network) {
    let pki = Pki::new("partition-ca");
    let host: Credentials = pki.issue_host("host", &["10.99.1.1", "10.99.2.1"]);
    let worker = pki.issue_worker("worker", &["worker"]);
    // Inside the host's namespace, which holds only the two links.
    let listener = TlsListener::bind("0.0.0.0:0", &host.config())
        .await
        .expect("the listener binds");
    let port = support::port_of(listener.address());
    let orchestrator = Arc::new(Orchestrator {
        machines: Mutex::new([Vec::new(), Vec::new()]),
        namespaces: [network.machine(1), network.machine(2)],
        env: worker.env().to_vec(),
        port,
    });
    let keeping = {
        let orchestrator = orchestrator.clone();
        tokio::spawn(async move {
            loop {
                orchestrator.keep_up();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let workers: RemoteSet = WorkerSetBuilder::new()
        .listen(listener, format!("tls://10.99.1.1:{port}"))
        .remote_workers(2 * PER_MACHINE, 2 * PER_MACHINE)
        .max_in_flight_per_worker(1)
        .heartbeat(HEARTBEAT.0, Some(HEARTBEAT.1))
        .startup_timeout(Duration::from_secs(20))
        .finish()
        .await
        .expect("both machines' workers joined");
    let mut per_machine = [0, 0];
    for info in workers.workers() {
        let remote = info
            .remote
            .as_ref()
            .expect("every worker is on another machine");
        let machine = machine_of(remote.address.ip());
        assert!(
            orchestrator.pids(machine - 1).contains(&info.pid),
            "{info:?}"
        );
        per_machine[machine - 1] += 1;
    }
    assert_eq!(per_machine, [PER_MACHINE, PER_MACHINE]);

    // Machine 1's link goes down while every worker runs a job.
    let dir = tempfile::tempdir().unwrap();
    let mut cut_at = Instant::now();
    let cut_off = orchestrator.pids(0);
    let outcomes = one_job_each(&workers, JOB_MS, &dir, || {
        network.set_link(1, false);
        cut_at = Instant::now();
    })
    .await;
    let mut detected = Vec::new();
    for (pid, outcome, at) in outcomes {
        match (cut_off.contains(&pid), outcome) {
            (true, Err(Error::WorkerExited(exit))) => {
                assert!(matches!(exit.cause, ExitCause::Unresponsive(_)), "{exit}");
                let remote = exit.remote.as_ref().expect("the report names the machine");
                assert_eq!(machine_of(remote.address.ip()), 1, "{exit}");
                detected.push(at - cut_at);
            }
            (false, Ok(TestReply::Done)) => {}
            (cut, other) => panic!("pid {pid} (cut off: {cut}): {other:?}"),
        }
    }
    assert_eq!(detected.len(), PER_MACHINE);
    // By the heartbeat timeout, not by TCP's own (30 s on a worker, minutes on the host); the
    // margin only absorbs a loaded machine.
    let bound = HEARTBEAT.1 + Duration::from_secs(5);
    assert!(detected.iter().all(|after| *after < bound), "{detected:?}");

    // Machine 2 serves on alone.
    assert!(
        support::eventually(HANG_GUARD, || count(&workers, WorkerState::Vacant)
            == PER_MACHINE)
        .await
    );
    let serving = orchestrator.pids(1);
    for i in 0..20 {
        match tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Add(i, i))).await {
            Ok(Ok(TestReply::Sum { sum, pid })) => {
                assert_eq!(sum, 2 * i);
                assert!(serving.contains(&pid), "served by {pid}, not on machine 2");
            }
            other => panic!("a call during the partition: {other:?}"),
        }
    }

    // The link comes back: machine 1's old workers find their connections gone and exit, the
    // orchestrator starts new ones, and they take the vacant slots.
    network.set_link(1, true);
    let healed_at = Instant::now();
    let recovered = support::eventually(HANG_GUARD * 2, || {
        count(&workers, WorkerState::Idle) == 2 * PER_MACHINE
    })
    .await;
    assert!(recovered, "{:?}", workers.stats());
    let recovery = healed_at.elapsed();
    let back = orchestrator.pids(0);
    assert!(back.is_disjoint(&cut_off), "the cut-off workers exited");
    let outcomes = one_job_each(&workers, 100, &dir, || {}).await;
    let ran: BTreeSet<u32> = outcomes.iter().map(|(pid, ..)| *pid).collect();
    assert!(
        back.is_subset(&ran),
        "machine 1's new workers serve: {ran:?}"
    );
    assert!(outcomes.iter().all(|(_, outcome, _)| outcome.is_ok()));

    eprintln!(
        "partition test: heartbeat every {:?}, timeout {:?}; the cut-off machine's calls failed {:?} after its link went down; all {} workers served again {recovery:?} after it came back",
        HEARTBEAT.0,
        HEARTBEAT.1,
        detected,
        2 * PER_MACHINE
    );
    keeping.abort();
    workers.shutdown().await;
}
