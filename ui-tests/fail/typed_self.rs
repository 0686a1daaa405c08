#[ipc2::service]
pub trait Calc {
    async fn reset(self: Box<Self>);
}

fn main() {}
