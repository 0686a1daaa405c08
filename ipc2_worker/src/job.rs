//! A job as the worker sees it, and the handle that answers it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ipc2_common::ToHost;
use ipc2_common::outbox::Outbox;
use serde::Serialize;

use crate::cancel::Cancels;
use crate::credit::Credits;
use crate::{Error, StreamSender};

/// One message from the host.
#[derive(Debug)]
pub enum Job<R, W> {
    /// A request: answer it through `tx`.
    Bidirectional {
        /// The request.
        data: R,
        /// Answers the request; dropping it unanswered fails the caller's request.
        tx: ReplySender<W>,
    },
    /// A one-way message (`WorkerSet::notify`): nobody waits for an answer.
    Unidirectional {
        /// The message.
        data: R,
    },
}

/// Answers one request. Obtained from [`Job::Bidirectional`].
///
/// Exactly one answer reaches the host: [`send`](Self::send), [`fail`](Self::fail), or, if the
/// handle is dropped without either, a failure saying so. If the caller gives up on the request
/// (its timeout fired, or it stopped waiting), [`is_cancelled`](Self::is_cancelled) turns true and
/// [`cancelled`](Self::cancelled) completes: a handler can stop early and answer with
/// [`fail`](Self::fail). It must still answer: only then does the host hand this worker another
/// job.
#[must_use = "dropping a ReplySender fails the host's request"]
pub struct ReplySender<W> {
    owed: Owed,
    _reply: std::marker::PhantomData<fn(W)>,
}

/// One request's claim on its connection until it is answered: what a [`ReplySender`] and the
/// [`StreamSender`] it may become share.
#[derive(Debug)]
pub(crate) struct Owed {
    pub(crate) id: u64,
    /// Taken by the answer.
    replies: Option<Arc<Replies>>,
    /// Whether the host asked for a stream (`WorkerSet::send_stream`).
    pub(crate) streaming: bool,
}

impl Owed {
    /// The connection to answer on, until the answer.
    pub(crate) fn replies(&self) -> Option<&Arc<Replies>> {
        self.replies.as_ref()
    }

    /// Whether the host has given up on this request.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.replies
            .as_ref()
            .is_some_and(|replies| replies.cancels.is_cancelled(self.id))
    }

    /// Completes when the host gives up on this request.
    pub(crate) async fn cancelled(&self) {
        match &self.replies {
            Some(replies) => replies.cancels.cancelled(self.id).await,
            None => std::future::pending().await,
        }
    }

    /// Takes the connection to answer on, once; the request's cancellation and credit are
    /// forgotten.
    pub(crate) fn finish(&mut self) -> Option<Arc<Replies>> {
        let replies = self.replies.take()?;
        replies.owed.fetch_sub(1, Ordering::AcqRel);
        replies.cancels.answered(self.id);
        replies.credits.ended(self.id);
        Some(replies)
    }

    /// Fails the request with `reason`, unless it is answered already.
    pub(crate) fn fail(&mut self, reason: &str) {
        if let Some(replies) = self.finish() {
            send_failure(&replies, self.id, reason);
        }
    }
}

/// What the reply handles of one connection share.
#[derive(Debug)]
pub(crate) struct Replies {
    /// The connection to answer on.
    pub(crate) outbox: Outbox,
    /// The largest frame the host accepts.
    pub(crate) max_frame_len: usize,
    /// The requests the host gave up on.
    pub(crate) cancels: Cancels,
    /// What each streaming answer may still send.
    pub(crate) credits: Credits,
    /// How many requests are not answered yet.
    pub(crate) owed: AtomicUsize,
}

impl Replies {
    pub(crate) fn new(outbox: Outbox, max_frame_len: usize) -> Self {
        Self {
            outbox,
            max_frame_len,
            cancels: Cancels::default(),
            credits: Credits::default(),
            owed: AtomicUsize::new(0),
        }
    }

