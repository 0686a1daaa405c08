//! The worker program of ipc2's service tests: serves `ipc2_test_support::calc::Calc`.

use ipc2_test_support::calc::CalcServer;
use ipc2_test_support::calc_impl;

#[tokio::main]
async fn main() -> Result<(), ipc2::worker::Error> {
    ipc2::worker::serve(CalcServer(calc_impl::Worker::default())).await
}
