// `#[ipc2(crate = "...")]` names the facade for `combine!` when it is not reachable as `::ipc2`:
// through a renamed `extern crate`, and through a re-export.

extern crate ipc2 as renamed;

mod reexport {
    pub use ::ipc2 as inner;
}

#[renamed::service(crate = "renamed")]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

#[renamed::service(crate = "renamed")]
pub trait Store {
    #[ipc2(oneway)]
    async fn put(&self, key: String, value: String);
}

renamed::combine!(#[ipc2(crate = "renamed")] pub Tools: Calc, Store);
reexport::inner::combine!(#[ipc2(crate = "crate::reexport::inner")] pub(crate) Both: Calc, Store);

struct Impl;

impl Calc for Impl {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }
}

impl Store for Impl {
    async fn put(&self, _key: String, _value: String) {}
}

async fn _client(a: &ToolsWorkers, b: &BothWorkers) -> Result<u32, renamed::Error> {
    b.put(String::new(), String::new()).await?;
    Ok(a.add(1, 2).await? + b.add(3, 4).await?)
}

fn _serve() {
    let _ = renamed::worker::serve(ToolsServer(CalcServer(Impl), StoreServer(Impl)));
    let _ = renamed::worker::serve(BothServer(CalcServer(Impl), StoreServer(Impl)));
}

fn main() {
    _serve();
}
