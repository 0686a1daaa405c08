//! [`ReplyStream`]: the answer to a streaming call, read item by item.
//!
//! The items wait in the call's slot on its connection (at most the window of them: the worker
//! sends only as far as the host's credits allow), and reading them grants the worker more, half
//! a window at a time. The stream holds the call's place on its worker until the worker ends it,
//! fails it, or dies; dropping the stream before that cancels the call on the worker, whose
//! handler is then dropped, and the worker is free again once it has said so.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::conn::{Conn, Next, Outcome};
use crate::error::ExitCause;
use crate::{Error, TimeoutAction};

/// Turns an item's body into the stream's item type.
pub(crate) type Decode<T> = Box<dyn Fn(&Conn, &[u8]) -> Result<T, Error> + Send + Sync>;

/// The items a worker streams in answer to one call: a [`Stream`] of `Result<T, Error>`, also
/// readable without any trait with [`next`](Self::next).
///
/// Every item the worker sent arrives, in order, before the stream's end; if the worker fails
/// the stream, dies, or breaks a time limit, the last item is that error. Dropping the stream
/// early cancels the call on the worker.
///
/// ```no_run
/// # use ipc2::{WorkerSet, Error};
/// # async fn _demo(workers: WorkerSet<tokio::net::UnixListener, String, u32>) -> Result<(), Error> {
/// let mut lines = workers.send_stream(3).await?;
/// while let Some(line) = lines.next().await {
///     println!("{}", line?);
/// }
/// # Ok(())
/// # }
/// ```
#[must_use = "a stream does nothing unless read; dropping it cancels the call"]
pub struct ReplyStream<T> {
    conn: Arc<Conn>,
    id: u64,
    decode: Decode<T>,
    /// Half the window: items are credited back in batches of this many.
    batch: u32,
    /// Items read since the last credit.
    read: u32,
    /// The whole stream's time limit, from when the request was written.
    limit: Option<Limit>,
    /// The longest wait for each next item.
    item_limit: Option<(Duration, Pin<Box<Sleep>>)>,
    sent: Instant,
    /// Whether the worker is done with the call (or it was given up): nothing more to read.
    done: bool,
}

struct Limit {
    timer: Pin<Box<Sleep>>,
    limit: Duration,
    action: TimeoutAction,
}

impl<T> ReplyStream<T> {
    pub(crate) fn new(
        conn: Arc<Conn>,
        id: u64,
        window: u32,
        limits: (Option<(Duration, TimeoutAction)>, Option<Duration>),
        decode: Decode<T>,
    ) -> Self {
        let sent = Instant::now();
        let (limit, item_limit) = limits;
        Self {
            conn,
            id,
            decode,
            batch: (window / 2).max(1),
            read: 0,
            limit: limit.map(|(limit, action)| Limit {
                timer: Box::pin(tokio::time::sleep_until(sent + limit)),
                limit,
                action,
            }),
            item_limit: item_limit
                .map(|limit| (limit, Box::pin(tokio::time::sleep_until(sent + limit)))),
            sent,
            done: false,
        }
    }

    /// The next item, or `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many items have arrived and wait to be read: never more than the set's
    /// [`stream_window`](crate::WorkerSetBuilder::stream_window).
    pub fn buffered(&self) -> usize {
        if self.done {
            0
        } else {
            self.conn.buffered(self.id)
        }
    }

    /// The slot id of the worker streaming.
    pub fn worker(&self) -> usize {
        self.conn.id.slot
    }

    /// Ends the stream with `err` after giving up on the call: the worker is told, or killed if
    /// the time limit says so.
    fn give_up(&mut self, err: Error, restart: bool) -> Poll<Option<Result<T, Error>>> {
        self.done = true;
        self.conn.abandon(self.id);
        if restart {
            self.conn.kill(ExitCause::Timeout);
        } else {
            self.conn.cancel(self.id);
        }
        Poll::Ready(Some(Err(err)))
    }
}

impl<T> Stream for ReplyStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        // The whole stream's limit holds even while items keep coming.
        if let Some(limit) = &this.limit
            && Instant::now() >= limit.timer.deadline()
        {
            let err = Error::Timeout {
                worker: this.conn.id.slot,
                limit: limit.limit,
                ran_for: this.sent.elapsed(),
                action: limit.action,
            };
            let restart = limit.action == TimeoutAction::Restart;
            return this.give_up(err, restart);
        }
        match this.conn.poll_next(this.id, cx) {
            Poll::Ready(Next::Item {
                payload,
                body_at,
                fds,
            }) => {
                this.read += 1;
                if this.read >= this.batch {
                    this.conn.credit(this.id, this.read);
                    this.read = 0;
                }
                if let Some((limit, timer)) = &mut this.item_limit {
                    timer.as_mut().reset(Instant::now() + *limit);
                }
                let item = ipc2_common::fd::receiving(fds, || {
                    (this.decode)(&this.conn, &payload[body_at..])
                });
                if item.is_err() {
                    // An item that does not decode gets its worker replaced; one of another
                    // method's type is the worker's mistake too. Either way nothing more is read,
                    // and the worker is told to stop.
                    this.done = true;
                    this.conn.abandon(this.id);
                    this.conn.cancel(this.id);
                }
                return Poll::Ready(Some(item));
            }
            Poll::Ready(Next::Done(outcome)) => {
                this.done = true;
                return Poll::Ready(match outcome {
                    Outcome::End => None,
                    Outcome::Failed(reason) => Some(Err(Error::Remote { reason })),
                    Outcome::Exited { exit, .. } => Some(Err(Error::WorkerExited(exit))),
                    Outcome::Gone => Some(Err(Error::TasksGone)),
                    // `poll_next` turns a plain reply into an item.
                    Outcome::Reply { .. } => None,
                });
            }
            Poll::Pending => {}
        }
        let worker = this.conn.id.slot;
        let mut expired = None;
        if let Some(limit) = &mut this.limit
            && limit.timer.as_mut().poll(cx).is_ready()
        {
            let err = Error::Timeout {
                worker,
                limit: limit.limit,
                ran_for: this.sent.elapsed(),
                action: limit.action,
            };
            expired = Some((err, limit.action == TimeoutAction::Restart));
        }
        if let Some((limit, timer)) = &mut this.item_limit
            && expired.is_none()
            && timer.as_mut().poll(cx).is_ready()
        {
            let err = Error::ItemTimeout {
                worker,
                limit: *limit,
            };
            expired = Some((err, false));
        }
        match expired {
            Some((err, restart)) => this.give_up(err, restart),
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for ReplyStream<T> {
    fn drop(&mut self) {
        if !self.done {
            self.conn.abandon(self.id);
            self.conn.cancel(self.id);
        }
    }
}

impl<T> fmt::Debug for ReplyStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyStream")
            .field("worker", &self.conn.id.slot)
            .field("id", &self.id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
