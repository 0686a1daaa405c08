#[ipc2::service]
pub trait Calc {
    #[ipc2(oneway)]
    #[ipc2(oneway)]
    async fn log(&self, line: String);
}

fn main() {}
