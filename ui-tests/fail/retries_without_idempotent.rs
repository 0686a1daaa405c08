#[ipc2::service]
pub trait Store {
    #[ipc2(retries = 2)]
    async fn get(&self, key: String) -> u64;
}

fn main() {}
