#[ipc2::service]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

ipc2::combine!(#[ipc2(krate = "ipc2")] pub Tools: Calc);

fn main() {}
