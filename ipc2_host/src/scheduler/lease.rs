//! A unit of capacity in a caller's hands ([`Lease`]), and how a caller gets one
//! ([`Checkout`]): the half of the capacity rule that runs on the caller's task.

use std::sync::Arc;

use ipc2_common::codec::Encoded;
use tokio::sync::oneshot;

use super::Scheduler;
use crate::Error;
use crate::conn::{Conn, Ended};

/// What [`Scheduler::try_checkout`] gives a caller.
#[derive(Debug)]
pub(crate) enum Checkout {
    /// A unit of capacity, free at once.
    Now(Lease),
    /// A place in the queue: a unit arrives here when one is given back (or an error when the
    /// set can no longer provide one). Dropping it gives up the place.
    Queued(oneshot::Receiver<Result<Lease, Error>>),
}

/// One unit of a worker's capacity, held by a caller. Dropping it gives it back.
#[derive(Debug)]
pub(crate) struct Lease {
    conn: Arc<Conn>,
    scheduler: Arc<Scheduler>,
    armed: bool,
}

impl Lease {
    pub(super) fn new(conn: Arc<Conn>, scheduler: &Arc<Scheduler>) -> Self {
        Self {
            conn,
            scheduler: scheduler.clone(),
            armed: true,
        }
    }

    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// Sends request `id` through the leased worker, the unit going with it: from now on the
    /// call's end, counted by the connection, gives it back through [`Scheduler::finish`].
    /// If the connection no longer takes calls, nothing was sent: the frame comes back, and so
    /// does the unit (to a closed connection, where it vanishes).
    pub(crate) fn submit(mut self, id: u64, frame: Encoded) -> Result<Arc<Conn>, Encoded> {
        self.conn.submit(id, frame)?;
        self.armed = false;
        Ok(self.conn.clone())
    }

    /// [`submit`](Self::submit) for a streaming call with a window of `window` items.
    pub(crate) fn submit_stream(
        mut self,
        id: u64,
        frame: Encoded,
        window: u32,
    ) -> Result<Arc<Conn>, Encoded> {
        self.conn.submit_stream(id, frame, window)?;
        self.armed = false;
        Ok(self.conn.clone())
    }

    pub(super) fn disarm(mut self) -> Arc<Conn> {
        self.armed = false;
        self.conn.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.armed {
            self.scheduler.give_back(&self.conn, Ended::default(), 1);
        }
    }
}
