#[ipc2::service]
pub trait Eval {
    async fn feed(&self, lines: ipc2::Stream<String>) -> u64;
}

fn main() {}
