#[derive(Debug)]
pub struct NotSerde;

#[ipc2::service]
pub trait Calc {
    async fn make(&self) -> NotSerde;
}

fn main() {}
