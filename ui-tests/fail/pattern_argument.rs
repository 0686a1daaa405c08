#[ipc2::service]
pub trait Calc {
    async fn add(&self, (a, b): (u32, u32)) -> u32;
}

fn main() {}
