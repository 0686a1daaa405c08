//! One live connection to a worker: the calls in flight on it, and the loop that reads replies.
//!
//! A caller encodes its request on its own task, registers a reply slot under the request's id
//! ([`Conn::submit`], slots in [`crate::calls`]) and queues the frame for the connection's
//! writer. The reply loop ([`read_replies`]) decodes only each frame's small header, hands the
//! frame to the waiting caller (who decodes the body itself) and returns the worker's capacity
//! to the [`Pool`].
//!
//! Anything a worker sends that the host did not ask for (a reply to an id it is not running, a
//! second `Hello`, a malformed frame) ends the loop with a reason, and the supervisor kills and
//! replaces that worker: a broken or hostile worker cannot answer someone else's call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use ipc2_common::outbox::Outbox;
use ipc2_common::{FrameCodec, ReadHalf, ToHost, ToWorker, codec};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;

use crate::calls::{Calls, Outcome, Reply, Unanswered};
use crate::error::ExitCause;
use crate::events::{EventQueue, RawEvent};
use crate::pool::{Ended, Pool};

/// A live worker connection, shared by the pool, callers and its supervisor.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) worker: usize,
    pub(crate) generation: u64,
    pub(crate) pid: u32,
    open: AtomicBool,
    born: Instant,
    /// Milliseconds after `born` when the worker last sent anything.
    heard: AtomicU64,
    outbox: Outbox,
    calls: Calls,
    answered: AtomicU64,
    kill: mpsc::UnboundedSender<ExitCause>,
}

impl Conn {
    pub(crate) fn new(
        worker: usize,
        generation: u64,
        pid: u32,
        outbox: Outbox,
        kill: mpsc::UnboundedSender<ExitCause>,
    ) -> Self {
        Self {
            worker,
            generation,
            pid,
            open: AtomicBool::new(true),
            born: Instant::now(),
            heard: AtomicU64::new(0),
            outbox,
            calls: Calls::default(),
            answered: AtomicU64::new(0),
            kill,
        }
    }

    /// Whether the connection still takes new calls.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Registers call `id` and queues its frame; await its outcome with [`reply`](Self::reply).
    /// Gives the frame back if the connection has closed, in which case nothing was sent and the
    /// call may go to another worker.
    pub(crate) fn submit(&self, id: u64, frame: Vec<u8>) -> Result<(), Vec<u8>> {
        if !self.is_open() || !self.calls.insert(id) {
            return Err(frame);
        }
        // If the writer is gone the connection is closing, and the supervisor fails the call.
        let _ = self.outbox.send_frame(frame);
        Ok(())
    }

    /// The outcome of call `id`, [`submit`](Self::submit)ted here.
    pub(crate) fn reply(&self, id: u64) -> Reply<'_> {
        self.calls.reply(id)
    }

    /// Queues a one-way frame. Gives it back if the connection has closed.
    pub(crate) fn send_oneway(&self, frame: Vec<u8>) -> Result<(), Vec<u8>> {
        if !self.is_open() {
            return Err(frame);
        }
        self.outbox.send_frame(frame)
    }

    /// How many calls this worker has answered (or failed).
    pub(crate) fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Stops taking new calls but keeps the ones in flight, for a worker being replaced.
    pub(crate) fn retire(&self) {
        self.open.store(false, Ordering::Release);
    }

    /// Completes once no call is in flight.
    pub(crate) async fn idle(&self) {
        self.calls.idle().await;
    }

    /// Stops taking new calls and returns the ones still in flight, for the supervisor to fail
    /// once it knows how the worker ended.
    pub(crate) fn close(&self) -> Unanswered<'_> {
        self.open.store(false, Ordering::Release);
        self.calls.close()
    }

    /// How long this worker has been connected.
    pub(crate) fn uptime(&self) -> Duration {
        self.born.elapsed()
    }

    /// How long since the worker last sent anything (a reply, an event or a heartbeat).
    pub(crate) fn silent_for(&self) -> Duration {
        let heard = Duration::from_millis(self.heard.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(heard)
    }

    fn heard(&self) {
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.heard.store(now, Ordering::Relaxed);
    }

    /// Tells the worker that the caller of request `id` gave up on it.
    pub(crate) fn cancel(&self, id: u64) {
        let _ = self
            .outbox
            .send(&ToWorker::Cancel { id }, None::<&()>, usize::MAX);
    }

    /// Asks the supervisor to kill this worker.
    pub(crate) fn kill(&self, cause: ExitCause) {
        let _ = self.kill.send(cause);
    }
}

/// Reads the worker's frames until the connection ends or breaks (`Ok`) or the worker breaks
/// the protocol (`Err` with the reason).
pub(crate) async fn read_replies(
    conn: &Arc<Conn>,
    pool: &Arc<Pool>,
    events: &EventQueue,
    frames: &mut FramedRead<ReadHalf, FrameCodec>,
) -> Result<(), String> {
    while let Some(first) = frames.next().await {
        // The clock is read once per wake-up, not per frame, and the capacity of the calls
        // answered goes back to the pool once per wake-up too: a busy connection delivers many.
        conn.heard();
        let mut ended = Returns {
            conn,
            pool,
            ended: Ended::default(),
        };
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            match frame {
                Ok(payload) => deliver(conn, events, payload, &mut ended.ended)?,
                // The connection broke (a reset, or the stream ended inside a frame): the worker
                // went away, which is a death for the supervisor to report, not a violation.
                Err(ipc2_common::Error::Io(_) | ipc2_common::Error::UnexpectedEof { .. }) => {
                    return Ok(());
                }
                Err(err) => return Err(format!("bad frame: {err}")),
            }
            next = frames.next().now_or_never().flatten();
        }
    }
    Ok(())
}

/// Gives the pool back the capacity of the calls that ended, when dropped (so also when the
/// reply loop stops in the middle of a batch).
struct Returns<'a> {
    conn: &'a Arc<Conn>,
    pool: &'a Arc<Pool>,
    ended: Ended,
}

impl Drop for Returns<'_> {
    fn drop(&mut self) {
        let Ended { answered, failed } = self.ended;
        self.conn
            .answered
            .fetch_add(answered + failed, Ordering::Relaxed);
        self.pool.finish(self.conn, self.ended);
    }
}

/// Delivers one frame from the worker: a reply to its caller (counted in `ended`), an event to
/// the queue.
fn deliver(
    conn: &Arc<Conn>,
    events: &EventQueue,
    payload: Bytes,
    ended: &mut Ended,
) -> Result<(), String> {
    let (header, body) =
        codec::decode_header::<ToHost>(&payload).map_err(|err| format!("bad envelope: {err}"))?;
    let body_at = payload.len() - body.len();
    let (id, outcome, answered) = match header {
        ToHost::Reply { id } => (id, Outcome::Reply { payload, body_at }, true),
        ToHost::Failed { id } => {
            let reason = codec::decode_body::<String>(body)
                .map_err(|err| format!("bad failure message: {err}"))?;
            (id, Outcome::Failed(reason), false)
        }
        ToHost::Event => {
            events.push(RawEvent {
                worker: conn.worker,
                payload,
                body_at,
            });
            return Ok(());
        }
        ToHost::Heartbeat => return Ok(()),
        ToHost::Hello => return Err("a second hello".into()),
    };
    if !conn.calls.complete(id, outcome) {
        return Err(format!("a reply to request {id}, which it was not running"));
    }
    match answered {
        true => ended.answered += 1,
        false => ended.failed += 1,
    }
    Ok(())
}
