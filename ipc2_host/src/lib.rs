//! The host side of ipc2: start worker processes, send them typed jobs, keep them healthy.
//!
//! A [`WorkerSet`] owns a fixed number of worker processes. It spawns them, checks that each one
//! that connects is really the process it started, hands each job to an idle worker (queueing it
//! while all are busy), and replaces any worker that crashes, hangs past a timeout or breaks the
//! protocol. Dropping the set kills and reaps every worker.
//!
//! ```no_run
//! use ipc2::WorkerSet;
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
#![doc(test(attr(deny(warnings))))]

//! # Layout
//!
//! Dependencies run one way: `workerset` → {`scheduler`, `conn`, `supervisor`} → `process`.
//!
//! | module | owns |
//! | --- | --- |
//! | `workerset` | the handle and the set's life cycle; `request`: the call path; `options`: `Call`, `Policy`, `TimeoutAction` |
//! | `builder` | the settings and their checks; starting a set |
//! | `config` | the settings a running set keeps |
//! | `private_dir` | the set's 0700 directory (socket, token files), and removing those of hosts that are gone |
//! | `scheduler` | capacity (one unit per call, given back once), the FIFO and targeted queues, slot states, counters |
//! | `conn` | one worker connection and its reply slots: a leaf |
//! | `supervisor` | the per-slot tasks: start, serve, recycle, end, restart intensity; the acceptor; quarantine |
//! | `process` | spawning, signals, cgroups, `/proc`, output capture: a leaf |
//! | `stream` | the answer to a streaming call, read item by item |
//! | `events`, `stats`, `error`, `remote_host` | the public event stream, snapshots, errors, and where a remote worker is |

mod builder;
mod config;
mod conn;
mod error;
mod events;
mod private_dir;
mod process;
mod remote_host;
mod scheduler;
mod stats;
mod stream;
mod supervisor;
pub mod workerset;

pub use builder::WorkerSetBuilder;
pub use error::{Error, ExitCause, WorkerExit};
pub use events::{Events, WorkerEvent};
pub use ipc2_common::Server;
pub use process::{LineCallback, Output};
pub use remote_host::RemoteHost;
pub use stats::{Stats, WorkerState, WorkerStats};
pub use stream::ReplyStream;
pub use workerset::{
    Call, Calls, OnAll, Policy, TimeoutAction, WithTimeout, WorkerInfo, WorkerSet,
};
