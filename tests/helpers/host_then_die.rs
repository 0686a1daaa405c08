//! A host for ipc2's orphan test: starts `argv[2]` workers of the binary `argv[1]`, prints each
//! worker's pid on its own line, then waits to be killed.

#[path = "../support/jobs.rs"]
mod jobs;

use std::io::Write;
use std::time::Duration;

use ipc2::WorkerSet;
use jobs::{TestJob, TestReply};
use tokio::net::UnixListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let worker = args.next().ok_or("usage: host_then_die WORKER COUNT")?;
    let count = args
        .next()
        .ok_or("usage: host_then_die WORKER COUNT")?
        .parse()?;
    let workers: WorkerSet<UnixListener, TestReply, TestJob> = WorkerSet::builder()
        .worker_count(count)
        .worker_path(worker)
        .finish()
        .await?;
    let mut out = std::io::stdout().lock();
    for info in workers.workers() {
        writeln!(out, "{}", info.pid)?;
    }
    out.flush()?;
    drop(out);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}
