#[ipc2::service]
pub trait Calc {
    fn sum(&self, _: ...) -> u32;
}

fn main() {}
