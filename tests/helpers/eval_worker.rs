//! The worker program of `tests/timeouts.rs`: serves `ipc2_test_support::eval::Eval`.

use ipc2_test_support::eval::{EvalServer, Evaluator};

#[tokio::main]
async fn main() -> Result<(), ipc2::worker::Error> {
    ipc2::worker::serve(EvalServer(Evaluator)).await
}
