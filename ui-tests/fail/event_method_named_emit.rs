#[derive(serde::Serialize, serde::Deserialize)]
pub struct Progress;

#[ipc2::service(event = Progress)]
pub trait Calc {
    async fn emit(&self, line: String);
}

fn main() {}
