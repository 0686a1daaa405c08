//! One live connection to a worker: its identity, the calls in flight on it, and reading what the
//! worker sends.
//!
//! A caller encodes its request on its own task, opens a reply slot under the request's id
//! ([`Conn::submit`], slots in [`reply_slots`]) and queues the frame for the connection's writer.
//! The supervisor's reply loop ([`Conn::read`]) decodes only each frame's small header, hands the
//! frame to the waiting caller (who decodes the body itself) and reports how many calls each
//! batch of frames ended, so the scheduler can give their capacity back: this module counts, it
//! never hands out capacity itself.
//!
//! Anything a worker sends that the host did not ask for (a reply to an id it is not running, a
//! second `Hello`, a malformed frame) ends the loop with a reason, and the supervisor kills and
//! replaces that worker: a broken or hostile worker cannot answer someone else's call.
//!
//! This is a leaf of the host crate: it knows nothing of slots, queues or supervision.

mod reply_slots;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};

use ipc2_common::codec::Encoded;
use ipc2_common::outbox::Outbox;
use ipc2_common::{Attached, FrameCodec, ReadHalf, ReceivedFds, ToHost, ToWorker, codec};
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, FramedRead};

use self::reply_slots::ReplySlots;
pub(crate) use self::reply_slots::{Next, Outcome, Reply, Unanswered};
use crate::error::ExitCause;
use crate::events::{EventQueue, RawEvent};

/// Which worker process a connection belongs to: fixed from its spawn on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The slot the worker runs in.
    pub(crate) slot: usize,
    /// How many processes that slot has started, this one included.
    pub(crate) generation: u64,
    /// The process id (on the machine `remote` names, if it names one).
    pub(crate) pid: u32,
    /// Where the worker runs, if not on this machine.
    pub(crate) remote: Option<crate::RemoteHost>,
}

/// Calls that ended on one connection, counted between two hand-backs of capacity.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    /// Calls the worker answered.
    pub(crate) answered: u64,
    /// Calls that failed: the worker failed them (its handler gave up, panicked, or could not
    /// decode the job), or died first.
    pub(crate) failed: u64,
}

impl Ended {
    /// Both counts together: the units of capacity these calls held.
    pub(crate) fn units(&self) -> u64 {
        self.answered + self.failed
    }
}

/// A live worker connection, shared by the scheduler, callers and its supervisor.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) id: Identity,
    clock: Arc<Clock>,
    outbox: Outbox,
    calls: ReplySlots,
    kill: mpsc::UnboundedSender<ExitCause>,
    /// Whether the supervisor has been asked to kill this worker.
    killing: AtomicBool,
    /// How many calls were sent: the worker's crash report keeps its stderr since the last.
    sent: Arc<AtomicU64>,
    /// Where the file descriptors the worker sends arrive, if the transport passes them.
    fds: Option<ReceivedFds>,
}

/// What one frame from a worker was.
#[derive(Debug, PartialEq, Eq)]
enum Delivered {
    /// The answer to a call.
    Answer,
    /// The worker failed a call.
    Failure,
    /// An event or a heartbeat: no call ended.
    Other,
}

/// When a connection was made, and when its worker last sent anything.
#[derive(Debug)]
struct Clock {
    born: Instant,
    /// Milliseconds after `born` when the worker last sent anything.
    heard: AtomicU64,
}

impl Clock {
    fn heard(&self) {
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.heard.store(now, Ordering::Relaxed);
    }
}

/// The frame decoder of a live connection. Every time bytes arrive (each read, also in the
/// middle of a frame) the worker counts as heard from: a reply that takes longer to transfer
/// than the heartbeat timeout is not silence.
#[derive(Debug)]
pub(crate) struct Arrivals {
    frames: FrameCodec,
    clock: Arc<Clock>,
    /// What the read buffer held after the last decode: more means bytes arrived.
    buffered: usize,
}

impl Arrivals {
    fn note(&mut self, src: &BytesMut) {
        if src.len() > self.buffered {
            self.clock.heard();
        }
    }
}

