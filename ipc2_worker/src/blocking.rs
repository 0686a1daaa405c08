//! A worker API for programs that do not use async Rust.
//!
//! [`connect`] starts a small tokio runtime of its own on a background thread, which carries the
//! connection (reading jobs, writing replies, sending heartbeats), and hands the program a
//! [`Receiver`] whose [`recv`](Receiver::recv) blocks. Replies and events are sent with the same
//! [`ReplySender`](crate::ReplySender) and [`EventSender`] as in async code;
//! their `send` never blocks. Because the I/O runs on its own thread, the host keeps hearing
//! from a worker whose handler is deep in CPU-bound work, and can tell it from a stuck one.
//!
//! ```no_run
//! use ipc2::worker::Job;
//!
//! fn main() -> Result<(), ipc2::worker::Error> {
//!     let mut jobs = ipc2::worker::blocking::connect::<(u64, u64), u64>()?;
//!     while let Some(job) = jobs.recv() {
//!         if let Job::Bidirectional { data: (a, b), tx } = job {
//!             let _ = tx.send(a * b);
//!         }
//!     }
//!     Ok(())
//! }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, EventSender, Job};

/// The blocking stream of jobs from the host. Returned by [`connect`].
#[derive(Debug)]
pub struct Receiver<R, W, E = W> {
    inner: crate::Receiver<R, W, E>,
    // Dropped last: the I/O tasks run on it.
    _runtime: tokio::runtime::Runtime,
}

impl<R, W, E> Receiver<R, W, E> {
    /// Blocks until the next job arrives. Returns `None` once the host has closed the
    /// connection and every job already received has been taken.
    pub fn recv(&mut self) -> Option<Job<R, W>> {
        self.inner.blocking_recv()
    }

    /// A handle for sending the host messages it did not ask for.
    pub fn event_sender(&self) -> EventSender<E> {
        self.inner.event_sender()
    }
}

/// Connects to the host over a Unix socket, like [`crate::connect()`], without the caller needing
/// an async runtime. Must not be called from inside one.
pub fn connect<R, W>() -> Result<Receiver<R, W>, Error>
where
    R: DeserializeOwned + Send + 'static,
    W: Serialize + DeserializeOwned + Send + 'static,
{
    connect_with_events::<R, W, W>()
}

/// [`connect`], with events of type `E`, like [`crate::connect_with_events`].
pub fn connect_with_events<R, W, E>() -> Result<Receiver<R, W, E>, Error>
where
    R: DeserializeOwned + Send + 'static,
    W: Serialize + DeserializeOwned + Send + 'static,
    E: Serialize + DeserializeOwned + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("ipc2-worker-io")
        .enable_all()
        .build()
        .map_err(|e| Error::Protocol(e.into()))?;
    let inner =
        runtime.block_on(crate::connect_with_events::<ipc2_common::AnyClient, R, W, E>())?;
    Ok(Receiver {
        inner,
        _runtime: runtime,
    })
}
