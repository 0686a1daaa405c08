//! The frames waiting to be written on a connection, and the task body that writes them.
//!
//! Each connection has one [`Outbox`], shared by everything that sends on it (callers on the
//! host; reply handles, events and heartbeats on the worker), and one writer task running
//! [`write_frames`]. A sender encodes its frame on its own task and appends it to the outbox: a
//! small frame is copied into the batch buffer that the writer will send next, so a busy
//! connection costs one allocation-free append per frame and one write per batch; a large frame
//! (64 KiB or more) is encoded into a recycled buffer that is queued, and written, on its own.
//! The writer is woken once per batch, not once per frame.
//!
//! The writer ends, shutting the connection's write side down so that the peer sees
//! end-of-stream, once every [`Outbox`] handle is dropped and everything queued is written.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::codec::encode_frame;
use crate::{Error, Header, buffers};

/// Small frames are appended to one batch until it holds this many bytes.
const MAX_BATCH: usize = buffers::LARGE;

/// Emptied batch buffers kept for reuse.
const SPARE_BATCHES: usize = 4;

/// Creates a connection's outbox: the handle senders share, and the end its writer drains.
pub fn outbox() -> (Outbox, Drain) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            chunks: VecDeque::new(),
            spare: Vec::new(),
            writer_gone: false,
            woken: false,
        }),
        senders: AtomicUsize::new(1),
        wake: Notify::new(),
    });
    (
        Outbox {
            shared: shared.clone(),
        },
        Drain {
            shared,
            taken: VecDeque::new(),
        },
    )
}

/// The sending side of a connection. Cloning it adds a sender; the writer stops once every
/// sender is dropped. See the [module docs](self).
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The writer's side of a connection's outbox: pass it to [`write_frames`].
#[derive(Debug)]
pub struct Drain {
    shared: Arc<Shared>,
    /// The chunks being written, swapped with the queue's empty one each round.
    taken: VecDeque<Chunk>,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// How many `Outbox` handles exist.
    senders: AtomicUsize,
    wake: Notify,
}

#[derive(Debug)]
struct Queue {
    chunks: VecDeque<Chunk>,
    spare: Vec<Vec<u8>>,
    writer_gone: bool,
    /// Whether the writer has been told there is work since it last looked.
    woken: bool,
}

#[derive(Debug)]
enum Chunk {
    /// Small frames, back to back.
    Batch(Vec<u8>),
    /// One large frame in a recycled buffer.
    Large(Vec<u8>),
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Outbox {
    /// Encodes `header` and then `body` (if any) as one frame and queues it.
    ///
    /// Fails, with nothing queued, if the frame cannot be encoded or its payload exceeds
    /// `max_frame_len` ([`Error::FrameTooLarge`], found before anything is allocated for it), or
    /// with [`Error::Closed`] once the writer has stopped.
    pub fn send<H: Header, B: Serialize + ?Sized>(
        &self,
        header: &H,
        body: Option<&B>,
        max_frame_len: usize,
    ) -> Result<(), Error> {
        // Encoded before the outbox is locked, so that no user `Serialize` code runs under it.
        let frame = encode_frame(header, body, max_frame_len)?;
        self.send_frame(frame).map_err(|_| Error::Closed)
    }

    /// Queues a frame that is already encoded (length prefix included). Gives it back if the
    /// writer has stopped.
    pub fn send_frame(&self, frame: Vec<u8>) -> Result<(), Vec<u8>> {
        if frame.len() < buffers::LARGE {
            return match self.push_small(&frame) {
                Ok(()) => {
                    buffers::give_small(frame);
                    Ok(())
                }
                Err(_) => Err(frame),
            };
        }
        let mut queue = self.shared.queue();
        if queue.writer_gone {
            return Err(frame);
        }
        queue.chunks.push_back(Chunk::Large(frame));
        self.wake(queue);
        Ok(())
    }

    /// Whether the writer has stopped, so that nothing sent now would be written.
    pub fn is_closed(&self) -> bool {
        self.shared.queue().writer_gone
    }

    fn push_small(&self, frame: &[u8]) -> Result<(), Error> {
        let mut queue = self.shared.queue();
        if queue.writer_gone {
            return Err(Error::Closed);
        }
        let batch = match queue.chunks.back_mut() {
            Some(Chunk::Batch(batch)) if batch.len() + frame.len() <= MAX_BATCH => batch,
            _ => {
                let batch = queue.spare.pop().unwrap_or_default();
                queue.chunks.push_back(Chunk::Batch(batch));
                match queue.chunks.back_mut() {
                    Some(Chunk::Batch(batch)) => batch,
                    _ => unreachable!("a batch was just pushed"),
                }
            }
        };
        batch.extend_from_slice(frame);
        self.wake(queue);
        Ok(())
    }

    fn wake(&self, mut queue: MutexGuard<'_, Queue>) {
        if !std::mem::replace(&mut queue.woken, true) {
            drop(queue);
            self.shared.wake.notify_one();
        }
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // A writer between its check and its wait still gets this: `notify_one` leaves a
            // permit when no one is waiting yet.
            self.shared.wake.notify_one();
        }
    }
}

