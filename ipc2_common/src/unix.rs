//! The two halves of a Unix-socket connection, registered with the runtime only for what they
//! wait for.
//!
//! A tokio `UnixStream` registers its socket for both readability and writability. On Linux a
//! Unix socket signals "writable" every time the peer reads, so on a connection that carries a
//! request one way and a reply the other, each side was woken once more per message just to be
//! told it may write, which it had never waited for: an extra wake-up and context switch per
//! message, a third of a small round trip when both processes share a core.
//!
//! [`UnixRead`] registers the socket for readability only. [`UnixWrite`] writes without any
//! registration; only when the socket buffer is full does it register a duplicate of the socket
//! for writability, and it drops that registration at the next flush, once the backlog is out.
//!
//! Each side asks for a send buffer of 1 MiB (the default is about 208 KiB), so that a large
//! frame crosses in fewer pieces.
//!
//! With a spin time, a flush then polls the socket until the peer's answer is there to read, or
//! the time is up, before returning: the thread never sleeps while the peer works, so it is not
//! woken from sleep (which on a virtual machine's idle core costs tens of microseconds) when the
//! answer comes. That busy-waits, so it pays only when the peer runs on another core.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, Shutdown,
};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::UnixStream;

use crate::ReceivedFds;

/// Splits a connected Unix stream into its read and write halves; the write half polls for up to
/// `spin` after each flush (see the [module docs](self)). Must be called inside a tokio runtime
/// with I/O enabled.
pub fn split(stream: UnixStream, spin: Duration) -> io::Result<(UnixRead, UnixWrite)> {
    let socket: OwnedFd = stream.into_std()?.into();
    // Best effort: the kernel caps the size at `net.core.wmem_max`, and a socket that keeps its
    // default only takes a large frame in more pieces.
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(&socket, SEND_BUFFER);
    let socket = Arc::new(register(socket, Interest::READABLE)?);
    let write = UnixWrite {
        socket: socket.clone(),
        waiting: None,
        spin,
    };
    let read = UnixRead {
        socket,
        fds: ReceivedFds::default(),
    };
    Ok((read, write))
}

/// The send buffer each side asks for (the default is about 208 KiB): a large frame then goes
/// to the peer in fewer pieces, each a wake-up of both sides. The kernel caps it at
/// `net.core.wmem_max`, and counts it double for its own bookkeeping. Measured pinned to one
/// core, it takes the 1 MiB echo from 1.81-1.84 to 1.67-1.70 times the raw socket's time.
const SEND_BUFFER: usize = 1024 * 1024;

/// The most descriptors one read takes: as many as one message may carry, and the memory file of
/// a body in shared memory ([`crate::shm`]); the kernel closes
/// what does not fit, and the connection is refused.
const MAX_FDS_ATTACHED: usize = crate::fd::MAX_PER_MESSAGE + 1;

