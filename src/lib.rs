//! Easy, fast, crash-proof inter-process communication for Rust.
//!
//! A host process owns a set of worker processes, sends them typed jobs and awaits typed replies,
//! and keeps the set healthy: workers that crash or hang are replaced, work queues while all are
//! busy, no caller waits forever and no worker outlives its host.
//!
//! - [`host`] (`ipc2_host`): [`WorkerSet`], which starts, supervises and feeds the workers.
//! - [`worker`] (`ipc2_worker`): [`worker::connect`], which a worker program calls to receive
//!   its jobs.
//!
//! One binary can be both: started by hand it is the host, started by its host it is a worker.
//!
//! ```no_run
//! use ipc2::worker::Job;
//! use ipc2::{TimeoutAction, WorkerSet};
//! use std::time::Duration;
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
//!     let sum = workers
//!         .send_timeout((6, 7), Duration::from_secs(5), TimeoutAction::Restart)
//!         .await?;
//!     println!("6 + 7 = {sum}");
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

pub use ipc2_common::{Client, Server};
pub use ipc2_host as host;
pub use ipc2_host::{Error, ExitCause, TimeoutAction, WorkerExit, WorkerSet};
pub use ipc2_macros::{combine, service};
pub use ipc2_worker as worker;

/// What `#[ipc2::service]`'s generated code refers to. Not public API: it may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    pub use ipc2_host::{Call, Policy, TimeoutAction};
    pub use ipc2_worker::{Dispatch, run_blocking};
    pub use serde;
    pub use serde_bytes;
    pub use std::time::Duration;
    pub use tokio::net::UnixListener;

    /// The error a generated client returns when a reply belongs to another method.
    pub fn unexpected_reply(service: &'static str, method: &'static str) -> crate::Error {
        crate::Error::UnexpectedReply { service, method }
    }
}
