//! Streaming a script's output, line by line as it is printed, while another call runs on a
//! second worker.
//!
//! ```text
//! cargo run --example stream_lines
//! ```
//!
//! `run` returns an `ipc2::Stream<Line>`: the caller reads each line as soon as the worker
//! produces it, and the worker never gets more than the set's stream window ahead of its reader.
//! Dropping the stream early would cancel the script on its worker.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One line a script printed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Line {
    /// Its number, from 1.
    pub number: u32,
    /// What was printed.
    pub text: String,
}

/// Runs scripts in worker processes.
#[ipc2::service]
pub trait Scripts {
    /// Runs `script` (here: each `print <text>` line prints after 150 ms of work), yielding each
    /// line it prints.
    async fn run(&self, script: String) -> ipc2::Stream<Line>;
    /// Adds two numbers, at once.
    async fn add(&self, a: i64, b: i64) -> i64;
}

struct Runner;

impl Scripts for Runner {
    async fn run(&self, script: String) -> ipc2::Stream<Line> {
        let printed: Vec<String> = script
            .lines()
            .filter_map(|line| line.strip_prefix("print "))
            .map(str::to_owned)
            .collect();
        ipc2::Stream::new(futures_util::stream::unfold(
            printed.into_iter().zip(1..),
            |mut lines| async move {
                let (text, number) = lines.next()?;
                tokio::time::sleep(Duration::from_millis(150)).await;
                Some((Line { number, text }, lines))
            },
        ))
    }

    async fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if ipc2::worker::started_by_host() {
        return Ok(ipc2::worker::serve(ScriptsServer(Runner)).await?);
    }
    let workers = ScriptsWorkers::builder()
        .worker_count(2)
        .worker_path(std::env::current_exe()?)
        .finish()
        .await?;
    let started = Instant::now();
    let script = "print compiling\nprint linking\nprint testing\nprint done".to_owned();

    let mut lines = workers.run(script).await?;
    println!("streaming from worker {}", lines.worker());
    // The stream holds its worker; this call runs on the other one meanwhile.
    let sum = async { (workers.add(6, 7).await, started.elapsed()) };
    let read = async {
        while let Some(line) = lines.next().await {
            let line = line?;
            println!(
                "{:>6.0?} line {}: {}",
                started.elapsed(),
                line.number,
                line.text
            );
        }
        Ok::<_, ipc2::Error>(())
    };
    let (read, (sum, answered)) = tokio::join!(read, sum);
    read?;
    println!(
        "6 + 7 = {}, answered by the other worker after {answered:.0?}",
        sum?
    );
    workers.shutdown().await;
    Ok(())
}
