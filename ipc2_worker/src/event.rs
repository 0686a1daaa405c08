//! [`EventSender`]: messages a worker sends to its host unasked.

use std::fmt;
use std::marker::PhantomData;

use ipc2_common::ToHost;
use ipc2_common::outbox::Outbox;
use serde::Serialize;

use crate::Error;

/// Sends messages to the host that are not answers to a request: progress, log lines, results
/// of background work. The host reads them from `WorkerSet::events`, tagged with this worker's
/// id. Obtained from [`Receiver::event_sender`](crate::Receiver::event_sender); cheap to clone
/// and usable from any task.
///
/// ```no_run
/// # async fn _demo() -> Result<(), ipc2::worker::Error> {
/// let jobs = ipc2::worker::connect::<tokio::net::UnixStream, String, String>().await?;
/// let events = jobs.event_sender();
/// events.send("warming up".to_owned())?;
/// # Ok(())
/// # }
/// ```
pub struct EventSender<W> {
    outbox: Outbox,
    max_frame_len: usize,
    _event: PhantomData<fn(W)>,
}

impl<W: Serialize> EventSender<W> {
    pub(crate) fn new(outbox: Outbox, max_frame_len: usize) -> Self {
        Self {
            outbox,
            max_frame_len,
            _event: PhantomData,
        }
    }

    /// Queues `event` for the host. Fails if it cannot be encoded (for example, it exceeds the
    /// frame limit) or the connection to the host is closed.
    pub fn send(&self, event: W) -> Result<(), Error> {
        Ok(self
            .outbox
            .send(&ToHost::Event, Some(&event), self.max_frame_len)?)
    }
}

impl<W> Clone for EventSender<W> {
    fn clone(&self) -> Self {
        Self {
            outbox: self.outbox.clone(),
            max_frame_len: self.max_frame_len,
            _event: PhantomData,
        }
    }
}

impl<W> fmt::Debug for EventSender<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSender").finish_non_exhaustive()
    }
}
