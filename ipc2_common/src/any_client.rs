//! The client that picks its transport from the address it is given, so that one worker binary
//! serves a host on the same machine (a Unix socket path) or on another (`tls://host:port`, or
//! `unencrypted-tcp://host:port`) without being rebuilt: `ipc2::worker::serve` connects with it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;

use crate::tcp::{self, UnencryptedTcpClient};
use crate::tls::{self, TlsClient};
use crate::{Client, ReadHalf, WriteHalf};

/// A connection over whichever transport its address names: `tls://host:port` is TCP with TLS
/// ([`TlsClient`], credentials from the environment), `unencrypted-tcp://host:port` TCP with a
/// shared secret ([`UnencryptedTcpClient`]), anything else the path of a Unix socket.
#[derive(Debug)]
pub enum AnyClient {
    /// A Unix socket.
    Unix(UnixStream),
    /// TCP with TLS.
    Tls(TlsClient),
    /// TCP with a shared secret, unencrypted.
    UnencryptedTcp(UnencryptedTcpClient),
}

impl Client for AnyClient {
    async fn connect(address: &str) -> io::Result<Self> {
        if address.starts_with(tls::SCHEME) {
            Ok(Self::Tls(TlsClient::connect(address).await?))
        } else if address.starts_with(tcp::SCHEME) {
            Ok(Self::UnencryptedTcp(
                UnencryptedTcpClient::connect(address).await?,
            ))
        } else {
            Ok(Self::Unix(<UnixStream as Client>::connect(address).await?))
        }
    }

    fn split(self, spin: Duration) -> io::Result<(ReadHalf, WriteHalf)> {
        match self {
            Self::Unix(stream) => Client::split(stream, spin),
            Self::Tls(stream) => Client::split(stream, spin),
            Self::UnencryptedTcp(stream) => Client::split(stream, spin),
        }
    }
}

impl AsyncRead for AnyClient {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::UnencryptedTcp(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for AnyClient {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Unix(stream) => Pin::new(stream).poll_write(cx, data),
            Self::Tls(stream) => Pin::new(stream).poll_write(cx, data),
            Self::UnencryptedTcp(stream) => Pin::new(stream).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Unix(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream).poll_flush(cx),
            Self::UnencryptedTcp(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::UnencryptedTcp(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
