#[ipc2::service]
pub trait Calc {
    async fn reset(&mut self);
}

fn main() {}
