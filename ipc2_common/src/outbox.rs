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
//! A sender that expects no other frame soon (a lone call, the last answer owed) sends with
//! [`Outbox::send_now`]: where the transport allows it ([`Write::direct`]) and nothing is queued
//! or being written, it writes its small frame to the socket itself, so an idle connection's
//! message costs no wake-up of the writer task, which on a multi-thread runtime is a thread
//! wake-up. What the socket does not take at once goes to the front of the queue for the writer,
//! so frames keep their order. Under load senders queue, and the writer sends each batch with
//! one write: a write per frame would cost the kernel a buffer and a wake-up of the peer each.
//!
//! A frame whose body carries file descriptors ([`crate::fd`]) is queued as a chunk of its own,
//! after a [`Header::fds`] frame that announces them, and written with the descriptors attached
//! to its first byte. So is a frame whose body is at least [`Outbox::share_above`] bytes: its
//! body goes into a sealed memory file ([`crate::shm`]), sent after a [`Header::shared`]
//! announcement, and the frame keeps only its header.
//!
//! The writer ends, shutting the connection's write side down so that the peer sees
//! end-of-stream, once every [`Outbox`] handle is dropped and everything queued is written.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use crate::codec::{Encoded, encode, encode_frame};
use crate::frame::HEADER_LEN;
use crate::{Direct, Error, Header, Write, buffers};

/// Small frames are appended to one batch until it holds this many bytes.
const MAX_BATCH: usize = buffers::LARGE;

/// Emptied batch buffers kept for reuse.
const SPARE_BATCHES: usize = 4;

/// Creates the outbox of a connection written through `writer`: the handle senders share, and
/// the end its writer drains. Senders write small frames themselves when `writer` offers a
/// [`Write::direct`] handle, the connection is idle, and the outbox is created on a
/// multi-thread runtime: only there does waking the writer task cost a thread wake-up. On a
/// current-thread runtime the writer runs on the sender's thread once it yields, and batches
/// what other tasks send meanwhile, which a write of each frame would lose.
pub fn outbox(writer: &dyn Write) -> (Outbox, Drain) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi_thread =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    with(
        writer.direct().filter(|_| multi_thread),
        writer.passes_fds(),
    )
}

/// An outbox whose every frame goes through the writer task, and that passes no descriptors.
pub fn queued() -> (Outbox, Drain) {
    with(None, false)
}

