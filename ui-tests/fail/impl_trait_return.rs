#[ipc2::service]
pub trait Calc {
    fn add(&self, a: u32, b: u32) -> impl std::future::Future<Output = u32>;
}

fn main() {}
