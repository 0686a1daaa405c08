#[derive(Debug)]
pub struct NotSerde;

#[ipc2::service]
pub trait Calc {
    async fn take(&self, value: NotSerde);
}

fn main() {}
