#[ipc2::service]
pub trait Calc
where
    Self: Clone,
{
    async fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {}
