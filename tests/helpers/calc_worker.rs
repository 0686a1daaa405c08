//! The worker program of ipc2's service tests: serves `ipc2_test_support::calc::Calc`, with
//! `ServeOptions::concurrency` taken from `CALC_WORKER_CONCURRENCY` when that is set.

use ipc2_test_support::calc::CalcServer;
use ipc2_test_support::calc_impl;

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
