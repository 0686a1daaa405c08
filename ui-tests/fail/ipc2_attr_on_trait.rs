#[ipc2::service]
#[ipc2(crate = "ipc2")]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {}
