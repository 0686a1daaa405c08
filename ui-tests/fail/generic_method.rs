#[ipc2::service]
pub trait Calc {
    async fn echo<T>(&self, value: T) -> T;
}

fn main() {}
