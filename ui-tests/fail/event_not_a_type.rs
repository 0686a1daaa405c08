#[ipc2::service(event = 5 + 5)]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {}
