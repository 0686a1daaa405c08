#[ipc2::service]
pub trait Store {
    #[ipc2(oneway, timeout = "5s", idempotent)]
    async fn log(&self, line: String);
}

fn main() {}
