#[ipc2::service]
pub trait Calc {
    #[ipc2(one_way)]
    async fn log(&self, line: String);
}

fn main() {}
