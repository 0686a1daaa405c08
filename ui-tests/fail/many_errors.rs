// Independent mistakes are all reported by one compile.

#[ipc2::service(krate = "ipc2")]
pub trait Calc {
    async fn send(&self, text: &str) -> u32;
    async fn generic<T>(&mut self, value: T);
    #[ipc2(oneway)]
    async fn log(&self, line: String) -> bool;
}

fn main() {}
