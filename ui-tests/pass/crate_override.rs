// `crate = "..."` names the facade when it is not reachable as `::ipc2`: through a renamed
// `extern crate`, and through a re-export.

extern crate ipc2 as renamed;

mod reexport {
    pub use ::ipc2 as inner;
}

#[renamed::service(crate = "renamed")]
pub trait Renamed {
    async fn ping(&self, n: u32) -> u32;
}

#[reexport::inner::service(crate = "crate::reexport::inner")]
pub trait Reexported {
    async fn pong(&self, n: u32) -> u32;
    #[ipc2(oneway)]
    async fn fire(&self);
}

struct Impl;

impl Renamed for Impl {
    async fn ping(&self, n: u32) -> u32 {
        n
    }
}

impl Reexported for Impl {
    async fn pong(&self, n: u32) -> u32 {
        n
    }
    async fn fire(&self) {}
}

async fn _client(a: &RenamedWorkers, b: &ReexportedWorkers) -> Result<u32, renamed::Error> {
    b.fire().await?;
    Ok(a.ping(1).await? + b.pong(2).await?)
}

fn _serve() {
    let _ = renamed::worker::serve(RenamedServer(Impl));
    let _ = renamed::worker::serve(ReexportedServer(Impl));
}

fn main() {
    _serve();
}
