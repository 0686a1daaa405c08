/// Not `Serialize`, nor `Deserialize`.
pub struct Progress {
    pub percent: u8,
}

#[ipc2::service(event = Progress)]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {}
