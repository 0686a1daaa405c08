#[ipc2::service]
pub trait Calc {
    async fn count(&self, text: &str, bytes: &[u8]) -> usize;
}

fn main() {}
