//! The worker side of ipc2: connect to the host that started this process and answer its jobs.
//!
//! A worker is an ordinary program that a host's `WorkerSet` starts. It calls [`connect()`] (or
//! [`serve()`], for a `#[ipc2::service]` trait), receives [`Job`]s and answers them:
//!
//! ```no_run
//! use ipc2::worker::Job;
//! use tokio::net::UnixStream;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), ipc2::worker::Error> {
//!     let mut rx = ipc2::worker::connect::<UnixStream, (u32, u32), u32>().await?;
//!     while let Some(job) = rx.recv().await {
//!         match job {
//!             Job::Bidirectional { data: (a, b), tx } => {
//!                 let _ = tx.send(a + b);
//!             }
//!             Job::Unidirectional { data } => println!("notified: {data:?}"),
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! [`Receiver::recv`] returns `None` once the host has gone away (its socket reached end of
//! stream), so the loop ends and the worker exits by itself: a worker never outlives its host for
//! long. Every request gets an answer: a [`ReplySender`] dropped without one tells the host, so
//! the caller gets an error instead of waiting forever.
#![doc(test(attr(deny(warnings))))]

mod answer;
pub mod blocking;
mod cancel;
mod connect;
mod cpu;
mod credit;
mod dial;
mod emit;
mod error;
mod event;
mod job;
mod parent;
mod serve;
mod stream;

pub use answer::{Answer, Stream};
pub use connect::{Receiver, connect, connect_to, connect_with_events, started_by_host};
pub use dial::Dial;
pub use emit::{emit, with_events};
pub use error::Error;
pub use event::EventSender;
pub use ipc2_common::{AnyClient, Client};
pub use job::{Job, ReplySender};
pub use serve::{Dispatch, ServeOptions, run_blocking, serve, serve_with};
pub use stream::StreamSender;
