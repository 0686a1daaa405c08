//! The worker program of ipc2's service tests: serves `support::calc::Calc`, with
//! `ServeOptions::concurrency` taken from `CALC_WORKER_CONCURRENCY` when that is set.

#[path = "../support/calc.rs"]
mod calc;
#[path = "../support/calc_impl.rs"]
mod calc_impl;

use calc::CalcServer;

#[tokio::main]
async fn main() -> Result<(), ipc2::worker::Error> {
    let server = CalcServer(calc_impl::Worker::default());
    match std::env::var("CALC_WORKER_CONCURRENCY").map(|n| n.parse::<usize>()) {
        Ok(Ok(n)) => {
            let options = ipc2::worker::ServeOptions::default().concurrency(n);
            ipc2::worker::serve_with::<tokio::net::UnixStream, _>(server, options).await
        }
        _ => ipc2::worker::serve(server).await,
    }
}
