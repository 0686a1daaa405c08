//! Plain TCP, authenticated by a shared secret but **not encrypted**: for a network the
//! deployment already trusts to keep the bytes private (a VPN or WireGuard mesh, a private
//! cluster link), where managing certificates is the burden. Everywhere else, use TLS
//! ([`crate::tls`]). The names say so on purpose: `UnencryptedTcpListener`, the scheme
//! `unencrypted-tcp://`.
//!
//! Even so, a connection is never unauthenticated. Both sides prove they know the secret, as
//! Python's `multiprocessing` authkey and Erlang's cookie do, before a byte of ipc2 is read:
//! 1. the host sends a random 32-byte challenge;
//! 2. the worker answers with a random challenge of its own and an HMAC-SHA256, under the secret,
//!    of both challenges;
//! 3. the host checks it in constant time and closes the connection if it is wrong; otherwise it
//!    answers with its own HMAC of both, which the worker checks.
//!
//! Before the peer has proved itself the host reads exactly 64 bytes. The secret proves who is
//! on the other end; it does not hide or protect what follows.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ring::hmac;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::handshaking::Handshaking;
use crate::transport::ByteStream;
use crate::{Client, Peer, ReadHalf, Server, WriteHalf};

/// The scheme of an unencrypted TCP address, as in `unencrypted-tcp://host:7000`.
pub const SCHEME: &str = "unencrypted-tcp://";
/// The environment variable naming the file that holds the shared secret.
pub const ENV_SECRET_FILE: &str = "IPC2_SECRET_FILE";
/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;
/// The length of each side's challenge.
const CHALLENGE_LEN: usize = 32;
/// The length of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// A shared secret that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is too short to resist guessing.
    #[error(
        "the shared secret is {len} bytes, under the minimum of {MIN_SECRET_LEN}; make one with `openssl rand -hex 32`"
    )]
    TooShort {
        /// Its length.
        len: usize,
    },
    /// The file holding it could not be read.
    #[error("could not read the shared secret from {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: io::Error,
    },
    /// [`ENV_SECRET_FILE`] is not set.
    #[error(
        "environment variable {ENV_SECRET_FILE} is not set: an unencrypted-tcp:// connection needs the path of a file holding the host's shared secret"
    )]
    MissingEnv,
}

/// The secret both ends of an unencrypted TCP connection prove they know. Its `Debug` shows
/// nothing of it.
#[derive(Clone)]
pub struct SharedSecret(hmac::Key);

impl SharedSecret {
    /// A secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort { len: secret.len() });
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// The secret in the file at `path`, without the whitespace that ends it (the newline of
    /// `openssl rand -hex 32 > secret`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SecretError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| SecretError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::new(bytes.trim_ascii_end())
    }

    /// The secret in the file [`ENV_SECRET_FILE`] names: how a worker finds it
    /// ([`Client::connect`] for [`UnencryptedTcpClient`]).
    pub fn from_env() -> Result<Self, SecretError> {
        let path = std::env::var_os(ENV_SECRET_FILE).ok_or(SecretError::MissingEnv)?;
        Self::from_file(path)
    }

    /// The tag that proves `role` knows the secret, over both challenges.
    fn tag(&self, role: &[u8], first: &[u8], second: &[u8]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.0);
        for part in [role, first, second] {
            context.update(part);
        }
        context.sign()
    }

    fn verify(&self, role: &[u8], first: &[u8], second: &[u8], tag: &[u8]) -> bool {
        let mut message = Vec::with_capacity(role.len() + first.len() + second.len());
        for part in [role, first, second] {
            message.extend_from_slice(part);
        }
        hmac::verify(&self.0, &message, tag).is_ok()
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

const WORKER: &[u8] = b"ipc2 worker";
const HOST: &[u8] = b"ipc2 host";

fn challenge() -> io::Result<[u8; CHALLENGE_LEN]> {
    let mut bytes = [0; CHALLENGE_LEN];
    getrandom::fill(&mut bytes).map_err(|err| io::Error::other(format!("no randomness: {err}")))?;
    Ok(bytes)
}

/// The host's side of the challenge (see the [module docs](self)).
async fn host_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut tcp: S,
    secret: Arc<SharedSecret>,
) -> io::Result<S> {
    let ours = challenge()?;
    tcp.write_all(&ours).await?;
    let mut answer = [0; CHALLENGE_LEN + TAG_LEN];
    tcp.read_exact(&mut answer).await.map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("the peer did not answer the shared-secret challenge: {err}"),
        )
    })?;
    let (theirs, tag) = answer.split_at(CHALLENGE_LEN);
    if !secret.verify(WORKER, &ours, theirs, tag) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the peer does not know the shared secret",
        ));
    }
    tcp.write_all(secret.tag(HOST, theirs, &ours).as_ref())
        .await?;
    Ok(tcp)
}

