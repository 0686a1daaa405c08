//! The worker program of ipc2's service tests: serves `support::calc::Calc`.

#[path = "../support/calc.rs"]
mod calc;
#[path = "../support/calc_impl.rs"]
mod calc_impl;

use calc::CalcServer;

#[tokio::main]
async fn main() -> Result<(), ipc2::worker::Error> {
    ipc2::worker::serve(CalcServer(calc_impl::Worker::default())).await
}
