#[ipc2::service]
pub trait Calc {
    #[ipc2(oneway = true)]
    async fn log(&self, line: String);
}

fn main() {}
