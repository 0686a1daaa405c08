#[ipc2::service]
pub trait Calc {
    async fn count(&self, text: impl Into<String>) -> usize;
}

fn main() {}