impl Decoder for Arrivals {
    type Item = Bytes;
    type Error = ipc2_common::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Self::Error> {
        self.note(src);
        let frame = self.frames.decode(src);
        self.buffered = src.len();
        frame
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Self::Error> {
        self.note(src);
        let frame = self.frames.decode_eof(src);
        self.buffered = src.len();
        frame
    }
}

impl Conn {
    pub(crate) fn new(
        id: Identity,
        outbox: Outbox,
        kill: mpsc::UnboundedSender<ExitCause>,
        sent: Arc<AtomicU64>,
        fds: Option<ReceivedFds>,
    ) -> Self {
        Self {
            id,
            clock: Arc::new(Clock {
                born: Instant::now(),
                heard: AtomicU64::new(0),
            }),
            outbox,
            calls: ReplySlots::default(),
            kill,
            killing: AtomicBool::new(false),
            sent,
            fds,
        }
    }

    /// Whether the connection still takes new calls.
    pub(crate) fn is_open(&self) -> bool {
        self.calls.is_open()
    }

    /// Registers call `id` and queues its frame; await its outcome with [`reply`](Self::reply).
    /// Gives the frame back if the connection no longer takes calls, in which case nothing was
    /// sent and the call may go to another worker.
    ///
    /// A call alone on its connection is written from the caller's task (the writer task is
    /// not woken); one among others is queued for the writer's next batch.
    pub(crate) fn submit(&self, id: u64, frame: Encoded) -> Result<(), Encoded> {
        let alone = self.calls.in_flight() == 0;
        if !self.calls.insert(id) {
            return Err(frame);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.queue(frame, alone);
        Ok(())
    }

    /// Queues a call's frame (written at once if `alone`). If the writer is gone the
    /// connection is closing, and the supervisor fails the call.
    fn queue(&self, frame: Encoded, alone: bool) {
        let _ = self
            .outbox
            .send_encoded(&ToWorker::Request { id: 0 }, frame, alone);
    }

    /// The outcome of call `id`, [`submit`](Self::submit)ted here.
    pub(crate) fn reply(&self, id: u64) -> Reply<'_> {
        self.calls.reply(id)
    }