impl Drain {
    /// Waits for queued chunks and moves them all to `taken`; false once nothing is queued and
    /// every sender is gone.
    async fn next(&mut self) -> bool {
        loop {
            let notified = self.shared.wake.notified();
            {
                let mut queue = self.shared.queue();
                queue.woken = false;
                if !queue.chunks.is_empty() {
                    std::mem::swap(&mut queue.chunks, &mut self.taken);
                    return true;
                }
                if self.shared.senders.load(Ordering::Acquire) == 0 {
                    return false;
                }
            }
            notified.await;
        }
    }

    /// Takes back the buffer of a written chunk.
    fn recycle(&self, chunk: Chunk) {
        match chunk {
            Chunk::Batch(mut batch) => {
                batch.clear();
                let mut queue = self.shared.queue();
                if queue.spare.len() < SPARE_BATCHES && batch.capacity() <= MAX_BATCH * 2 {
                    queue.spare.push(batch);
                }
            }
            Chunk::Large(frame) => buffers::give(frame),
        }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        let mut queue = self.shared.queue();
        queue.writer_gone = true;
        queue.chunks.clear();
    }
}

/// Writes every frame queued in `drain`'s outbox to `io`, in order, until every sender is
/// dropped; then shuts the write side down so the peer sees end-of-stream.
pub async fn write_frames<W: AsyncWrite + Unpin>(mut drain: Drain, mut io: W) -> io::Result<()> {
    while drain.next().await {
        while let Some(chunk) = drain.taken.pop_front() {
            let (Chunk::Batch(bytes) | Chunk::Large(bytes)) = &chunk;
            io.write_all(bytes).await?;
            drain.recycle(chunk);
        }
        io.flush().await?;
    }
    io.shutdown().await
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::{FrameCodec, ToWorker, codec};

    #[tokio::test]
    async fn frames_small_and_large_arrive_in_order_then_end_of_stream() {
        let (outbox, drain) = outbox();
        let (a, b) = tokio::io::duplex(4096);
        let writer = tokio::spawn(write_frames(drain, a));
        // Small frames batched, with a large one (every tenth) between them.
        let len = |i: u64| if i % 10 == 9 { MAX_BATCH } else { i as usize };
        for i in 0..100u64 {
            let body = vec![i as u8; len(i)];
            outbox
                .send(&ToWorker::Request { id: i }, Some(&body[..]), usize::MAX)
                .unwrap();
        }
        drop(outbox);
        let mut stream = Vec::new();
        let mut b = b;
        b.read_to_end(&mut stream).await.unwrap();
        writer.await.unwrap().unwrap();

        let mut codec = FrameCodec::new(usize::MAX);
        let mut buf = bytes::BytesMut::from(&stream[..]);
        for i in 0..100u64 {
            use tokio_util::codec::Decoder;
            let payload = codec.decode(&mut buf).unwrap().unwrap();
            let (header, body) = codec::decode_header::<ToWorker>(&payload).unwrap();
            assert_eq!(header, ToWorker::Request { id: i });
            let body: Vec<u8> = codec::decode_body(body).unwrap();
            assert_eq!(body, vec![i as u8; len(i)]);
        }
        assert!(buf.is_empty());
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_and_nothing_is_queued() {
        let (outbox, drain) = outbox();
        let err = outbox
            .send(&ToWorker::Notify, Some(&[0u8; 100][..]), 16)
            .unwrap_err();
        assert!(matches!(err, Error::FrameTooLarge { max: 16, .. }));
        assert!(drain.shared.queue().chunks.is_empty());
    }

    #[tokio::test]
    async fn sending_after_the_writer_stopped_is_closed() {
        let (outbox, drain) = outbox();
        let (a, b) = tokio::io::duplex(16);
        drop(b);
        outbox.send_frame(vec![0; 64]).unwrap();
        outbox.send_frame(vec![0; 64]).unwrap();
        assert!(write_frames(drain, a).await.is_err());
        assert!(outbox.is_closed());
        assert!(matches!(
            outbox.send(&ToWorker::Notify, None::<&()>, 64),
            Err(Error::Closed)
        ));
    }
}
