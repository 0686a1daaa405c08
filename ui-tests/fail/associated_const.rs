#[ipc2::service]
pub trait Calc {
    const BASE: u32;
    async fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {}
