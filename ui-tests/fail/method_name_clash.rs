#[ipc2::service]
pub trait Calc {
    async fn send(&self, line: String) -> u32;
}

fn main() {}
