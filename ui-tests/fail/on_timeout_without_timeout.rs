#[ipc2::service]
pub trait Store {
    #[ipc2(on_timeout = "restart")]
    async fn get(&self, key: String) -> u64;
}

fn main() {}
