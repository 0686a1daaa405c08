#[ipc2::service]
pub trait Calc {
    async fn add(a: u32, b: u32) -> u32;
}

fn main() {}
