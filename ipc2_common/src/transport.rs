//! The two traits that let ipc2 run over any byte stream, and their Unix-socket implementations.
//!
//! The host side listens with a [`Server`] and each worker dials in with a [`Client`]. Both only
//! move bytes: framing, handshake and supervision are the same whatever the transport. Unix sockets
//! are the default (and the only transport that can prove a peer's process id, which the host uses
//! to refuse impostors).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{UnixListener, UnixStream};

/// The longest socket path Linux accepts (`sun_path` is 108 bytes, one of them the final NUL).
const MAX_UNIX_PATH: usize = 107;

/// The read half of a connection, boxed so everything past the transport is the same code.
pub type ReadHalf = Box<dyn Read>;
/// The write half of a connection.
pub type WriteHalf = Box<dyn Write>;

/// The read half of a connection, as the connection's frame reader uses it.
///
/// A transport that passes file descriptors (Unix sockets, with `SCM_RIGHTS`) keeps those that
/// arrive in a queue the frame reader takes them from ([`ReceivedFds`]), in the order their
/// bytes arrived: descriptors sent as values (see [`crate::fd`]) arrive this way.
pub trait Read: AsyncRead + Send + Unpin {
    /// The queue this half puts the descriptors it receives in; `None` (the default) for a
    /// transport that passes none.
    fn received_fds(&self) -> Option<ReceivedFds> {
        None
    }
}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Read for tokio::io::ReadHalf<T> {}
impl Read for tokio::net::tcp::OwnedReadHalf {}

impl<R: Read + ?Sized> Read for Box<R> {
    fn received_fds(&self) -> Option<ReceivedFds> {
        (**self).received_fds()
    }
}

/// File descriptors that arrived on a connection and wait for the frame they belong to.
///
/// Holds at most [`ReceivedFds::MAX`]: a peer that sends more descriptors than frames to use
/// them breaks the connection instead of filling this process's descriptor table, and whatever is
/// still queued is closed with the connection.
#[derive(Debug, Clone, Default)]
pub struct ReceivedFds(Arc<Mutex<VecDeque<OwnedFd>>>);

impl ReceivedFds {
    /// The most descriptors that may wait for their frames.
    pub const MAX: usize = 2 * crate::fd::MAX_PER_MESSAGE;

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<OwnedFd>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The oldest descriptor that has arrived, if any.
    pub fn pop(&self) -> Option<OwnedFd> {
        self.queue().pop_front()
    }

    /// Queues a descriptor that arrived; gives it back if [`Self::MAX`] are waiting already.
    pub fn push(&self, fd: OwnedFd) -> Result<(), OwnedFd> {
        let mut queue = self.queue();
        if queue.len() >= Self::MAX {
            return Err(fd);
        }
        queue.push_back(fd);
        Ok(())
    }

    /// The `count` descriptors a frame announced (`Header::fds`), which arrived with its bytes.
    pub fn take(queue: Option<&Self>, count: u64) -> Result<Vec<OwnedFd>, crate::Error> {
        let max = crate::fd::MAX_PER_MESSAGE;
        let bad = |reason: String| crate::Error::BadFds { reason };
        if count == 0 || count > max as u64 {
            return Err(bad(format!(
                "a frame announcing {count} file descriptors (a message carries 1 to {max})"
            )));
        }
        (0..count)
            .map(|_| queue.and_then(Self::pop))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                bad(format!(
                    "a frame announcing {count} file descriptors that did not arrive with it"
                ))
            })
    }

    /// How many descriptors wait.
    pub fn len(&self) -> usize {
        self.queue().len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The write half of a connection, as the connection's writer task uses it.
///
/// A transport whose socket can be written without waiting, from any thread, also offers a
/// [`Direct`] handle: a sender that finds nothing queued writes its frame through it at once,
/// instead of waking the writer task (a thread wake-up per message on a multi-thread runtime).
pub trait Write: AsyncWrite + Send + Unpin {
    /// A handle that writes to the same socket without waiting; `None` (the default) when the
    /// transport has none, and every frame goes through the writer task.
    fn direct(&self) -> Option<Arc<dyn Direct>> {
        None
    }

    /// Whether [`poll_write_fds`](Self::poll_write_fds) works: false (the default) for a
    /// transport that cannot pass file descriptors, on which a message carrying one fails.
    fn passes_fds(&self) -> bool {
        false
    }

    /// Like `poll_write`, with `fds` attached to the first byte written. Only called when
    /// [`passes_fds`](Self::passes_fds) is true; the default fails.
    fn poll_write_fds(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _data: &[u8],
        _fds: &[BorrowedFd<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this transport cannot pass file descriptors",
        )))
    }
}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Write for tokio::io::WriteHalf<T> {}
impl Write for tokio::net::tcp::OwnedWriteHalf {}

