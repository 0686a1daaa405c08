#[ipc2::service]
pub trait Calc {
    async fn add(&self, a: u32, _: u32) -> u32;
}

fn main() {}
