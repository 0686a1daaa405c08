// The expansion triggers none of these lints, even with a single two-way method (whose client
// fallback arm is unreachable), a service whose methods are all one-way, and a combined set
// of a single service (whose unwrapping fallback arm is unreachable).

#![deny(
    unused_qualifications,
    unreachable_patterns,
    unreachable_code,
    missing_debug_implementations,
    rust_2018_idioms,
    deprecated,
    clippy::all,
    clippy::pedantic
)]

/// Single.
#[ipc2::service]
pub trait Single {
    /// Echoes.
    async fn echo(&self, text: String) -> String;
}

/// Only one-way.
#[ipc2::service]
pub trait Fire {
    /// Fires.
    #[ipc2(oneway)]
    async fn fire(&self, shot: u32);
    /// Fires synchronously.
    #[ipc2(oneway)]
    fn fire_sync(&self);
}

/// Has a deprecated method; calling it from generated code must not warn.
#[ipc2::service]
pub trait Old {
    /// Old.
    #[deprecated = "use `current`"]
    async fn old(&self) -> u8;
    /// Current.
    async fn current(&self) -> u8;
}

ipc2::combine!(pub Both: Single, Fire);
ipc2::combine!(pub Alone: Old);

#[derive(Debug)]
struct Impl;

impl Single for Impl {
    async fn echo(&self, text: String) -> String {
        text
    }
}

impl Fire for Impl {
    async fn fire(&self, _shot: u32) {}
    fn fire_sync(&self) {}
}

#[allow(deprecated)]
impl Old for Impl {
    async fn old(&self) -> u8 {
        0
    }
    async fn current(&self) -> u8 {
        1
    }
}

async fn _client(a: &SingleWorkers, b: &FireWorkers, c: &OldWorkers) -> Result<u8, ipc2::Error> {
    a.echo(String::new()).await?;
    b.fire(1).await?;
    b.fire_sync().await?;
    c.current().await
}

async fn _combined(both: &BothWorkers, alone: &AloneWorkers) -> Result<u8, ipc2::Error> {
    both.echo(String::new()).await?;
    both.fire(1).await?;
    alone.current().await
}

fn _serve() {
    let _ = ipc2::worker::serve(SingleServer(Impl));
    let _ = ipc2::worker::serve(FireServer(Impl));
    let _ = ipc2::worker::serve(OldServer(Impl));
    let _ = ipc2::worker::serve(BothServer(SingleServer(Impl), FireServer(Impl)));
    let _ = ipc2::worker::serve(AloneServer(OldServer(Impl)));
}

fn main() {
    _serve();
}
