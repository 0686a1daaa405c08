//! The worker program of ipc2's integration tests: each `TestJob` asks for one behaviour.
//!
//! `TEST_WORKER_MODE` changes how it starts: `exit-at-start` prints a message to stderr and exits
//! with code 3; `never-connect` sleeps without ever connecting; `start-once` starts normally the
//! first time (it creates the file named by `TEST_WORKER_STARTED`) and exits at start every later
//! time.

#[path = "../support/jobs.rs"]
mod jobs;

use std::time::Duration;

use ipc2::worker::Job;
use jobs::{TestJob, TestReply};
use tokio::net::UnixStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("TEST_WORKER_MODE").as_deref() {
        Ok("exit-at-start") => {
            eprintln!("test worker: refusing to start (exit-at-start)");
            std::process::exit(3);
        }
        Ok("start-once") => {
            let started = std::env::var("TEST_WORKER_STARTED")?;
            if std::fs::exists(&started)? {
                eprintln!("test worker: already started once (start-once)");
                std::process::exit(4);
            }
            std::fs::write(started, "")?;
        }
        Ok("never-connect") => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        _ => {}
    }
    let mut jobs = ipc2::worker::connect::<UnixStream, TestJob, TestReply>().await?;
    let mut notes = 0;
    while let Some(job) = jobs.recv().await {
        let (job, tx) = match job {
            Job::Bidirectional { data, tx } => (data, tx),
            Job::Unidirectional {
                data: TestJob::Note,
            } => {
                notes += 1;
                continue;
            }
            Job::Unidirectional { data } => panic!("unexpected one-way job {data:?}"),
        };
        let reply = match job {
            TestJob::Add(a, b) => TestReply::Sum {
                sum: a + b,
                pid: std::process::id(),
            },
            TestJob::Address => TestReply::Address(std::env::var("IPC2_ADDRESS")?),
            TestJob::Echo(bytes) => TestReply::Bytes(bytes),
            TestJob::Sleep(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                TestReply::Done
            }
            TestJob::Pause { marker, ms } => {
                std::fs::write(marker, std::process::id().to_string())?;
                tokio::time::sleep(Duration::from_millis(ms.min(3_600_000))).await;
                TestReply::Done
            }
            TestJob::DropReply => {
                drop(tx);
                continue;
            }
            TestJob::Exit(code) => std::process::exit(code),
            TestJob::Note => TestReply::Done,
            TestJob::Count => TestReply::Count(notes),
            TestJob::Args => TestReply::Args(std::env::args().skip(1).collect()),
        };
        tx.send(reply)?;
    }
    Ok(())
}
