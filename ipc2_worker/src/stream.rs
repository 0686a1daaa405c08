//! [`StreamSender`]: answering one request with a stream of items.

use std::fmt;
use std::sync::Arc;

use ipc2_common::ToHost;
use serde::Serialize;

use crate::Error;
use crate::job::{Replies, send_failure};

/// Answers one streaming request with items, as fast as the host reads them. Obtained from
/// [`ReplySender::into_stream`](crate::ReplySender::into_stream); the host reads the items from
/// the stream its `send_stream` call returned.
///
/// Each [`send`](Self::send) waits while the host's window is full (it has that many items
/// unread), so a worker that produces faster than its host reads is held back. Dropping the
/// sender ends the stream; [`fail`](Self::fail) ends it with an error instead. When the host drops
/// its stream (or its time limit expires), `send` fails with [`Error::Cancelled`]: stop producing
/// and drop the sender, which frees the worker for its next job.
///
/// If the host asked for one reply (`send`, not `send_stream`), the first item is that reply and
/// later sends fail with [`Error::Closed`]; a stream that ends before its first item fails the
/// host's call.
///
/// ```no_run
/// # use ipc2::worker::Job;
/// # async fn _demo(job: Job<u32, String>) -> Result<(), ipc2::worker::Error> {
/// if let Job::Bidirectional { data: lines, tx } = job {
///     let mut items = tx.into_stream();
///     for i in 0..lines {
///         items.send(format!("line {i}")).await?;
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[must_use = "dropping a StreamSender ends the stream at once"]
pub struct StreamSender<W> {
    id: u64,
    /// Taken when the stream ends.
    replies: Option<Arc<Replies>>,
    /// Whether the host asked for a stream; if not, the first item is its one reply.
    streaming: bool,
    _item: std::marker::PhantomData<fn(W)>,
}

impl<W> StreamSender<W> {
    pub(crate) fn new(id: u64, replies: Option<Arc<Replies>>, streaming: bool) -> Self {
        Self {
            id,
            replies,
            streaming,
            _item: std::marker::PhantomData,
        }
    }

    /// Whether the host has given up on this stream.
    pub fn is_cancelled(&self) -> bool {
        self.replies
            .as_ref()
            .is_some_and(|replies| replies.cancels.is_cancelled(self.id))
    }

    /// Completes when the host gives up on this stream.
    pub async fn cancelled(&self) {
        match &self.replies {
            Some(replies) => replies.cancels.cancelled(self.id).await,
            None => std::future::pending().await,
        }
    }

    /// Ends the stream with `reason`: the host's stream yields it as an error after the items
    /// already sent.
    pub fn fail(mut self, reason: &str) {
        if let Some(replies) = self.finish() {
            send_failure(&replies, self.id, reason);
        }
    }

    /// Takes the connection to answer on, once, and forgets the stream's credit and cancellation.
    fn finish(&mut self) -> Option<Arc<Replies>> {
        let replies = self.replies.take()?;
        replies.cancels.answered(self.id);
        replies.credits.ended(self.id);
        Some(replies)
    }
}

impl<W: Serialize> StreamSender<W> {
    /// Sends the next item, once the host's window has room for it.
    ///
    /// Fails with [`Error::Cancelled`] once the host has given up on the stream, and with
    /// [`Error::Closed`] when the host is gone or the stream has ended. An item that cannot be
    /// encoded (it exceeds the frame limit, say) ends the stream with that reason, on the host
    /// too, and the error is returned here.
    pub async fn send(&mut self, item: W) -> Result<(), Error> {
        let replies = self.replies.as_ref().ok_or(Error::Closed)?;
        let header = if self.streaming {
            tokio::select! {
                biased;
                _ = replies.cancels.cancelled(self.id) => return Err(Error::Cancelled),
                _ = replies.credits.take(self.id) => {}
            }
            ToHost::Item { id: self.id }
        } else {
            ToHost::Reply { id: self.id }
        };
        let sent = replies
            .outbox
            .send(&header, Some(&item), replies.max_frame_len);
        if !self.streaming && sent.is_ok() {
            // That was the one reply.
            self.finish();
        }
        match sent {
            Ok(()) => Ok(()),
            Err(ipc2_common::Error::Closed) => Err(Error::Closed),
            Err(err) => {
                let reason = format!("the worker could not encode a stream item: {err}");
                if let Some(replies) = self.finish() {
                    send_failure(&replies, self.id, &reason);
                }
                Err(err.into())
            }
        }
    }
}

impl<W> Drop for StreamSender<W> {
    fn drop(&mut self) {
        let Some(replies) = self.finish() else {
            return;
        };
        if !self.streaming {
            send_failure(
                &replies,
                self.id,
                "the worker answered with a stream that ended before its first item, but the host asked for one reply",
            );
            return;
        }
        let end = ToHost::End { id: self.id };
        if let Err(err) = replies.outbox.send(&end, None::<&()>, usize::MAX) {
            tracing::debug!("ipc2: could not end stream {}: {err}", self.id);
        }
    }
}

impl<W> fmt::Debug for StreamSender<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSender")
            .field("id", &self.id)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}