/// The worker's side of the challenge.
async fn worker_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    tcp: &mut S,
    secret: &SharedSecret,
) -> io::Result<()> {
    let mut theirs = [0; CHALLENGE_LEN];
    tcp.read_exact(&mut theirs).await.map_err(|err| {
        io::Error::new(
            err.kind(),
            format!(
                "no shared-secret challenge came from the host ({err}): is its listener unencrypted-tcp://, not tls://?"
            ),
        )
    })?;
    let ours = challenge()?;
    let mut answer = ours.to_vec();
    answer.extend_from_slice(secret.tag(WORKER, &theirs, &ours).as_ref());
    tcp.write_all(&answer).await?;
    let mut tag = [0; TAG_LEN];
    tcp.read_exact(&mut tag).await.map_err(|err| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the host closed the connection during the shared-secret challenge ({err}): is {ENV_SECRET_FILE} the host's secret?"
            ),
        )
    })?;
    if !secret.verify(HOST, &ours, &theirs, &tag) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the host does not know the shared secret: this is not the host it claims to be",
        ));
    }
    Ok(())
}

/// Listens on `address` (`host:port`, or with `scheme` before it); returns the listener and its
/// address as workers dial it, `{scheme}ip:port`, with the port actually bound.
pub(crate) async fn listen(address: &str, scheme: &str) -> io::Result<(TcpListener, String)> {
    let target = address.strip_prefix(scheme).unwrap_or(address);
    let tcp = TcpListener::bind(target).await.map_err(|err| {
        io::Error::new(err.kind(), format!("could not listen on {target}: {err}"))
    })?;
    let address = format!("{scheme}{}", tcp.local_addr()?);
    Ok((tcp, address))
}

/// How long what a worker sends its host may go unacknowledged before the worker's TCP
/// connection fails (`TCP_USER_TIMEOUT`). A worker sends a heartbeat every interval, so a host
/// cut off by the network, or a machine that died without closing anything, ends the connection
/// in this time instead of the kernel's default of about a quarter of an hour: the worker then
/// exits and its orchestrator starts another, which dials until the host is back.
pub(crate) const WORKER_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Dials `target` (`host:port`) for a worker: with `TCP_NODELAY`, and with
/// [`WORKER_USER_TIMEOUT`] where the system has it.
pub(crate) async fn connect(target: &str) -> io::Result<TcpStream> {
    let tcp = TcpStream::connect(target).await.map_err(|err| {
        io::Error::new(err.kind(), format!("could not connect to {target}: {err}"))
    })?;
    tcp.set_nodelay(true)?;
    let timeout = WORKER_USER_TIMEOUT.as_millis() as u32;
    if let Err(err) = rustix::net::sockopt::set_tcp_user_timeout(&tcp, timeout) {
        tracing::debug!("ipc2: TCP_USER_TIMEOUT could not be set: {err}");
    }
    Ok(tcp)
}

/// The next connection `listener` accepts, with `TCP_NODELAY` set where it can be, and its peer.
pub(crate) async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, Peer)> {
    let (tcp, address) = listener.accept().await?;
    // A failure here is this one connection's, not the listener's: it only costs latency.
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!("ipc2: TCP_NODELAY could not be set on an accepted connection: {err}");
    }
    Ok((tcp, Peer::Network { address }))
}

/// Listens for workers on a TCP address, unencrypted, with a shared-secret challenge (see the
/// [module docs](self), and prefer [`TlsListener`](crate::tls::TlsListener)).
pub struct UnencryptedTcpListener {
    tcp: TcpListener,
    secret: Arc<SharedSecret>,
    address: String,
}

impl UnencryptedTcpListener {
    /// Listens on `address` (`host:port`, or `unencrypted-tcp://host:port`; port 0 picks a free
    /// one) for workers that know `secret`. Nothing is encrypted.
    pub async fn bind_unencrypted(address: &str, secret: SharedSecret) -> io::Result<Self> {
        let (tcp, address) = crate::tcp::listen(address, SCHEME).await?;
        tracing::warn!(
            "ipc2: listening on {address} WITHOUT ENCRYPTION (workers prove they know the shared secret, but the jobs and replies cross the network in the clear)"
        );
        Ok(Self {
            tcp,
            secret: Arc::new(secret),
            address,
        })
    }

    /// The address workers dial, `unencrypted-tcp://ip:port`, with the port actually bound.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl fmt::Debug for UnencryptedTcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnencryptedTcpListener")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Server for UnencryptedTcpListener {
    type Stream = Handshaking<TcpStream>;

    async fn accept(&self) -> io::Result<(Handshaking<TcpStream>, Peer)> {
        let (tcp, peer) = crate::tcp::accept(&self.tcp).await?;
        Ok((
            Handshaking::new(host_handshake(tcp, self.secret.clone())),
            peer,
        ))
    }
}

