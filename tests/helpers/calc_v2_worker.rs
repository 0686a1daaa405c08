//! A worker for another version of the `Calc` service than `tests/support/src/calc.rs`: the host
//! must refuse it at the handshake, before any call.

#[ipc2::service]
pub trait Calc {
    /// The only method this version has.
    async fn add(&self, a: u32, b: u32) -> u32;
}

struct Worker;

impl Calc for Worker {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }
}

#[tokio::main]
async fn main() -> Result<(), ipc2::worker::Error> {
    ipc2::worker::serve(CalcServer(Worker)).await
}
