//! ipc2's demo: a typed service served by a pool of worker processes.
//!
//! ```text
//! cargo run --example calc
//! ```
//!
//! The same binary is the host (when you run it) and the workers (when the host starts it), so
//! there is nothing else to build or point at.

use std::time::{Duration, Instant};

use ipc2::TimeoutAction;
use serde::{Deserialize, Serialize};

/// A calculator that runs in worker processes.
#[ipc2::service]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: u32, b: u32) -> u32;
    /// Divides `a` by `b`, refusing a zero divisor.
    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero>;
    /// Takes `ms` milliseconds to answer.
    async fn slow(&self, ms: u64) -> u64;
    /// Crashes the worker, as a buggy native library might.
    async fn crash(&self);
}

/// The service's own error: a division by zero.
#[derive(Debug, Serialize, Deserialize)]
pub struct DivByZero;

/// The worker side: the implementation of the service.
struct MyCalc;

impl Calc for MyCalc {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }

    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero> {
        a.checked_div(b).ok_or(DivByZero)
    }

    async fn slow(&self, ms: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }

    async fn crash(&self) {
        std::process::abort();
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if ipc2::worker::started_by_host() {
        return Ok(ipc2::worker::serve(CalcServer(MyCalc)).await?);
    }

    let started = Instant::now();
    let workers: CalcWorkers = CalcWorkers::builder()
        .worker_count(2)
        .worker_path(std::env::current_exe()?)
        .finish()
        .await?;
    println!("2 workers ready in {:?}", started.elapsed());

    println!("add(6, 7)  -> {}", workers.add(6, 7).await?);
    match workers.div(1, 0).await? {
        Ok(q) => println!("div(1, 0)  -> {q}"),
        Err(DivByZero) => println!("div(1, 0)  -> the service refused: division by zero"),
    }

    let late = workers
        .with_timeout(Duration::from_millis(100), TimeoutAction::Restart)
        .slow(10_000)
        .await;
    println!("slow(10 s) with a 100 ms deadline -> {}", late.unwrap_err());

    let before: Vec<u32> = workers.workers().iter().map(|w| w.pid).collect();
    println!("crash()    -> {}", workers.crash().await.unwrap_err());
    println!(
        "add(1, 2)  -> {} (the set replaced the crashed worker)",
        workers.add(1, 2).await?
    );
    // The replacement may still be starting; give it a moment to show up in the list.
    for _ in 0..100 {
        if workers.workers().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after: Vec<u32> = workers.workers().iter().map(|w| w.pid).collect();
    println!("worker pids before: {before:?}, after: {after:?}");

    let started = Instant::now();
    let calls = (0..10_000).map(|i| workers.add(i, i));
    let sums = futures_util::future::join_all(calls).await;
    let correct = sums
        .iter()
        .zip(0..)
        .filter(|(sum, i)| matches!(sum, Ok(s) if *s == 2 * i))
        .count();
    println!(
        "10000 concurrent add() calls: {correct} correct in {:?}",
        started.elapsed()
    );

    workers.shutdown().await;
    println!("shut down: every worker exited and was reaped");
    Ok(())
}
