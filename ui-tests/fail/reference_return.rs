#[ipc2::service]
pub trait Calc {
    async fn name(&self) -> &str;
}

fn main() {}