impl<W: Write + ?Sized> Write for Box<W> {
    fn direct(&self) -> Option<Arc<dyn Direct>> {
        (**self).direct()
    }

    fn passes_fds(&self) -> bool {
        (**self).passes_fds()
    }

    fn poll_write_fds(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self).poll_write_fds(cx, data, fds)
    }
}

/// Writes to a connection's socket without waiting, from any thread: see [`Write::direct`].
pub trait Direct: Send + Sync + std::fmt::Debug {
    /// Writes what the socket takes of `data` now, at least one byte; `ErrorKind::WouldBlock`
    /// (or `Ok(0)`) when it takes nothing, and the writer task then sends the rest.
    fn try_write(&self, data: &[u8]) -> io::Result<usize>;
}

/// A byte stream, as [`forward_io!`] sees the one a connection type wraps.
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// Implements `AsyncRead` and `AsyncWrite` for a connection type by forwarding every call to the
/// stream its `stream(&mut self) -> &mut dyn ByteStream` method returns.
macro_rules! forward_io {
    ($ty:ty) => {
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(self.get_mut().stream()).poll_read(cx, buf)
            }
        }

        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                data: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(self.get_mut().stream()).poll_write(cx, data)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(self.get_mut().stream()).poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(self.get_mut().stream()).poll_shutdown(cx)
            }
        }
    };
}
pub(crate) use forward_io;

/// Splits `stream` into halves that can be read and written from different tasks.
/// `tokio::io::split` works for any stream; transports with cheaper halves override it.
fn split_any<T: AsyncRead + AsyncWrite + Send + Unpin + 'static>(
    stream: T,
    _spin: Duration,
) -> io::Result<(ReadHalf, WriteHalf)> {
    let (read, write) = tokio::io::split(stream);
    Ok((Box::new(read), Box::new(write)))
}

/// Who is on the other end of a connection a [`Server`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Peer {
    /// A process on this machine, with its process id when the transport can tell it (Unix
    /// sockets can, through `SO_PEERCRED`). Without one, a worker the host started is accepted on
    /// its token alone; a worker without a token is never accepted from a local peer.
    Local {
        /// The peer's process id.
        pid: Option<u32>,
    },
    /// A peer on the network at `address`, which the transport authenticates before the
    /// connection yields its first byte (TLS with a client certificate, a shared-secret
    /// challenge). Only such a peer may join as a worker the host did not start: return this
    /// only from a transport that authenticates.
    Network {
        /// The peer's address.
        address: std::net::SocketAddr,
    },
}

/// A listener the host accepts worker connections on.
///
/// Implement it to carry ipc2 over another transport; [`UnixListener`] is the default.
pub trait Server: Sized + Send + Sync + 'static {
    /// The connection type this listener yields.
    type Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static;

    /// Whether this transport passes file descriptors ([`crate::fd`]); a job carrying one over
    /// a transport that cannot is refused before it is sent. Default: false. It must agree with
    /// [`Write::passes_fds`] of the halves [`split`](Self::split) makes.
    const PASSES_FDS: bool = false;

    /// Starts listening. `dir` is a fresh directory only this user can enter (mode 0700), removed
    /// when the worker set is dropped; a file-based transport puts its address there.
    ///
    /// Returns the listener and the address workers pass to [`Client::connect`]. The default
    /// fails: a transport that needs an address or credentials of the user's (TCP with TLS, say)
    /// is bound by a constructor of its own instead.
    fn bind(dir: &Path) -> io::Result<(Self, String)> {
        let _ = dir;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{} cannot choose its own address: bind it with its own constructor and give it to WorkerSetBuilder::listen",
                std::any::type_name::<Self>()
            ),
        ))
    }

    /// Waits for the next connection. Returns it with who the peer is, as far as the transport
    /// can tell: see [`Peer`].
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, Peer)>> + Send;

    /// Splits an accepted connection into its read and write halves.
    ///
    /// `spin` is how long the write half, after each flush, polls for the peer's answer before
    /// letting the thread sleep (`WorkerSetBuilder::spin_poll`); a transport that cannot poll
    /// ignores it, as the default does.
    fn split(stream: Self::Stream, spin: Duration) -> io::Result<(ReadHalf, WriteHalf)> {
        split_any(stream, spin)
    }
}

