#[ipc2::service]
pub trait Calc {
    extern "C" fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {}