/// Registers `socket` with the runtime's reactor for `interest`.
fn register(socket: OwnedFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` keeps its descriptor open, and always reports the same number, until
    // it is dropped; the `AsyncFd` owns it, so it is dropped only after being deregistered.
    #[allow(unsafe_code)]
    let registered = unsafe { AsyncFd::register_with_interest(socket, interest) };
    Ok(registered?)
}

/// The read half of a Unix-socket connection (see the [module docs](self)). The descriptors that
/// arrive with its bytes wait in its [`ReceivedFds`].
#[derive(Debug)]
pub struct UnixRead {
    socket: Arc<AsyncFd<OwnedFd>>,
    fds: ReceivedFds,
}

impl UnixRead {
    /// Receives into `into`, queueing the descriptors that come with the bytes; returns how
    /// many bytes arrived and whether descriptors came with them.
    fn receive(socket: &OwnedFd, into: &mut [u8], fds: &ReceivedFds) -> io::Result<(usize, bool)> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_ATTACHED))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let message = rustix::net::recvmsg(
            socket,
            &mut [IoSliceMut::new(into)],
            &mut control,
            RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC,
        )?;
        let (mut refused, mut any) = (false, false);
        for ancillary in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = ancillary {
                for fd in received {
                    any = true;
                    refused |= fds.push(fd).is_err();
                }
            }
        }
        if refused || message.flags.contains(ReturnFlags::CTRUNC) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the peer sent more file descriptors than frames to use them (ipc2 holds at most {} per connection, {MAX_FDS_ATTACHED} per message)",
                    ReceivedFds::MAX
                ),
            ));
        }
        Ok((message.bytes, any))
    }
}

impl crate::Read for UnixRead {
    fn received_fds(&self) -> Option<ReceivedFds> {
        Some(self.fds.clone())
    }
}

impl AsyncRead for UnixRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut ready = ready!(this.socket.poll_read_ready(cx))?;
            let room = buf.remaining();
            let received = ready.try_io(|socket| {
                // SAFETY: the kernel only writes into this slice (`recvmsg` never reads it), so
                // no uninitialised byte is ever read; the buffer is then told of exactly the
                // bytes written. tokio's own socket reads do the same.
                #[allow(unsafe_code)]
                let into = unsafe {
                    &mut *(std::ptr::from_mut::<[MaybeUninit<u8>]>(buf.unfilled_mut())
                        as *mut [u8])
                };
                let received = Self::receive(socket.get_ref(), into, &this.fds)?;
                // SAFETY: `recvmsg` wrote the first `received.0` bytes.
                #[allow(unsafe_code)]
                unsafe {
                    buf.assume_init(received.0);
                }
                Ok(received)
            });
            match received {
                Ok(Ok((n, with_fds))) => {
                    buf.advance(n);
                    // Less than asked for means the socket is drained (with edge-triggered
                    // readiness the next read can wait for the next event without a syscall),
                    // unless descriptors came: a read stops where they do, data may follow.
                    if n > 0 && n < room && !with_fds {
                        ready.clear_ready();
                    }
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(err)) => return Poll::Ready(Err(err)),
                // Would block: the readiness was cleared, so wait for the next event.
                Err(_) => {}
            }
        }
    }
}

/// The write half of a Unix-socket connection (see the [module docs](self)). Dropping it shuts
/// the socket down for writing, so the peer sees end-of-stream.
#[derive(Debug)]
pub struct UnixWrite {
    socket: Arc<AsyncFd<OwnedFd>>,
    /// A duplicate of the socket registered for writability, while a write waits for room.
    waiting: Option<AsyncFd<OwnedFd>>,
    /// How long a flush polls for the peer's answer.
    spin: Duration,
}

impl UnixWrite {
    fn send(socket: &OwnedFd, data: &[u8]) -> io::Result<usize> {
        rustix::net::send(socket, data, SendFlags::DONTWAIT | SendFlags::NOSIGNAL)
            .map_err(io::Error::from)
    }

    /// Sends `data` with `fds` attached, or nothing.
    fn send_fds(socket: &OwnedFd, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_ATTACHED))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(fds)) {
            return Err(io::Error::other(
                "no room for a descriptor in the control message",
            ));
        }
        rustix::net::sendmsg(
            socket,
            &[IoSlice::new(data)],
            &mut control,
            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        )
        .map_err(io::Error::from)
    }

    /// Writes with `send` as soon as the socket has room, registering for writability while it
    /// has none.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        send: impl Fn(&OwnedFd) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            if let Some(waiting) = &self.waiting {
                let mut ready = ready!(waiting.poll_write_ready(cx))?;
                match ready.try_io(|socket| send(socket.get_ref())) {
                    Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                    Ok(done) => return Poll::Ready(done),
                    // Still full: the readiness was cleared, so wait for the next event.
                    Err(_would_block) => {}
                }
                continue;
            }
            match send(self.socket.get_ref()) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    // Registering reports the socket's current state, so room that appeared
                    // since the failed send is not missed.
                    let duplicate = self.socket.get_ref().try_clone()?;
                    self.waiting = Some(register(duplicate, Interest::WRITABLE)?);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                done => return Poll::Ready(done),
            }
        }
    }

    /// Polls until the socket has something to read (or is closed or broken), or the spin time
    /// is up.
    fn await_answer(&self) {
        let deadline = Instant::now() + self.spin;
        let mut peek = [0u8; 1];
        loop {
            let flags = RecvFlags::DONTWAIT | RecvFlags::PEEK;
            match rustix::net::recv(self.socket.get_ref(), &mut peek[..], flags) {
                Err(Errno::AGAIN | Errno::INTR) if Instant::now() < deadline => {
                    std::hint::spin_loop();
                }
                _ => return,
            }
        }
    }
}

impl crate::Write for UnixWrite {
    /// Without a spin time, senders may write to the socket themselves; with one, every frame
    /// goes through the writer task, whose flush does the polling.
    fn direct(&self) -> Option<Arc<dyn crate::Direct>> {
        self.spin
            .is_zero()
            .then(|| Arc::new(UnixDirect(self.socket.clone())) as Arc<dyn crate::Direct>)
    }

    fn passes_fds(&self) -> bool {
        true
    }

    fn poll_write_fds(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, |socket| Self::send_fds(socket, data, fds))
    }
}

/// Writes to a Unix socket without waiting (see [`crate::Write::direct`]).
#[derive(Debug)]
struct UnixDirect(Arc<AsyncFd<OwnedFd>>);

impl crate::Direct for UnixDirect {
    fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        UnixWrite::send(self.0.get_ref(), data)
    }
}

impl AsyncWrite for UnixWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, |socket| Self::send(socket, data))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Everything handed to `poll_write` is in the socket: stop watching for room.
        self.waiting = None;
        if !self.spin.is_zero() {
            self.await_answer();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.waiting = None;
        Poll::Ready(
            rustix::net::shutdown(self.socket.get_ref(), Shutdown::Write).map_err(Into::into),
        )
    }
}

impl Drop for UnixWrite {
    fn drop(&mut self) {
        let _ = rustix::net::shutdown(self.socket.get_ref(), Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_write_larger_than_the_socket_buffer_arrives_whole_and_in_order() {
        let (a, b) = UnixStream::pair().unwrap();
        let (_, mut write) = split(a, Duration::ZERO).unwrap();
        let (mut read, _b_write) = split(b, Duration::ZERO).unwrap();
        let sent: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move {
                write.write_all(&sent).await.unwrap();
                write.flush().await.unwrap();
                write.shutdown().await.unwrap();
            })
        };
        let mut got = Vec::new();
        read.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got.len(), sent.len());
        assert!(got == sent);
    }

    #[tokio::test]
    async fn dropping_the_write_half_ends_the_peers_stream() {
        let (a, b) = UnixStream::pair().unwrap();
        let (_a_read, mut write) = split(a, Duration::ZERO).unwrap();
        let (mut read, _b_write) = split(b, Duration::ZERO).unwrap();
        write.write_all(b"last words").await.unwrap();
        drop(write);
        let mut got = Vec::new();
        read.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
    }

    #[tokio::test]
    async fn writing_to_a_closed_peer_is_an_error_not_a_signal() {
        let (a, b) = UnixStream::pair().unwrap();
        let (_a_read, mut write) = split(a, Duration::ZERO).unwrap();
        drop(b);
        let err = write.write_all(&[0; 1 << 20]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    #[tokio::test]
    async fn a_spinning_flush_returns_once_the_answer_is_readable() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let (_read, mut write) =
            split(UnixStream::from_std(a).unwrap(), Duration::from_secs(60)).unwrap();
        let peer = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut b = b;
            let mut request = [0; 4];
            b.read_exact(&mut request).unwrap();
            b.write_all(b"pong").unwrap();
            b
        });
        // Without an answer the flush would poll for a minute; the answer ends it.
        tokio::time::timeout(Duration::from_secs(30), async {
            write.write_all(b"ping").await.unwrap();
            write.flush().await.unwrap();
        })
        .await
        .expect("the flush kept polling after the answer came");
        drop(peer.join().unwrap());
    }

    #[tokio::test]
    async fn a_spinning_flush_without_an_answer_gives_up_after_the_spin() {
        let (a, _b) = UnixStream::pair().unwrap();
        let spin = Duration::from_millis(20);
        let (_read, mut write) = split(a, spin).unwrap();
        let started = Instant::now();
        write.write_all(b"ping").await.unwrap();
        write.flush().await.unwrap();
        assert!(started.elapsed() >= spin);
    }
}
