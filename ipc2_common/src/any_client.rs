//! The client that picks its transport from the address it is given, so that one worker binary
//! serves a host on the same machine (a Unix socket path) or on another (`tls://host:port`, or
//! `unencrypted-tcp://host:port`) without being rebuilt: `ipc2::worker::serve` connects with it.

use std::io;
use std::time::Duration;

use tokio::net::UnixStream;

use crate::tcp::{self, UnencryptedTcpClient};
use crate::tls::{self, TlsClient};
use crate::transport::ByteStream;
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

    fn socket(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match self {
            Self::Unix(stream) => Client::socket(stream),
            Self::Tls(stream) => stream.socket(),
            Self::UnencryptedTcp(stream) => stream.socket(),
        }
    }
}

impl AnyClient {
    fn stream(&mut self) -> &mut dyn ByteStream {
        match self {
            Self::Unix(stream) => stream,
            Self::Tls(stream) => stream,
            Self::UnencryptedTcp(stream) => stream,
        }
    }
}

crate::transport::forward_io!(AnyClient);
