//! A host short of file descriptors, for the accept-failure test: it opens `/dev/null` until
//! the descriptor limit (lowered to 128 first) is reached, closes `argv[2]` of them again, starts
//! `argv[3]` workers of the binary `argv[1]`, and prints how that went on one line: `ok`, or
//! `error: ` and the error with its causes. The startup timeout is 20 s, as by default.

use std::error::Error;
use std::time::{Duration, Instant};

use ipc2::WorkerSet;
use ipc2::host::Output;
use ipc2_test_support::jobs::{TestJob, TestReply};
use rustix::process::{Resource, Rlimit, setrlimit};
use tokio::net::UnixListener;

const USAGE: &str = "usage: fd_limited_host WORKER FREE_DESCRIPTORS WORKERS";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let worker = args.next().ok_or(USAGE)?;
    let free: usize = args.next().ok_or(USAGE)?.parse()?;
    let count: usize = args.next().ok_or(USAGE)?.parse()?;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(128),
            maximum: Some(128),
        },
    )?;
    let mut held = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        held.push(file);
    }
    held.truncate(held.len().saturating_sub(free));

    let began = Instant::now();
    let result: Result<WorkerSet<UnixListener, TestReply, TestJob>, _> = WorkerSet::builder()
        .worker_count(count)
        .worker_path(worker)
        .stdout(Output::Inherit)
        .stderr(Output::Inherit)
        .startup_timeout(Duration::from_secs(20))
        .finish()
        .await;
    match result {
        Ok(workers) => {
            println!("ok");
            workers.shutdown().await;
        }
        Err(err) => {
            let mut line = format!("error: {err}");
            let mut cause = err.source();
            while let Some(next) = cause {
                line.push_str(&format!(": {next}"));
                cause = next.source();
            }
            println!("{line} (after {:?})", began.elapsed());
        }
    }
    Ok(())
}
