//! A worker without async code, on `ipc2::worker::blocking`: `Sleep` blocks its only thread of
//! its own, as CPU-bound work would; `Add` answers at once; `Emit(n)` sends the host `n` events of
//! the worker's own event type, `String`, then answers.

use std::time::Duration;

use ipc2::worker::Job;
use ipc2_test_support::jobs::{TestJob, TestReply};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut jobs = ipc2::worker::blocking::connect_with_events::<TestJob, TestReply, String>()?;
    let events = jobs.event_sender();
    while let Some(job) = jobs.recv() {
        let Job::Bidirectional { data, tx } = job else {
            continue;
        };
        match data {
            TestJob::Add(a, b) => tx.send(TestReply::Sum {
                sum: a + b,
                pid: std::process::id(),
            })?,
            TestJob::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                tx.send(TestReply::Done)?
            }
            TestJob::Emit(n) => {
                for i in 0..n {
                    events.send(format!("event {i}"))?;
                }
                tx.send(TestReply::Done)?
            }
            other => tx.fail(&format!("the blocking worker does not do {other:?}")),
        }
    }
    Ok(())
}
