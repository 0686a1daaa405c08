//! The host side of ipc2: start worker processes, send them typed jobs, keep them healthy.
//!
//! A [`WorkerSet`] owns a fixed number of worker processes. It spawns them, checks that each one
//! that connects is really the process it started, hands each job to an idle worker (queueing it
//! while all are busy), and replaces any worker that crashes, hangs past a timeout or breaks the
//! protocol. Dropping the set kills and reaps every worker.
//!
//! ```no_run
//! use ipc2_host::workerset::WorkerSet;
//! use tokio::net::UnixListener;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let workers: WorkerSet<UnixListener, u32, (u32, u32)> = WorkerSet::builder()
//!         .worker_count(4)
//!         .worker_path("./target/debug/adder")
//!         .finish()
//!         .await?;
//!     println!("6 + 7 = {}", workers.send((6, 7)).await?);
//!     Ok(())
//! }
//! ```
//!
//! The worker program uses `ipc2_worker::connect`. See the `ipc2` crate for the whole picture.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![deny(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod acceptor;
mod builder;
mod call;
mod calls;
mod child;
mod conn;
mod error;
mod events;
#[cfg(unix)]
mod os;
mod output;
mod pool;
mod quarantine;
mod shared;
mod stats;
mod supervisor;
pub mod workerset;

pub use builder::WorkerSetBuilder;
pub use call::{Call, Policy, WithTimeout};
pub use error::{Error, ExitCause, WorkerExit};
pub use events::{Events, WorkerEvent};
pub use ipc2_common::{Client, Server};
pub use output::{LineCallback, Output};
pub use stats::{Stats, WorkerState, WorkerStats};
pub use workerset::{TimeoutAction, WorkerInfo, WorkerSet};