    /// Like [`submit`](Self::submit), for a call answered by a stream of at most `window` unread
    /// items; the worker is granted the window with the request.
    pub(crate) fn submit_stream(
        &self,
        id: u64,
        frame: Encoded,
        window: u32,
    ) -> Result<(), Encoded> {
        if !self.calls.insert_stream(id, window as usize) {
            return Err(frame);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.queue(frame, false);
        self.credit(id, window);
        Ok(())
    }

    /// Lets the worker send `n` more items of streaming call `id`.
    pub(crate) fn credit(&self, id: u64, n: u32) {
        let _ = self
            .outbox
            .send(&ToWorker::Credit { id }, Some(&n), usize::MAX);
    }

    /// The next item of streaming call `id`, or how it ended.
    pub(crate) fn poll_next(
        &self,
        id: u64,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Next> {
        self.calls.poll_next(id, cx)
    }

    /// How many items of streaming call `id` wait to be read.
    pub(crate) fn buffered(&self, id: u64) -> usize {
        self.calls.buffered(id)
    }

    /// The reader of streaming call `id` gave up on it.
    pub(crate) fn abandon(&self, id: u64) {
        self.calls.abandon(id);
    }

    /// Queues a one-way frame. Gives it back if the connection no longer takes calls.
    pub(crate) fn send_oneway(&self, frame: Encoded) -> Result<(), Encoded> {
        if !self.is_open() {
            return Err(frame);
        }
        // Only a stopped writer refuses it, and then the message is lost with the worker.
        let _ = self.outbox.send_encoded(&ToWorker::Notify, frame, false);
        Ok(())
    }

    /// How many calls the worker is running (answers it still owes).
    pub(crate) fn in_flight(&self) -> usize {
        self.calls.in_flight()
    }

    /// Stops taking new calls but keeps the ones in flight, for a worker being replaced.
    pub(crate) fn retire(&self) {
        self.calls.retire();
    }

    /// Completes once no call is in flight.
    pub(crate) async fn idle(&self) {
        self.calls.idle().await;
    }

    /// Stops taking new calls and returns the ones still in flight, for the supervisor to fail
    /// once it knows how the worker ended.
    pub(crate) fn close(&self) -> Unanswered<'_> {
        self.calls.close()
    }

    /// The decoder to read this connection's frames with, which notes when its worker is heard.
    pub(crate) fn arrivals(&self, frames: FrameCodec) -> Arrivals {
        Arrivals {
            frames,
            clock: self.clock.clone(),
            buffered: 0,
        }
    }

    /// How long this worker has been connected.
    pub(crate) fn uptime(&self) -> Duration {
        self.clock.born.elapsed()
    }

    /// How long since the worker last sent anything (a byte of a reply, an event or a
    /// heartbeat).
    pub(crate) fn silent_for(&self) -> Duration {
        let heard = Duration::from_millis(self.clock.heard.load(Ordering::Relaxed));
        self.clock.born.elapsed().saturating_sub(heard)
    }

    /// Tells the worker that the caller of request `id` gave up on it.
    pub(crate) fn cancel(&self, id: u64) {
        let _ = self
            .outbox
            .send(&ToWorker::Cancel { id }, None::<&()>, usize::MAX);
    }

    /// Asks the supervisor to kill this worker.
    pub(crate) fn kill(&self, cause: ExitCause) {
        self.killing.store(true, Ordering::Relaxed);
        let _ = self.kill.send(cause);
    }

    /// Whether this worker is being killed.
    pub(crate) fn is_killing(&self) -> bool {
        self.killing.load(Ordering::Relaxed)
    }

    /// Reads the worker's frames until the connection ends or breaks (`Ok`) or the worker breaks
    /// the protocol (`Err` with the reason). After each batch of frames that arrived together,
    /// `ended` learns how many calls they ended, also when the loop stops inside a batch.
    pub(crate) async fn read(
        &self,
        frames: &mut FramedRead<ReadHalf, Arrivals>,
        events: &EventQueue,
        ended: &mut impl FnMut(Ended),
    ) -> Result<(), String> {
        // What announcement frames brought for the frame after them.
        let mut attached = Attached::default();
        let max_frame_len = frames.decoder().frames.max_frame_len();
        while let Some(first) = frames.next().await {
            // The calls answered are reported once per wake-up: a busy connection delivers many.
            let mut batch = Batch {
                ended: Ended::default(),
                report: &mut *ended,
            };
            let mut next = Some(first);
            while let Some(frame) = next.take() {
                match frame {
                    Ok(payload) => {
                        match self.deliver(events, payload, &mut attached, max_frame_len)? {
                            Delivered::Answer => batch.ended.answered += 1,
                            Delivered::Failure => batch.ended.failed += 1,
                            Delivered::Other => {}
                        }
                    }
                    // The connection broke (a reset, or the stream ended inside a frame): the
                    // worker went away, which is a death for the supervisor to report, not a
                    // violation.
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

    /// Delivers one frame from the worker: a reply to its caller, an event to the queue.
    /// `attached` holds what the announcements before it brought: descriptors (only a reply may
    /// carry them), or its body in shared memory, at most `max_frame_len` bytes.
    fn deliver(
        &self,
        events: &EventQueue,
        payload: Bytes,
        attached: &mut Attached,
        max_frame_len: usize,
    ) -> Result<Delivered, String> {
        let (header, body) = codec::decode_header::<ToHost>(&payload)
            .map_err(|err| format!("bad envelope: {err}"))?;
        if attached
            .take_in(&header, self.fds.as_ref(), max_frame_len)
            .map_err(|err| err.to_string())?
        {
            return Ok(Delivered::Other);
        }
        let (fds, shared) = attached
            .for_frame(&header, body)
            .map_err(|err| err.to_string())?;
        let (payload, body_at) = match shared {
            Some(shared) => (shared, 0),
            None => {
                let body_at = payload.len() - body.len();
                (payload, body_at)
            }
        };
        let body = &payload[body_at..];
        let (id, outcome, delivered) = match header {
            ToHost::Fds { .. } | ToHost::Shared { .. } => return Ok(Delivered::Other),
            ToHost::Reply { id } => {
                let reply = Outcome::Reply {
                    payload,
                    body_at,
                    fds,
                };
                (id, reply, Delivered::Answer)
            }
            ToHost::Failed { id } => {
                let reason = codec::decode_body::<String>(body)
                    .map_err(|err| format!("bad failure message: {err}"))?;
                (id, Outcome::Failed(reason), Delivered::Failure)
            }
            ToHost::Item { id } => {
                if !self.calls.push_item(id, payload, body_at) {
                    return Err(format!(
                        "a stream item for request {id}, which is not a stream it is running, or past the window the host granted"
                    ));
                }
                return Ok(Delivered::Other);
            }
            ToHost::End { id } => (id, Outcome::End, Delivered::Answer),
            ToHost::Event => {
                events.push(RawEvent {
                    worker: self.id.slot,
                    payload,
                    body_at,
                });
                return Ok(Delivered::Other);
            }
            ToHost::Heartbeat => return Ok(Delivered::Other),
            ToHost::Hello => return Err("a second hello".into()),
            ToHost::Types => return Err("a description of its types after the handshake".into()),
        };
        if !self.calls.complete(id, outcome) {
            return Err(format!("a reply to request {id}, which it was not running"));
        }
        Ok(delivered)
    }
}

/// The calls one batch of frames ended, reported when dropped (so also when the reply loop stops
/// in the middle of a batch).
struct Batch<'a, F: FnMut(Ended)> {
    ended: Ended,
    report: &'a mut F,
}

impl<F: FnMut(Ended)> Drop for Batch<'_, F> {
    fn drop(&mut self) {
        if self.ended.units() > 0 {
            (self.report)(self.ended);
        }
    }
}

#[cfg(test)]
mod tests {
    use ipc2_common::Client;
    use tokio::io::AsyncWriteExt;
    use tokio::net::UnixStream;

    use super::*;

    fn frame(header: ToHost, body: Option<&str>) -> Vec<u8> {
        codec::encode_frame(&header, body, 1024).unwrap()
    }

    /// Reads `frames` as sent by a worker on a fresh connection that runs calls 1 and 2; returns
    /// how the reply loop ended, what it counted and how many events it queued.
    async fn read(frames: &[Vec<u8>]) -> (Result<(), String>, Ended, usize) {
        let (host, mut worker) = UnixStream::pair().unwrap();
        let (read, _write) = Client::split(host, Duration::ZERO).unwrap();
        let (outbox, _drain) = ipc2_common::outbox::queued();
        let (kill, _) = mpsc::unbounded_channel();
        let id = Identity {
            slot: 0,
            generation: 1,
            pid: 1,
            remote: None,
        };
        let conn = Conn::new(id, outbox, kill, Arc::default(), None);
        let mut reader = FramedRead::new(read, conn.arrivals(FrameCodec::new(1024)));
        assert!(
            conn.submit(1, Encoded::plain(Vec::new())).is_ok()
                && conn.submit(2, Encoded::plain(Vec::new())).is_ok()
        );
        for frame in frames {
            worker.write_all(frame).await.unwrap();
        }
        drop(worker);
        let events = EventQueue::new(8);
        let mut total = Ended::default();
        let outcome = conn
            .read(&mut reader, &events, &mut |ended: Ended| {
                total.answered += ended.answered;
                total.failed += ended.failed;
            })
            .await;
        let mut queued = events.take().unwrap();
        let mut count = 0;
        while queued.try_recv().is_ok() {
            count += 1;
        }
        (outcome, total, count)
    }

    #[tokio::test]
    async fn replies_failures_events_and_heartbeats_are_told_apart() {
        let frames = [
            frame(ToHost::Heartbeat, None),
            frame(ToHost::Reply { id: 2 }, Some("two")),
            frame(ToHost::Event, Some("progress")),
            frame(ToHost::Failed { id: 1 }, Some("handler panicked")),
        ];
        let (outcome, ended, events) = read(&frames).await;
        assert_eq!(outcome, Ok(()), "the worker closed the connection");
        assert_eq!(
            ended,
            Ended {
                answered: 1,
                failed: 1
            }
        );
        assert_eq!(events, 1);
    }

    #[tokio::test]
    async fn what_the_host_did_not_ask_for_is_a_violation_that_still_counts_the_batch() {
        let unknown = [
            frame(ToHost::Reply { id: 1 }, Some("one")),
            frame(ToHost::Reply { id: 9 }, Some("nine")),
        ];
        let (outcome, ended, _) = read(&unknown).await;
        assert!(outcome.unwrap_err().contains("request 9"));
        assert_eq!(ended.answered, 1, "the good reply before it is counted");

        let twice = [
            frame(ToHost::Reply { id: 1 }, Some("one")),
            frame(ToHost::Reply { id: 1 }, Some("again")),
        ];
        assert!(read(&twice).await.0.unwrap_err().contains("request 1"));

        let hello = [frame(ToHost::Hello, None)];
        assert_eq!(read(&hello).await.0, Err("a second hello".to_owned()));

        let garbage = [vec![3, 0, 0, 0, 0xff, 0xff, 0xff]];
        assert!(
            read(&garbage)
                .await
                .0
                .unwrap_err()
                .starts_with("bad envelope")
        );

        let bad_reason = [frame(ToHost::Failed { id: 1 }, None)];
        assert!(
            read(&bad_reason)
                .await
                .0
                .unwrap_err()
                .starts_with("bad failure message")
        );
    }
}
