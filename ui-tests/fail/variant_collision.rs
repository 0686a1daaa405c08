#[ipc2::service]
pub trait Calc {
    async fn add2(&self, a: u32) -> u32;
    async fn add_2(&self, a: u32) -> u32;
}

fn main() {}
