#[ipc2::service]
pub struct Calc {
    total: u32,
}

fn main() {}
