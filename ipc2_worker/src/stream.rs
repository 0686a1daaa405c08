//! [`StreamSender`]: answering one request with a stream of items.

use std::fmt;

use ipc2_common::ToHost;
use serde::Serialize;

use crate::Error;
use crate::job::Owed;

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
    owed: Owed,
    _item: std::marker::PhantomData<fn(W)>,
}

impl<W> StreamSender<W> {
    pub(crate) fn new(owed: Owed) -> Self {
        Self {
            owed,
            _item: std::marker::PhantomData,
        }
    }

    /// Whether the host has given up on this stream.
    pub fn is_cancelled(&self) -> bool {
        self.owed.is_cancelled()
    }

    /// Completes when the host gives up on this stream.
    pub async fn cancelled(&self) {
        self.owed.cancelled().await
    }

    /// Ends the stream with `reason`: the host's stream yields it as an error after the items
    /// already sent.
    pub fn fail(mut self, reason: &str) {
        self.owed.fail(reason);
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
        let id = self.owed.id;
        let replies = self.owed.replies().ok_or(Error::Closed)?;
        let header = if self.owed.streaming {
            tokio::select! {
                biased;
                _ = replies.cancels.cancelled(id) => return Err(Error::Cancelled),
                _ = replies.credits.take(id) => {}
            }
            ToHost::Item { id }
        } else {
            ToHost::Reply { id }
        };
        let sent = replies.send(&header, Some(&item), replies.max_frame_len);
        match sent {
            // A host that asked for one reply has it.
            Ok(()) if !self.owed.streaming => {
                self.owed.finish();
                Ok(())
            }
            Ok(()) => Ok(()),
            Err(ipc2_common::Error::Closed) => Err(Error::Closed),
            Err(err) => {
                self.owed
                    .fail(&format!("the worker could not encode a stream item: {err}"));
                Err(err.into())
            }
        }
    }
}

impl<W> Drop for StreamSender<W> {
    fn drop(&mut self) {
        if !self.owed.streaming {
            self.owed.fail(
                "the worker answered with a stream that ended before its first item, but the host asked for one reply",
            );
            return;
        }
        let id = self.owed.id;
        if let Some(replies) = self.owed.finish() {
            let end = ToHost::End { id };
            if let Err(err) = replies.send(&end, None::<&()>, usize::MAX) {
                tracing::debug!("ipc2: could not end stream {id}: {err}");
            }
        }
    }
}

impl<W> fmt::Debug for StreamSender<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSender")
            .field("id", &self.owed.id)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}
