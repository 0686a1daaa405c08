//! Workers the host does not start: they dial it, as workers an orchestrator (Kubernetes,
//! systemd, Slurm) starts on other machines would.
//!
//! ```text
//! cargo run --example remote_calc
//! ```
//!
//! To run anywhere, this demo stays on loopback and plays every part itself: it is the host, the
//! orchestrator (it starts two copies of itself with `IPC2_CONNECT` and `IPC2_SECRET_FILE`, and
//! starts another when one exits), and, as those copies, the workers. It uses unencrypted TCP
//! with a shared secret, which needs no certificates; between machines, use TLS (the README's
//! "Workers on other machines").

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use ipc2::transport::env::{ENV_CONNECT, ENV_SECRET_FILE};
use ipc2::transport::{SharedSecret, UnencryptedTcpListener};
use ipc2::{Error, WorkerSetBuilder};

/// A calculator that runs in worker processes, wherever they are.
#[ipc2::service]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: u32, b: u32) -> u32;
    /// The worker's process id.
    async fn pid(&self) -> u32;
    /// Crashes the worker.
    async fn crash(&self);
}

/// The worker side: the implementation of the service.
struct MyCalc;

impl Calc for MyCalc {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }

    async fn pid(&self) -> u32 {
        std::process::id()
    }

    async fn crash(&self) {
        std::process::abort();
    }
}

/// How many workers the orchestrator keeps running.
const WORKERS: usize = 2;

/// The orchestrator's part: it keeps [`WORKERS`] copies of this program running, each told where
/// the host is and where the secret is. The host knows nothing of it.
struct Orchestrator<'a> {
    connect: &'a str,
    secret: &'a Path,
    running: Vec<Child>,
}

impl Orchestrator<'_> {
    /// Starts a worker in place of each one that has exited.
    fn keep_up(&mut self) -> std::io::Result<()> {
        self.running
            .retain_mut(|child| matches!(child.try_wait(), Ok(None)));
        while self.running.len() < WORKERS {
            let child = Command::new(std::env::current_exe()?)
                .env(ENV_CONNECT, self.connect)
                .env(ENV_SECRET_FILE, self.secret)
                .spawn()?;
            println!("orchestrator: started worker pid {}", child.id());
            self.running.push(child);
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if ipc2::worker::started_by_host() {
        return Ok(ipc2::worker::serve(CalcServer(MyCalc)).await?);
    }

    // In a deployment: `openssl rand -hex 32 > secret`, given to the host and every worker.
    let dir = tempfile::tempdir()?;
    let secret = dir.path().join("secret");
    std::fs::write(
        &secret,
        format!("demo-{:x}-{:?}", std::process::id(), dir.path()),
    )?;
    let listener =
        UnencryptedTcpListener::bind_unencrypted("127.0.0.1:0", SharedSecret::from_file(&secret)?)
            .await?;
    let connect = listener.address().to_owned();
    println!("host: listening on {connect}");

    let mut orchestrator = Orchestrator {
        connect: &connect,
        secret: &secret,
        running: Vec::new(),
    };
    orchestrator.keep_up()?;
    let workers: CalcWorkers<UnencryptedTcpListener> = WorkerSetBuilder::new()
        .listen(listener, connect.clone())
        .remote_workers(WORKERS, WORKERS)
        .finish()
        .await?;
    for worker in workers.workers() {
        let remote = worker.remote.expect("every worker dialed in");
        println!("host: worker {} is pid {} {remote}", worker.id, worker.pid);
    }
    println!("add(6, 7) -> {}", workers.add(6, 7).await?);

    // A worker dies: only its call fails, and the report says where it ran.
    match workers.crash().await {
        Err(Error::WorkerExited(exit)) => println!("crash() -> {exit}"),
        other => println!("crash() -> {other:?}"),
    }
    println!(
        "add(1, 2) -> {} (the other worker)",
        workers.add(1, 2).await?
    );

    // Its orchestrator, not the host, starts another, which dials in and takes the slot.
    while workers.workers().len() < WORKERS {
        orchestrator.keep_up()?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut pids: Vec<u32> = Vec::new();
    for _ in 0..WORKERS {
        pids.push(workers.on(pids.len()).pid().await?);
    }
    println!("host: {WORKERS} workers again, pids {pids:?}");

    // Shutdown closes every connection, and each worker exits by itself.
    workers.shutdown().await;
    for mut child in orchestrator.running {
        let status = child.wait()?;
        println!("orchestrator: worker pid {} exited: {status}", child.id());
    }
    Ok(())
}
