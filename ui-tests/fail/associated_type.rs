#[ipc2::service]
pub trait Calc {
    type Output;
    async fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {}
