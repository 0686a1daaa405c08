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
//! With a spin time, a flush then polls the socket until the peer's answer is there to read, or
//! the time is up, before returning: the thread never sleeps while the peer works, so it is not
//! woken from sleep (which on a virtual machine's idle core costs tens of microseconds) when the
//! answer comes. That busy-waits, so it pays only when the peer runs on another core.

use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, Shutdown};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::UnixStream;

/// Splits a connected Unix stream into its read and write halves; the write half polls for up to
/// `spin` after each flush (see the [module docs](self)). Must be called inside a tokio runtime
/// with I/O enabled.
pub fn split(stream: UnixStream, spin: Duration) -> io::Result<(UnixRead, UnixWrite)> {
    let socket: OwnedFd = stream.into_std()?.into();
    let socket = Arc::new(register(socket, Interest::READABLE)?);
    let write = UnixWrite {
        socket: socket.clone(),
        waiting: None,
        spin,
    };
    Ok((UnixRead { socket }, write))
}

/// Registers `socket` with the runtime's reactor for `interest`.
fn register(socket: OwnedFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` keeps its descriptor open, and always reports the same number, until
    // it is dropped; the `AsyncFd` owns it, so it is dropped only after being deregistered.
    #[allow(unsafe_code)]
    let registered = unsafe { AsyncFd::register_with_interest(socket, interest) };
    Ok(registered?)
}

/// The read half of a Unix-socket connection (see the [module docs](self)).
#[derive(Debug)]
pub struct UnixRead {
    socket: Arc<AsyncFd<OwnedFd>>,
}

impl AsyncRead for UnixRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut ready = ready!(self.socket.poll_read_ready(cx))?;
            let room = buf.remaining();
            let received = ready.try_io(|socket| {
                // SAFETY: `recv` only writes into the unfilled part (it never de-initialises
                // anything), and the buffer is told of exactly the bytes it wrote.
                #[allow(unsafe_code)]
                unsafe {
                    let ((filled, _), _) =
                        rustix::net::recv(socket, buf.unfilled_mut(), RecvFlags::DONTWAIT)?;
                    let n = filled.len();
                    buf.assume_init(n);
                    Ok(n)
                }
            });
            match received {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    // Less than asked for means the socket is drained: with edge-triggered
                    // readiness the next read can wait for the next event without a syscall.
                    if n > 0 && n < room {
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
        let this = &mut *self;
        loop {
            if let Some(waiting) = &this.waiting {
                let mut ready = ready!(waiting.poll_write_ready(cx))?;
                match ready.try_io(|socket| Self::send(socket.get_ref(), data)) {
                    Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                    Ok(done) => return Poll::Ready(done),
                    // Still full: the readiness was cleared, so wait for the next event.
                    Err(_would_block) => {}
                }
                continue;
            }
            match Self::send(this.socket.get_ref(), data) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    // Registering reports the socket's current state, so room that appeared
                    // since the failed send is not missed.
                    let duplicate = this.socket.get_ref().try_clone()?;
                    this.waiting = Some(register(duplicate, Interest::WRITABLE)?);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                done => return Poll::Ready(done),
            }
        }
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
