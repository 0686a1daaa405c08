//! Easy, fast, crash-proof inter-process communication for Rust.
//!
//! A host process owns a set of worker processes, sends them typed jobs and awaits typed replies,
//! and keeps the set healthy: workers that crash or hang are replaced, work queues while all are
//! busy, no caller waits forever and no worker outlives its host.
//!
//! Annotate a trait with [`#[ipc2::service]`](service), implement it in the worker, and call it
//! from the host like a local async function. One binary can be both: started by hand it is the
//! host, started by its host it is a worker.
//!
//! ```no_run
//! use std::time::Duration;
//! use ipc2::TimeoutAction;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! pub struct DivByZero;
//!
//! #[ipc2::service]
//! pub trait Calc {
//!     /// Adds two numbers.
//!     async fn add(&self, a: u32, b: u32) -> u32;
//!     /// Divides, refusing zero with the service's own error.
//!     async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero>;
//! }
//!
//! struct MyCalc;
//!
//! impl Calc for MyCalc {
//!     async fn add(&self, a: u32, b: u32) -> u32 {
//!         a + b
//!     }
//!     async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero> {
//!         a.checked_div(b).ok_or(DivByZero)
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     if ipc2::worker::started_by_host() {
//!         return Ok(ipc2::worker::serve(CalcServer(MyCalc)).await?);
//!     }
//!     let workers = CalcWorkers::builder()
//!         .worker_count(4)
//!         .worker_path(std::env::current_exe()?)
//!         .finish()
//!         .await?;
//!     assert_eq!(workers.add(6, 7).await?, 13);
//!     // A call may run for 1 s on its worker; a runaway's worker is killed and replaced.
//!     let limited = workers.with_timeout(Duration::from_secs(1), TimeoutAction::Restart);
//!     assert!(matches!(limited.div(1, 0).await?, Err(DivByZero)));
//!     Ok(())
//! }
//! ```
//!
//! - [`host`]: [`WorkerSet`] and its [builder](host::WorkerSetBuilder): the settings (time
//!   limits, restarts, resource limits, output, recycling), [`stats`](WorkerSet::stats),
//!   [events](host::Events), and the [`Error`]s with what each means.
//! - [`worker`]: [`serve`](worker::serve) for services, and the raw
//!   [`connect`](worker::connect) and [`blocking::connect`](worker::blocking::connect).
//! - [`combine!`] puts several services on one set.
//! - A method returning [`Stream<T>`](Stream) answers with a stream of items, read through a
//!   [`ReplyStream`](host::ReplyStream) with flow control: `let mut lines =
//!   workers.run(script).await?; while let Some(line) = lines.next().await { .. }`.
//! - Events: `#[ipc2::service(event = Progress)]`, [`worker::emit`] in a handler,
//!   [`WorkerSet::events`] on the host.
//! - [`schema`]: how the handshake checks that host and worker agree on every type.
//!
//! # The raw API
//!
//! Without the macro, a set carries any serde types as jobs and replies:
//!
//! ```no_run
//! use ipc2::worker::Job;
//! use ipc2::WorkerSet;
//! use tokio::net::{UnixListener, UnixStream};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     if ipc2::worker::started_by_host() {
//!         let mut jobs = ipc2::worker::connect::<UnixStream, (u32, u32), u32>().await?;
//!         while let Some(job) = jobs.recv().await {
//!             if let Job::Bidirectional { data: (a, b), tx } = job {
//!                 let _ = tx.send(a + b);
//!             }
//!         }
//!         return Ok(());
//!     }
//!     let workers: WorkerSet<UnixListener, u32, (u32, u32)> = WorkerSet::builder()
//!         .worker_count(2)
//!         .worker_path(std::env::current_exe()?)
//!         .finish()
//!         .await?;
//!     println!("6 + 7 = {}", workers.send((6, 7)).await?);
//!     Ok(())
//! }
//! ```
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

pub use ipc2_common::fd;
pub use ipc2_common::schema;
pub use ipc2_common::{Client, NoEvents, Server};
/// The transports beside the default Unix socket, and what a transport of your own implements
/// beside [`Server`] and [`Client`]: the halves a connection splits into, and the descriptor
/// queue and direct-write handle they may offer.
///
/// [`TlsListener`](transport::TlsListener) and [`TlsClient`](transport::TlsClient) carry ipc2
/// over TCP with TLS 1.3 and mutual authentication, for workers on other machines.
pub mod transport {
    pub use ipc2_common::tcp::{
        SecretError, SharedSecret, UnencryptedTcpClient, UnencryptedTcpListener,
    };
    pub use ipc2_common::tls::{
        TlsClient, TlsConfig, TlsConfigError, TlsListener, TlsServerStream,
    };
    pub use ipc2_common::{
        AnyClient, Direct, Handshaking, Peer, Read, ReadHalf, ReceivedFds, Write, WriteHalf,
    };
    /// The environment variables a worker on another machine is started with: the host's
    /// address ([`ENV_CONNECT`](env::ENV_CONNECT)), the PEM files of a TLS side ([`TlsConfig::from_env`]) or the
    /// shared secret of unencrypted TCP ([`SharedSecret::from_env`]), and how long to wait for
    /// the host's welcome once connected ([`ENV_STARTUP_TIMEOUT_MS`](env::ENV_STARTUP_TIMEOUT_MS); default 60 s).
    pub mod env {
        pub use ipc2_common::handshake::{ENV_CONNECT, ENV_STARTUP_TIMEOUT_MS};
        pub use ipc2_common::tcp::ENV_SECRET_FILE;
        pub use ipc2_common::tls::{ENV_CA, ENV_CERT, ENV_KEY};
    }
}
pub use ipc2_host as host;
pub use ipc2_host::{
    Error, ExitCause, Policy, RemoteHost, TimeoutAction, WorkerExit, WorkerSet, WorkerSetBuilder,
};
pub use ipc2_macros::{combine, service};
pub use ipc2_worker as worker;
pub use ipc2_worker::Stream;

/// Everything the code generated by `#[ipc2::service]` and `ipc2::combine!` names, so that code
/// depends on this module alone. Re-exported from the crate roots of `ipc2_host` and
/// `ipc2_worker`, never their modules, whose layout may change. Not public API: it may change in
/// any release.
#[doc(hidden)]
pub mod __private {
    pub use ipc2_common::NoEvents;
    pub use ipc2_host::{
        Call, Calls, Error, OnAll, Policy, ReplyStream, Server, TimeoutAction, WorkerSet,
    };
    pub use ipc2_worker::Error as WorkerError;
    pub use ipc2_worker::{Answer, Dispatch, emit, run_blocking, with_events};
    pub use serde;
    pub use serde_bytes;
    pub use std::time::Duration;
    pub use tokio::net::UnixListener;

    /// The event type a service declares, implemented by `#[ipc2::service]` on its request
    /// enum, so that `ipc2::combine!` can name each service's events.
    pub trait ServiceEvent {
        /// The service's `event = T`, or [`NoEvents`].
        type Event;
    }

    /// The error a generated client returns when a reply belongs to another method.
    pub fn unexpected_reply(service: &'static str, method: &'static str) -> Error {
        Error::UnexpectedReply { service, method }
    }
}
