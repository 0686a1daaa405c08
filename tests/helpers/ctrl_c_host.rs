//! A host for ipc2's Ctrl-C test: starts one worker (`argv[1]`), runs a job that pauses for
//! `argv[3]` ms after writing its pid to the marker file `argv[2]`, prints `running` once the
//! job is under way, and on SIGINT lets the job finish, prints its outcome and shuts down.

use std::path::PathBuf;
use std::time::Duration;

use ipc2::WorkerSet;
use ipc2_test_support::jobs::{TestJob, TestReply};
use tokio::net::UnixListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: ctrl_c_host WORKER MARKER MS";
    let worker = args.next().ok_or(usage)?;
    let marker = PathBuf::from(args.next().ok_or(usage)?);
    let ms = args.next().ok_or(usage)?.parse()?;
    let workers: WorkerSet<UnixListener, TestReply, TestJob> = WorkerSet::builder()
        .worker_count(1)
        .worker_path(worker)
        .finish()
        .await?;
    let job = workers.send(TestJob::Pause {
        marker: marker.clone(),
        ms,
    });
    tokio::pin!(job);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut announced = false;
    let mut poll = tokio::time::interval(Duration::from_millis(10));
    loop {
        tokio::select! {
            outcome = &mut job => {
                println!("job ended before Ctrl-C: {outcome:?}");
                return Ok(());
            }
            _ = &mut ctrl_c => break,
            _ = poll.tick(), if !announced => {
                if marker.exists() {
                    println!("running");
                    announced = true;
                }
            }
        }
    }
    println!("job: {:?}", job.await);
    workers.shutdown().await;
    println!("shut down");
    Ok(())
}
