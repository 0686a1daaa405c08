// Every independent error is reported in one compile.

#[ipc2::service]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

#[ipc2::service]
pub trait Store {
    async fn get(&self, key: String) -> Option<String>;
}

ipc2::combine!(#[ipc2(krate = "ipc2")] pub Tools: Calc, Store<u8>, Calc);

fn main() {}
