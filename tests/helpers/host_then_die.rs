//! A host for ipc2's orphan tests: starts `argv[2]` workers of the binary `argv[1]`, prints each
//! worker's pid on its own line, then waits to be killed. With a directory as `argv[3]`, it
//! first gives each worker a job that never ends (`TestJob::Pause`, whose marker file in that
//! directory says the worker is running it), so the workers are busy when the host dies.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipc2::WorkerSet;
use ipc2_test_support::jobs::{TestJob, TestReply};
use tokio::net::UnixListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let worker = args.next().ok_or("usage: host_then_die WORKER COUNT")?;
    let count = args
        .next()
        .ok_or("usage: host_then_die WORKER COUNT")?
        .parse()?;
    let busy_markers = args.next().map(PathBuf::from);
    let workers: WorkerSet<UnixListener, TestReply, TestJob> = WorkerSet::builder()
        .worker_count(count)
        .worker_path(worker)
        .finish()
        .await?;
    let workers = Arc::new(workers);
    if let Some(dir) = busy_markers {
        for info in workers.workers() {
            let workers = workers.clone();
            let marker = dir.join(info.id.to_string());
            tokio::spawn(async move {
                let job = TestJob::Pause {
                    marker,
                    ms: u64::MAX,
                };
                workers.send_to(info.id, job).await
            });
        }
    }
    let mut out = std::io::stdout().lock();
    for info in workers.workers() {
        writeln!(out, "{}", info.pid)?;
    }
    out.flush()?;
    drop(out);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}