    /// Sends an answer's frame: written at once (see [`Outbox::send_now`]) when it is the last
    /// answer owed, so an idle worker's reply wakes no writer task; queued for the writer's next
    /// batch while others are still to come.
    pub(crate) fn send<B: Serialize + ?Sized>(
        &self,
        header: &ToHost,
        body: Option<&B>,
        max_frame_len: usize,
    ) -> Result<(), ipc2_common::Error> {
        if self.owed.load(Ordering::Acquire) == 0 {
            self.outbox.send_now(header, body, max_frame_len)
        } else {
            self.outbox.send(header, body, max_frame_len)
        }
    }
}

impl<W> ReplySender<W> {
    pub(crate) fn new(id: u64, replies: Arc<Replies>, streaming: bool) -> Self {
        replies.owed.fetch_add(1, Ordering::AcqRel);
        Self {
            owed: Owed {
                id,
                replies: Some(replies),
                streaming,
            },
            _reply: std::marker::PhantomData,
        }
    }

    /// Whether the host has given up on this request.
    pub fn is_cancelled(&self) -> bool {
        self.owed.is_cancelled()
    }

    /// Completes when the host gives up on this request.
    pub async fn cancelled(&self) {
        self.owed.cancelled().await
    }

    /// Whether the host asked for a stream of replies (`send_stream`) rather than one.
    pub fn wants_stream(&self) -> bool {
        self.owed.streaming
    }

    /// Answers with a stream of items instead of one reply, for a host that asked with
    /// `send_stream`. A host that asked for one reply gets the stream's first item as its reply
    /// (and the stream ends there).
    pub fn into_stream(mut self) -> StreamSender<W> {
        StreamSender::new(Owed {
            id: self.owed.id,
            replies: self.owed.replies.take(),
            streaming: self.owed.streaming,
        })
    }

    /// Fails the host's request with `reason` instead of answering it.
    pub fn fail(mut self, reason: &str) {
        self.owed.fail(reason);
    }
}

impl<W: Serialize> ReplySender<W> {
    /// Sends `reply` to the host.
    ///
    /// If the reply cannot be encoded (for example it exceeds the frame limit), the host's request
    /// fails with that reason and the error is returned here too. Fails with [`Error::Closed`] when
    /// the host is gone.
    pub fn send(mut self, reply: W) -> Result<(), Error> {
        let id = self.owed.id;
        let replies = self.owed.finish().ok_or(Error::Closed)?;
        let header = ToHost::Reply { id };
        match replies.send(&header, Some(&reply), replies.max_frame_len) {
            Ok(()) => Ok(()),
            Err(ipc2_common::Error::Closed) => Err(Error::Closed),
            Err(err) => {
                let reason = format!("the worker could not encode its reply: {err}");
                send_failure(&replies, id, &reason);
                Err(err.into())
            }
        }
    }
}

/// Failure reasons are cut to this many bytes.
const MAX_REASON_LEN: usize = 4096;
/// Room for a failure frame's envelope: its tag, the request id and the reason's length, each at
/// most a 10-byte varint.
const FAILURE_OVERHEAD: usize = 32;

/// Fails request `id` with `reason`, cut (at a character boundary) to [`MAX_REASON_LEN`] and to
/// what the host's frame limit leaves room for: a frame over the limit would be a protocol
/// violation that gets this honest worker killed.
pub(crate) fn send_failure(replies: &Replies, id: u64, reason: &str) {
    let header = ToHost::Failed { id };
    let room = replies.max_frame_len.saturating_sub(FAILURE_OVERHEAD);
    let cut = (0..=reason.len().min(MAX_REASON_LEN).min(room))
        .rev()
        .find(|&i| reason.is_char_boundary(i))
        .unwrap_or(0);
    let reason = &reason[..cut];
    if let Err(err) = replies.send(&header, Some(reason), replies.max_frame_len) {
        tracing::debug!("ipc2: could not fail request {id}: {err}");
    }
}

impl<W> Drop for ReplySender<W> {
    fn drop(&mut self) {
        self.owed
            .fail("the worker dropped the reply handle without answering");
    }
}

impl<W> fmt::Debug for ReplySender<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplySender")
            .field("id", &self.owed.id)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}