/// A worker's unencrypted TCP connection to its host, after the shared-secret challenge.
///
/// [`Client::connect`] reads the secret from the file [`ENV_SECRET_FILE`] names;
/// [`connect_with`](Self::connect_with) takes it in code.
#[derive(Debug)]
pub struct UnencryptedTcpClient(TcpStream);

impl UnencryptedTcpClient {
    /// Dials `address` (`unencrypted-tcp://host:port`) and proves it knows `secret`, and that
    /// the host does.
    pub async fn connect_with(address: &str, secret: &SharedSecret) -> io::Result<Self> {
        let target = address.strip_prefix(SCHEME).unwrap_or(address);
        let mut tcp = connect(target).await?;
        worker_handshake(&mut tcp, secret).await?;
        Ok(Self(tcp))
    }
}

impl Client for UnencryptedTcpClient {
    fn socket(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        Some(self.0.as_fd())
    }

    async fn connect(address: &str) -> io::Result<Self> {
        let secret = SharedSecret::from_env()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        Self::connect_with(address, &secret).await
    }

    /// TCP streams split into owned halves, with no lock between them.
    fn split(self, _spin: Duration) -> io::Result<(ReadHalf, WriteHalf)> {
        let (read, write) = self.0.into_split();
        Ok((Box::new(read), Box::new(write)))
    }
}

impl UnencryptedTcpClient {
    fn stream(&mut self) -> &mut dyn ByteStream {
        &mut self.0
    }
}

crate::transport::forward_io!(UnencryptedTcpClient);

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SharedSecret {
        SharedSecret::new(text).unwrap()
    }

    const OURS: &str = "the secret both sides share here";

    #[tokio::test]
    async fn both_sides_that_know_the_secret_pass_and_either_without_it_fails() {
        let (host, mut worker) = tokio::io::duplex(1024);
        let host = tokio::spawn(host_handshake(host, Arc::new(secret(OURS))));
        worker_handshake(&mut worker, &secret(OURS)).await.unwrap();
        host.await.unwrap().unwrap();

        let (host, mut worker) = tokio::io::duplex(1024);
        let host = tokio::spawn(host_handshake(host, Arc::new(secret(OURS))));
        let wrong = secret("another secret, of the right length");
        let err = worker_handshake(&mut worker, &wrong).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("during the shared-secret challenge"),
            "{err}"
        );
        let err = host.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    }

    /// A host that does not know the secret answers a worker with a tag of the right length.
    #[tokio::test]
    async fn a_worker_refuses_a_host_that_does_not_know_the_secret() {
        let (mut host, mut worker) = tokio::io::duplex(1024);
        let impostor = tokio::spawn(async move {
            host.write_all(&[7; CHALLENGE_LEN]).await?;
            let mut answer = [0; CHALLENGE_LEN + TAG_LEN];
            host.read_exact(&mut answer).await?;
            host.write_all(&[0; TAG_LEN]).await?;
            io::Result::Ok(answer)
        });
        let err = worker_handshake(&mut worker, &secret(OURS))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("the host does not know the shared secret"),
            "{err}"
        );
        impostor.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_worker_refuses_its_own_tag_reflected_by_the_host() {
        let (mut host, mut worker) = tokio::io::duplex(1024);
        let reflector = tokio::spawn(async move {
            let challenge = [9; CHALLENGE_LEN];
            host.write_all(&challenge).await?;
            let mut answer = [0; CHALLENGE_LEN + TAG_LEN];
            host.read_exact(&mut answer).await?;
            host.write_all(&answer[CHALLENGE_LEN..]).await?;
            io::Result::Ok(())
        });
        let err = worker_handshake(&mut worker, &secret(OURS))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("the host does not know the shared secret"),
            "{err}"
        );
        reflector.await.unwrap().unwrap();
    }

    #[test]
    fn a_short_secret_is_refused_with_the_minimum_and_how_to_make_one() {
        let err = SharedSecret::new("hunter2").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("7 bytes, under the minimum of 16"), "{text}");
        assert!(text.contains("openssl rand"), "{text}");
    }

    #[test]
    fn a_secret_file_loses_its_final_newline_and_its_debug_shows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        let from_file = SharedSecret::from_file(&path).unwrap();
        let direct = SharedSecret::new("0123456789abcdef0123").unwrap();
        let tag = direct.tag(HOST, b"a", b"b");
        assert!(from_file.verify(HOST, b"a", b"b", tag.as_ref()));
        assert!(
            !from_file.verify(WORKER, b"a", b"b", tag.as_ref()),
            "roles differ"
        );
        assert_eq!(format!("{from_file:?}"), "SharedSecret(..)");

        let missing = dir.path().join("missing");
        let err = SharedSecret::from_file(&missing).unwrap_err();
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
    }
}
