pub struct Progress;

#[ipc2::service(event = "Progress")]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {}