fn with(direct: Option<Arc<dyn Direct>>, passes_fds: bool) -> (Outbox, Drain) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            chunks: VecDeque::new(),
            spare: Vec::new(),
            writer_gone: false,
            woken: false,
            writing: false,
        }),
        senders: AtomicUsize::new(1),
        wake: Notify::new(),
        direct,
        passes_fds,
        share_above: AtomicUsize::new(usize::MAX),
    });
    (
        Outbox {
            shared: shared.clone(),
        },
        Drain {
            shared,
            taken: VecDeque::new(),
            writing: false,
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
    /// Whether this writer holds the queue's `writing` claim.
    writing: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// How many `Outbox` handles exist.
    senders: AtomicUsize,
    wake: Notify,
    /// Writes to the socket without the writer task, where the transport can.
    direct: Option<Arc<dyn Direct>>,
    /// Whether the transport passes file descriptors.
    passes_fds: bool,
    /// The body length from which a frame's body goes through shared memory; `usize::MAX` for
    /// never.
    share_above: AtomicUsize,
}

#[derive(Debug)]
struct Queue {
    chunks: VecDeque<Chunk>,
    spare: Vec<Vec<u8>>,
    writer_gone: bool,
    /// Whether the writer has been told there is work since it last looked.
    woken: bool,
    /// Whether someone (the writer task, or a sender writing directly) is writing to the
    /// socket: no one else may, or frames could interleave.
    writing: bool,
}

#[derive(Debug)]
enum Chunk {
    /// Small frames, back to back.
    Batch(Vec<u8>),
    /// One large frame in a recycled buffer.
    Large(Vec<u8>),
    /// Frames (the announcement, then the frame) written with `fds` attached.
    WithFds { frames: Vec<u8>, fds: Vec<OwnedFd> },
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
    pub fn send<H: Header + std::fmt::Debug, B: Serialize + ?Sized>(
        &self,
        header: &H,
        body: Option<&B>,
        max_frame_len: usize,
    ) -> Result<(), Error> {
        self.encode_and_send(header, body, max_frame_len, false)
    }

    /// Like [`send`](Self::send), for a frame no other is expected to follow soon: written at
    /// once from this task if the connection is idle (see the [module docs](self)).
    pub fn send_now<H: Header + std::fmt::Debug, B: Serialize + ?Sized>(
        &self,
        header: &H,
        body: Option<&B>,
        max_frame_len: usize,
    ) -> Result<(), Error> {
        self.encode_and_send(header, body, max_frame_len, true)
    }

    /// [`send`](Self::send), or [`send_now`](Self::send_now) if `now`.
    fn encode_and_send<H: Header + std::fmt::Debug, B: Serialize + ?Sized>(
        &self,
        header: &H,
        body: Option<&B>,
        max_frame_len: usize,
        now: bool,
    ) -> Result<(), Error> {
        // Encoded before the outbox is locked, so that no user `Serialize` code runs under it.
        self.send_encoded(header, encode(header, body, max_frame_len)?, now)
    }

    /// From now on, frames whose body is at least `len` bytes send it through shared memory
    /// ([`crate::shm`]); `None` for never, the default. Has no effect on a transport that cannot
    /// pass file descriptors, where every body goes through the socket.
    pub fn share_above(&self, len: Option<usize>) {
        let len = len.filter(|_| self.shared.passes_fds).unwrap_or(usize::MAX);
        self.shared.share_above.store(len, Ordering::Relaxed);
    }

    /// Queues `encoded`, a frame of `header`'s type whose body may carry file descriptors and
    /// may be large enough to go through shared memory (see the [module docs](self)); written at
    /// once if `now` and the connection is idle, like [`send_frame_now`](Self::send_frame_now).
    /// Fails with [`Error::BadFds`] for descriptors on a frame that may not carry them
    /// ([`Header::carries_fds`]), with [`Error::CannotPassFds`] on a transport that cannot pass
    /// them, and with [`Error::Closed`] once the writer has stopped.
    pub fn send_encoded<H: Header + std::fmt::Debug>(
        &self,
        header: &H,
        encoded: Encoded,
        now: bool,
    ) -> Result<(), Error> {
        let Encoded { mut frame, mut fds } = encoded;
        let shared = self.share::<H>(&mut frame);
        if fds.is_empty() && shared.is_none() {
            let sent = if now {
                self.send_frame_now(frame)
            } else {
                self.send_frame(frame)
            };
            return sent.map_err(|_| Error::Closed);
        }
        if !fds.is_empty() && !header.carries_fds() {
            return Err(Error::BadFds {
                reason: format!(
                    "a {header:?} frame cannot carry file descriptors: send them in a job or a reply"
                ),
            });
        }
        if !fds.is_empty() && !self.shared.passes_fds {
            return Err(Error::CannotPassFds { count: fds.len() });
        }
        let mut frames = Vec::new();
        if !fds.is_empty() {
            frames = encode_frame(&H::fds(fds.len() as u64), None::<&()>, usize::MAX)?;
        }
        if let Some((file, len)) = shared {
            frames.extend(encode_frame(&H::shared(len), None::<&()>, usize::MAX)?);
            fds.push(file);
        }
        frames.extend_from_slice(&frame);
        buffers::give(frame);
        let mut queue = self.shared.queue();
        if queue.writer_gone {
            return Err(Error::Closed);
        }
        queue.chunks.push_back(Chunk::WithFds { frames, fds });
        self.wake(queue);
        Ok(())
    }

    /// Moves the body of `frame` (of a `H` header) into a sealed memory file if it is at least
    /// the threshold long, leaving only the header in `frame`; returns the file and the body's
    /// length. `None`, with `frame` as it was, for a shorter body, or if the file cannot be made:
    /// the body then goes through the socket.
    fn share<H: Header>(&self, frame: &mut Vec<u8>) -> Option<(OwnedFd, u64)> {
        let threshold = self.shared.share_above.load(Ordering::Relaxed);
        if frame.len() < threshold.saturating_add(HEADER_LEN) {
            return None;
        }
        let payload = frame.get(HEADER_LEN..)?;
        let (_, body) = crate::codec::decode_header::<H>(payload).ok()?;
        if body.len() < threshold.max(1) {
            return None;
        }
        let header_end = frame.len() - body.len();
        let file = match crate::shm::share(body) {
            Ok(file) => file,
            Err(err) => {
                tracing::debug!(
                    "ipc2: sending a {}-byte body through the socket: no memory file for it ({err})",
                    body.len()
                );
                return None;
            }
        };
        let len = body.len() as u64;
        frame.truncate(header_end);
        let payload_len = (header_end - HEADER_LEN) as u32;
        frame[..HEADER_LEN].copy_from_slice(&payload_len.to_le_bytes());
        Some((file, len))
    }

    /// Like [`send_frame`](Self::send_frame), written at once from this task if the connection
    /// is idle (see [`send_now`](Self::send_now)).
    pub fn send_frame_now(&self, frame: Vec<u8>) -> Result<(), Vec<u8>> {
        if frame.len() < buffers::LARGE
            && let Some(direct) = &self.shared.direct
        {
            match self.write_now(&**direct, &frame) {
                Ok(true) => {
                    buffers::give_small(frame);
                    return Ok(());
                }
                Ok(false) => {}
                Err(_) => return Err(frame),
            }
        }
        self.send_frame(frame)
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

    /// Writes `frame` to the socket at once if nothing is queued and no one is writing; true if
    /// it did (what the socket did not take is queued first, for the writer), false if the frame
    /// must be queued.
    fn write_now(&self, direct: &dyn Direct, frame: &[u8]) -> Result<bool, Error> {
        {
            let mut queue = self.shared.queue();
            if queue.writer_gone {
                return Err(Error::Closed);
            }
            if queue.writing || !queue.chunks.is_empty() {
                return Ok(false);
            }
            queue.writing = true;
        }
        let mut written = 0;
        while written < frame.len() {
            match direct.try_write(&frame[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // Full (or broken): the writer task takes the rest, and meets the same error if
                // the connection is broken.
                Err(_) => break,
            }
        }
        let mut queue = self.shared.queue();
        queue.writing = false;
        if queue.writer_gone && written < frame.len() {
            return Err(Error::Closed);
        }
        if written < frame.len() {
            let mut rest = queue.spare.pop().unwrap_or_default();
            rest.extend_from_slice(&frame[written..]);
            queue.chunks.push_front(Chunk::Batch(rest));
        }
        if !queue.chunks.is_empty() {
            self.wake(queue);
        }
        Ok(true)
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
                if std::mem::take(&mut self.writing) {
                    queue.writing = false;
                }
                // While a sender writes directly, it wakes the writer for what queues meanwhile.
                if !queue.writing && !queue.chunks.is_empty() {
                    queue.writing = true;
                    self.writing = true;
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
            Chunk::WithFds { .. } => {}
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
pub async fn write_frames<W: Write>(mut drain: Drain, mut io: W) -> io::Result<()> {
    while drain.next().await {
        while let Some(chunk) = drain.taken.pop_front() {
            match &chunk {
                Chunk::Batch(bytes) | Chunk::Large(bytes) => io.write_all(bytes).await?,
                Chunk::WithFds { frames, fds } => write_with_fds(&mut io, frames, fds).await?,
            }
            drain.recycle(chunk);
        }
        io.flush().await?;
    }
    io.shutdown().await
}

/// Writes `data` whole, with `fds` attached to its first byte.
async fn write_with_fds<W: Write>(io: &mut W, data: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
    let fds: Vec<_> = fds.iter().map(AsFd::as_fd).collect();
    let sent =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut *io).poll_write_fds(cx, data, &fds))
            .await?;
    if sent == 0 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    io.write_all(&data[sent..]).await
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::{FrameCodec, ToWorker, codec};

    impl Write for tokio::io::DuplexStream {}

    #[tokio::test]
    async fn frames_small_and_large_arrive_in_order_then_end_of_stream() {
        let (outbox, drain) = queued();
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

    /// Reads `stream` to its end and decodes `count` frames of [`frame_of`] from it: their ids,
    /// in the order they arrived.
    async fn read_frames(mut stream: impl tokio::io::AsyncRead + Unpin, count: u64) -> Vec<u64> {
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        let mut codec = FrameCodec::new(usize::MAX);
        let mut buf = bytes::BytesMut::from(&bytes[..]);
        let mut ids = Vec::new();
        for _ in 0..count {
            use tokio_util::codec::Decoder;
            let payload = codec.decode(&mut buf).unwrap().unwrap();
            let (header, body) = codec::decode_header::<ToWorker>(&payload).unwrap();
            let ToWorker::Request { id } = header else {
                panic!("{header:?}")
            };
            assert_eq!(codec::decode_body::<Vec<u8>>(body).unwrap(), frame_body(id));
            ids.push(id);
        }
        assert!(buf.is_empty());
        ids
    }

    fn frame_body(id: u64) -> Vec<u8> {
        vec![id as u8; 1000 + (id as usize * 37) % 3000]
    }

    fn frame_of(id: u64) -> Vec<u8> {
        encode_frame(&ToWorker::Request { id }, Some(&frame_body(id)), usize::MAX).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_connection_is_written_by_the_sender_itself() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (_read, write) = crate::unix::split(a, std::time::Duration::ZERO).unwrap();
        let (outbox, drain) = super::outbox(&write);
        // No writer task runs: only a direct write can deliver this.
        outbox.send_frame_now(frame_of(7)).unwrap();
        let mut len = [0u8; 4];
        let mut b = b;
        b.read_exact(&mut len).await.unwrap();
        assert_eq!(
            u32::from_le_bytes(len) as usize + 4,
            frame_of(7).len(),
            "the frame arrived without the writer"
        );
        drop((outbox, drain));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_and_queued_frames_keep_their_order_when_the_socket_fills() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (_read, write) = crate::unix::split(a, std::time::Duration::ZERO).unwrap();
        let (outbox, drain) = super::outbox(&write);
        // Before the writer runs, direct writes fill the socket (about 3 MB, past the send buffer
        // `unix` asks for); the one cut short queues its rest, and every later frame queues
        // behind it.
        for n in 0..1200u64 {
            outbox.send_frame_now(frame_of(4000 + n)).unwrap();
        }
        let writer = tokio::spawn(write_frames(drain, write));
        // Then four senders at once, direct and queued mixed.
        let senders: Vec<_> = (0..4u64)
            .map(|sender| {
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    for n in 0..500u64 {
                        let id = sender * 1000 + n;
                        if n % 3 == 0 {
                            outbox.send_frame(frame_of(id)).unwrap();
                        } else {
                            outbox.send_frame_now(frame_of(id)).unwrap();
                        }
                        if n % 50 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.await.unwrap();
        }
        drop(outbox);
        let ids = read_frames(b, 3200).await;
        writer.await.unwrap().unwrap();
        assert_eq!(ids[..1200], (4000..5200).collect::<Vec<_>>());
        for sender in 0..4 {
            let own: Vec<u64> = ids
                .iter()
                .copied()
                .filter(|id| id / 1000 == sender)
                .collect();
            let expected: Vec<u64> = (0..500).map(|n| sender * 1000 + n).collect();
            assert_eq!(
                own, expected,
                "sender {sender}'s frames out of order or lost"
            );
        }
    }

    #[tokio::test]
    async fn descriptors_go_only_in_jobs_and_replies_and_only_where_they_can_pass() {
        #[derive(serde::Serialize)]
        struct WithFile(#[serde(with = "crate::fd")] std::fs::File);
        let file = || WithFile(tempfile::tempfile().unwrap());
        let (a, _b) = tokio::net::UnixStream::pair().unwrap();
        let (_read, write) = crate::unix::split(a, std::time::Duration::ZERO).unwrap();
        let (outbox, _drain) = super::outbox(&write);
        let err = outbox
            .send(&crate::ToHost::Event, Some(&file()), usize::MAX)
            .unwrap_err();
        assert!(
            err.to_string().contains("Event frame cannot carry"),
            "{err}"
        );
        outbox
            .send(&crate::ToHost::Reply { id: 1 }, Some(&file()), usize::MAX)
            .unwrap();

        let (outbox, _drain) = queued();
        let err = outbox
            .send(&crate::ToHost::Reply { id: 1 }, Some(&file()), usize::MAX)
            .unwrap_err();
        assert!(matches!(err, Error::CannotPassFds { count: 1 }), "{err}");
    }

    /// Sends `bodies` as replies 0, 1, ... through an outbox over a real Unix socket that shares
    /// bodies of `share_above` bytes or more, then reads the frames on the other end as a
    /// connection's reader does: each reply's body, and whether it came in shared memory.
    async fn sent_through(share_above: Option<usize>, bodies: &[Vec<u8>]) -> Vec<(Vec<u8>, bool)> {
        use tokio_util::codec::Decoder;
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (_, write) = crate::unix::split(a, std::time::Duration::ZERO).unwrap();
        let (mut read, _) = crate::unix::split(b, std::time::Duration::ZERO).unwrap();
        let (outbox, drain) = super::outbox(&write);
        outbox.share_above(share_above);
        let writer = tokio::spawn(write_frames(drain, write));
        for (id, body) in bodies.iter().enumerate() {
            let body = serde_bytes::Bytes::new(body);
            let reply = crate::ToHost::Reply { id: id as u64 };
            outbox.send(&reply, Some(&body), usize::MAX).unwrap();
        }
        drop(outbox);
        let fds = crate::Read::received_fds(&read);
        let (mut codec, mut buf) = (FrameCodec::new(1 << 30), bytes::BytesMut::new());
        let mut attached = crate::Attached::default();
        let mut got = Vec::new();
        loop {
            while let Some(payload) = codec.decode(&mut buf).unwrap() {
                let (header, body) = codec::decode_header::<crate::ToHost>(&payload).unwrap();
                if attached.take_in(&header, fds.as_ref(), 1 << 30).unwrap() {
                    continue;
                }
                let (_, shared) = attached.for_frame(&header, body).unwrap();
                let body = shared.as_deref().unwrap_or(body);
                let body: serde_bytes::ByteBuf = codec::decode_body(body).unwrap();
                got.push((body.into_vec(), shared.is_some()));
            }
            if read.read_buf(&mut buf).await.unwrap() == 0 {
                break;
            }
        }
        writer.await.unwrap().unwrap();
        got
    }

    #[tokio::test]
    async fn bodies_from_the_threshold_up_go_through_shared_memory_and_arrive_whole() {
        let bodies: Vec<Vec<u8>> = [10, 4095, 4096, 1 << 20, 3, 100_000]
            .iter()
            .map(|&len| (0..len).map(|i| (i % 251) as u8).collect())
            .collect();
        let got = sent_through(Some(4096), &bodies).await;
        // A body's encoding is its length (a varint: 3 bytes from 251 up, 5 from 65,536) and
        // then its bytes, so 4095 bytes encode to 4098 and are shared too.
        let shared: Vec<bool> = got.iter().map(|(_, shared)| *shared).collect();
        assert_eq!(shared, [false, true, true, true, false, true]);
        let received: Vec<Vec<u8>> = got.into_iter().map(|(body, _)| body).collect();
        assert_eq!(received, bodies);

        let got = sent_through(None, &bodies).await;
        assert!(got.iter().all(|(_, shared)| !shared));
        let received: Vec<Vec<u8>> = got.into_iter().map(|(body, _)| body).collect();
        assert_eq!(received, bodies);
    }

    #[tokio::test]
    async fn a_transport_that_cannot_pass_descriptors_never_shares() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let (outbox, drain) = queued();
        outbox.share_above(Some(1));
        let writer = tokio::spawn(write_frames(drain, a));
        outbox
            .send(&ToWorker::Notify, Some(&vec![7u8; 10_000]), usize::MAX)
            .unwrap();
        drop(outbox);
        let mut bytes = Vec::new();
        b.read_to_end(&mut bytes).await.unwrap();
        writer.await.unwrap().unwrap();
        let (header, body) = codec::decode_header::<ToWorker>(&bytes[HEADER_LEN..]).unwrap();
        assert_eq!(header, ToWorker::Notify);
        assert_eq!(
            codec::decode_body::<Vec<u8>>(body).unwrap(),
            vec![7u8; 10_000]
        );
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_and_nothing_is_queued() {
        let (outbox, drain) = queued();
        let err = outbox
            .send(&ToWorker::Notify, Some(&[0u8; 100][..]), 16)
            .unwrap_err();
        assert!(matches!(err, Error::FrameTooLarge { max: 16, .. }));
        assert!(drain.shared.queue().chunks.is_empty());
    }

    #[tokio::test]
    async fn sending_after_the_writer_stopped_is_closed() {
        let (outbox, drain) = queued();
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
