//! The original README's host and worker as ONE program, with the raw `send`/`Job` API:
//! run by hand it is the host; started by the host it is a worker.
//!
//! ```text
//! cargo run --example raw
//! ```

use ipc2::WorkerSet;
use ipc2::worker::Job;
use serde::{Deserialize, Serialize};
use tokio::net::{UnixListener, UnixStream};

/// What the host asks of a worker.
#[derive(Debug, Serialize, Deserialize)]
enum HostMessage {
    Add(u32, u32),
    Sub(u32, u32),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if ipc2::worker::started_by_host() {
        let mut rx = ipc2::worker::connect::<UnixStream, HostMessage, u32>().await?;
        while let Some(job) = rx.recv().await {
            match job {
                Job::Bidirectional { data, tx } => {
                    let _ = tx.send(match data {
                        HostMessage::Add(a, b) => a + b,
                        HostMessage::Sub(a, b) => a.saturating_sub(b),
                    });
                }
                Job::Unidirectional { data } => eprintln!("worker: notified of {data:?}"),
            }
        }
        return Ok(());
    }

    let workers: WorkerSet<UnixListener, u32, HostMessage> = WorkerSet::builder()
        .worker_count(4)
        .worker_path(std::env::current_exe()?)
        .finish()
        .await?;
    let resp: u32 = workers.send(HostMessage::Add(6, 7)).await?;
    println!("Result -> {resp}");
    println!("10 - 4 -> {}", workers.send(HostMessage::Sub(10, 4)).await?);
    Ok(())
}
