#[ipc2::service]
pub trait Store {
    #[ipc2(timeout = "5 seconds")]
    async fn get(&self, key: String) -> u64;
}

fn main() {}
