#[derive(serde::Serialize, serde::Deserialize)]
pub struct Progress {
    pub percent: u8,
}

#[ipc2::service(event = Progress)]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

struct Worker;

impl Calc for Worker {
    async fn add(&self, a: u32, b: u32) -> u32 {
        let _ = Self::emit("halfway".to_owned());
        a + b
    }
}

fn main() {}