/// A connection a worker opens to its host.
///
/// [`UnixStream`] is the default.
pub trait Client: AsyncRead + AsyncWrite + Sized + Send + Unpin + 'static {
    /// Connects to `address`, as returned by the host's [`Server::bind`].
    fn connect(address: &str) -> impl Future<Output = io::Result<Self>> + Send;

    /// Splits the connection into its read and write halves; `spin` as for [`Server::split`].
    fn split(self, spin: Duration) -> io::Result<(ReadHalf, WriteHalf)> {
        split_any(self, spin)
    }

    /// The connection's socket, if it has one: a worker on another machine watches it from a
    /// thread of its own, so that it exits when its host closes the connection even while every
    /// thread of its runtime is busy. `None` (the default) leaves that to the connection's reader.
    fn socket(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl Server for UnixListener {
    type Stream = UnixStream;

    const PASSES_FDS: bool = true;

    fn bind(dir: &Path) -> io::Result<(Self, String)> {
        let path = dir.join("ipc2.sock");
        let address = path.to_str().map(str::to_owned).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("socket path {} is not valid UTF-8", path.display()),
            )
        })?;
        if address.len() > MAX_UNIX_PATH {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "socket path {address} is {} bytes long, but Unix socket paths are limited to {MAX_UNIX_PATH}; point TMPDIR or XDG_RUNTIME_DIR at a shorter directory",
                    address.len()
                ),
            ));
        }
        Ok((UnixListener::bind(&path)?, address))
    }

    async fn accept(&self) -> io::Result<(UnixStream, Peer)> {
        let (stream, _) = UnixListener::accept(self).await?;
        let pid = stream
            .peer_cred()
            .ok()
            .and_then(|cred| cred.pid())
            .and_then(|pid| u32::try_from(pid).ok());
        Ok((stream, Peer::Local { pid }))
    }

    /// Unix streams split into halves that are woken only for what they wait for (see
    /// [`crate::unix`]).
    fn split(stream: UnixStream, spin: Duration) -> io::Result<(ReadHalf, WriteHalf)> {
        let (read, write) = crate::unix::split(stream, spin)?;
        Ok((Box::new(read), Box::new(write)))
    }
}

impl Client for UnixStream {
    fn socket(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }

    async fn connect(address: &str) -> io::Result<Self> {
        UnixStream::connect(address).await
    }

    /// See [`Server::split`] for Unix listeners.
    fn split(self, spin: Duration) -> io::Result<(ReadHalf, WriteHalf)> {
        let (read, write) = crate::unix::split(self, spin)?;
        Ok((Box::new(read), Box::new(write)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unix_listener_reports_the_peer_pid() {
        let dir = tempfile_dir();
        let (listener, address) = <UnixListener as Server>::bind(&dir).unwrap();
        let (client, accepted) = tokio::join!(
            <UnixStream as Client>::connect(&address),
            Server::accept(&listener)
        );
        client.unwrap();
        let (_, peer) = accepted.unwrap();
        assert_eq!(
            peer,
            Peer::Local {
                pid: Some(std::process::id())
            }
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn overlong_socket_path_is_a_clear_error() {
        let dir = Path::new("/tmp").join("d".repeat(120));
        let err = <UnixListener as Server>::bind(&dir).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("limited to 107"), "{err}");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ipc2-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
