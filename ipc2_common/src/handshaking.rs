//! A connection whose handshake (TLS, a shared-secret challenge) runs on its first read, so that
//! a listener's `accept` returns at once.
//!
//! The host's acceptor takes connections one after another and gives each a task of its own for
//! the ipc2 hello, under the startup timeout. A handshake run inside `accept` would let one peer
//! that stalls mid-handshake hold up every worker behind it; run here, in the connection's own
//! task, it holds up only itself. The host reads a connection (for its hello) before it writes
//! to it, so the handshake is driven by reads: a write, flush or shutdown before the handshake
//! is done waits for it like a read would, but a flush or shutdown of a connection still
//! handshaking just succeeds, as there is nothing of its own to flush or to close gracefully.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The handshake that makes a `T`.
type Pending<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

/// A connection accepted by a listener whose transport has a handshake: once the handshake
/// (started on the first read) is done, it reads and writes the stream it made. Public so that
/// such a listener can name it as its [`Server::Stream`](crate::Server::Stream); only ipc2's
/// own transports make one.
pub struct Handshaking<T>(State<T>);

enum State<T> {
    Running(Pending<T>),
    Done(T),
    Failed,
}

impl<T> Handshaking<T> {
    /// A connection that becomes what `handshake` makes.
    pub(crate) fn new(handshake: impl Future<Output = io::Result<T>> + Send + 'static) -> Self {
        Self(State::Running(Box::pin(handshake)))
    }

    /// The stream, once the handshake is done.
    fn poll_established(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut T>> {
        if let State::Running(handshake) = &mut self.0 {
            match ready!(handshake.as_mut().poll(cx)) {
                Ok(stream) => self.0 = State::Done(stream),
                Err(err) => {
                    self.0 = State::Failed;
                    return Poll::Ready(Err(err));
                }
            }
        }
        match &mut self.0 {
            State::Done(stream) => Poll::Ready(Ok(stream)),
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the connection's handshake failed earlier",
            ))),
        }
    }
}

impl<T> fmt::Debug for Handshaking<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.0 {
            State::Running(_) => "handshaking",
            State::Done(_) => "established",
            State::Failed => "failed",
        };
        f.debug_tuple("Handshaking").field(&state).finish()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Handshaking<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_established(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Handshaking<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_established(cx))?;
        Pin::new(stream).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            State::Done(stream) => Pin::new(stream).poll_flush(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            State::Done(stream) => Pin::new(stream).poll_shutdown(cx),
            _ => Poll::Ready(Ok(())),
        }
    }
}
