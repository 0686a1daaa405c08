//! A pool that evaluates users' scripts and kills the runaways: 2 workers, 50 scripts submitted
//! at once, 5 of which never end.
//!
//! ```text
//! cargo run --example eval_pool
//! ```
//!
//! Each script may *run* for 2 s (`#[ipc2(timeout = "2s", on_timeout = "restart")]`); the time it
//! waits for a free worker, here while both workers are stuck on runaways, does not count. So
//! every good script gets its answer, each runaway fails with `Error::Timeout` after 2 s of
//! running, and its worker is killed and replaced. Nothing in front of ipc2 limits the callers.

use std::time::Instant;

use ipc2::Error;
use serde::{Deserialize, Serialize};

/// A script that does not evaluate.
#[derive(Debug, Serialize, Deserialize)]
pub struct EvalError(pub String);

/// Evaluates scripts in worker processes.
#[ipc2::service]
pub trait Eval {
    /// `"a+b"` is the sum, `"spin"` never ends, anything else is an error.
    #[ipc2(timeout = "2s", on_timeout = "restart")]
    async fn eval(&self, script: String) -> Result<i64, EvalError>;
}

struct Evaluator;

impl Eval for Evaluator {
    async fn eval(&self, script: String) -> Result<i64, EvalError> {
        if script == "spin" {
            loop {
                std::hint::spin_loop();
            }
        }
        let sum = script
            .split_once('+')
            .and_then(|(a, b)| Some(a.trim().parse::<i64>().ok()? + b.trim().parse::<i64>().ok()?));
        sum.ok_or(EvalError(script))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if ipc2::worker::started_by_host() {
        return Ok(ipc2::worker::serve(EvalServer(Evaluator)).await?);
    }
    let workers = EvalWorkers::builder()
        .worker_count(2)
        .worker_path(std::env::current_exe()?)
        .finish()
        .await?;

    let scripts: Vec<String> = (0..50)
        .map(|i| match i {
            3 | 11 | 19 | 27 | 35 => "spin".to_owned(),
            8 => "1+".to_owned(),
            40 => "two+two".to_owned(),
            i => format!("{i}+1000"),
        })
        .collect();
    let started = Instant::now();
    let outcomes =
        futures_util::future::join_all(scripts.iter().map(|s| workers.eval(s.clone()))).await;

    let (mut values, mut refused, mut runaways) = (0, 0, 0);
    for (script, outcome) in scripts.iter().zip(outcomes) {
        match outcome {
            Ok(Ok(_)) => values += 1,
            Ok(Err(EvalError(bad))) => {
                refused += 1;
                println!("{bad:>8}: does not evaluate");
            }
            Err(err @ Error::Timeout { .. }) => {
                runaways += 1;
                println!("{script:>8}: {err}");
            }
            Err(err) => println!("{script:>8}: unexpected: {err}"),
        }
    }
    let restarts: u64 = workers.stats().workers.iter().map(|w| w.restarts).sum();
    println!(
        "\n{values} values, {refused} scripts that do not evaluate, {runaways} runaways stopped, \
         in {:.1?}; {restarts} workers replaced so far",
        started.elapsed()
    );
    workers.shutdown().await;
    Ok(())
}
