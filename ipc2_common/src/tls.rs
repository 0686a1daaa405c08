//! TCP with TLS 1.3 and mutual authentication: the transport for workers reached over a network.
//! (Today the set starts those workers itself, on its own machine; workers that an orchestrator
//! starts on other machines and that dial in are the next step.)
//!
//! A Unix socket proves who is on the other end (the peer's process id, the 0700 directory, the
//! token file); TCP proves nothing, so here the proof is cryptographic. The deployment runs a CA
//! of its own. The host and every worker hold a certificate it signed, and trust that CA alone:
//! - the host ([`TlsListener`]) presents its certificate and requires one from the worker, so a
//!   client without a certificate, or with one another CA signed, fails the handshake before a
//!   byte of ipc2 is read;
//! - the worker ([`TlsClient`]) checks that the host's certificate names the host it dialled
//!   (a DNS name or an IP address in its subject alternative names).
//!
//! Only TLS 1.3, with rustls and its `ring` provider. Configuration ([`TlsConfig`]) comes from PEM
//! files, or from memory.
//!
//! Accepting a connection returns at once: the TLS handshake runs on the connection's first read,
//! in the host's per-connection handshake task, under its startup timeout. A peer that stalls
//! mid-handshake holds up only itself, and what it may make the host buffer before it has proved
//! itself is bounded by rustls (a handshake message is at most 64 KiB) and then by the hello's
//! own limit, as on the Unix socket.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};

use crate::handshaking::Handshaking;
use crate::transport::ByteStream;
use crate::{Client, Peer, Server};

/// The scheme of a TLS address, as in `tls://host:7000`.
pub const SCHEME: &str = "tls://";
/// The environment variable naming the PEM file with this side's certificate chain.
pub const ENV_CERT: &str = "IPC2_TLS_CERT";
/// The environment variable naming the PEM file with this side's private key.
pub const ENV_KEY: &str = "IPC2_TLS_KEY";
/// The environment variable naming the PEM file with the CA certificates to trust.
pub const ENV_CA: &str = "IPC2_TLS_CA";

/// A TLS configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A PEM file could not be read.
    #[error("could not read the {what} from {path}: {source}")]
    Read {
        /// What the file was to hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: io::Error,
    },
    /// The PEM held nothing of the kind expected, or was malformed.
    #[error(
        "{from} holds no usable {what}: {reason} (expected PEM, as in \"-----BEGIN {label}-----\")"
    )]
    Pem {
        /// What it was to hold.
        what: &'static str,
        /// Where it came from: a file's path, or "the PEM given".
        from: String,
        /// The PEM label expected.
        label: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the certificates or the key (a key that does not match the certificate,
    /// an unsupported key type, a CA certificate that cannot be parsed).
    #[error("the {what} cannot be used: {source}")]
    Rejected {
        /// What was refused.
        what: &'static str,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// An environment variable [`TlsConfig::from_env`] needs is not set.
    #[error(
        "environment variable {name} is not set: a TLS connection needs {ENV_CERT}, {ENV_KEY} and {ENV_CA}, each the path of a PEM file"
    )]
    MissingEnv {
        /// The variable.
        name: &'static str,
    },
}

/// One side's TLS identity and trust: its certificate chain and private key, and the CA
/// certificates it accepts the other side's certificate from.
///
/// The same three files configure either side: [`TlsListener::bind`] uses them as a server that
/// requires client certificates, [`TlsClient::connect_with`] as a client that presents one. Give
/// the host's certificate the `serverAuth` extended key usage and workers' only `clientAuth`, so
/// that a worker's certificate can never stand in for the host's.
///
/// ```no_run
/// # async fn _demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ipc2::transport::{TlsClient, TlsConfig};
///
/// let config = TlsConfig::from_pem_files("worker.crt", "worker.key", "ca.crt")?;
/// let connection = TlsClient::connect_with("tls://host.example:7000", &config).await?;
/// # let _ = connection; Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

/// Where a PEM document came from, for errors.
enum Source<'a> {
    File(&'a Path),
    Memory(&'a [u8]),
}

impl Source<'_> {
    fn read(&self, what: &'static str) -> Result<(Vec<u8>, String), TlsConfigError> {
        match self {
            Source::File(path) => std::fs::read(path)
                .map(|bytes| (bytes, path.display().to_string()))
                .map_err(|source| TlsConfigError::Read {
                    what,
                    path: path.to_path_buf(),
                    source,
                }),
            Source::Memory(bytes) => Ok((bytes.to_vec(), "the PEM given".to_owned())),
        }
    }
}

impl TlsConfig {
    /// Loads a configuration from three PEM files: this side's certificate chain (its own
    /// certificate first), its private key (PKCS#8, PKCS#1 or SEC1), and the CA certificates to
    /// trust for the other side.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        ca: impl AsRef<Path>,
    ) -> Result<Self, TlsConfigError> {
        Self::load(
            Source::File(cert.as_ref()),
            Source::File(key.as_ref()),
            Source::File(ca.as_ref()),
        )
    }

    /// Like [`from_pem_files`](Self::from_pem_files), from PEM text in memory.
    pub fn from_pem(cert: &[u8], key: &[u8], ca: &[u8]) -> Result<Self, TlsConfigError> {
        Self::load(
            Source::Memory(cert),
            Source::Memory(key),
            Source::Memory(ca),
        )
    }

    /// Loads a configuration from the files named by [`ENV_CERT`], [`ENV_KEY`] and [`ENV_CA`]:
    /// how a worker finds its credentials ([`Client::connect`] for [`TlsClient`]).
    pub fn from_env() -> Result<Self, TlsConfigError> {
        let var = |name| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .ok_or(TlsConfigError::MissingEnv { name })
        };
        Self::from_pem_files(var(ENV_CERT)?, var(ENV_KEY)?, var(ENV_CA)?)
    }

    fn load(cert: Source<'_>, key: Source<'_>, ca: Source<'_>) -> Result<Self, TlsConfigError> {
        let chain = certificates(&cert, "certificate chain")?;
        let key = private_key(&key)?;
        let mut roots = RootCertStore::empty();
        for root in certificates(&ca, "CA certificates")? {
            roots.add(root).map_err(|source| TlsConfigError::Rejected {
                what: "CA certificates",
                source,
            })?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let rejected = |what| move |source| TlsConfigError::Rejected { what, source };

        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|err| TlsConfigError::Rejected {
                what: "CA certificates",
                source: rustls::Error::General(err.to_string()),
            })?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(rejected("protocol versions"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(rejected("certificate and key"))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(rejected("protocol versions"))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(rejected("certificate and key"))?;
        Ok(Self {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

fn certificates(
    source: &Source<'_>,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let (pem, from) = source.read(what)?;
    let bad = |reason: String| TlsConfigError::Pem {
        what,
        from: from.clone(),
        label: "CERTIFICATE",
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad(err.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".to_owned()));
    }
    Ok(certs)
}

fn private_key(source: &Source<'_>) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let what = "private key";
    let (pem, from) = source.read(what)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| TlsConfigError::Pem {
        what,
        from,
        label: "PRIVATE KEY",
        reason: match err {
            rustls::pki_types::pem::Error::NoItemsFound => "no private key in it".to_owned(),
            other => other.to_string(),
        },
    })
}

/// Splits `tls://host:port` (the scheme is optional) into the address to dial and the host name
/// the server's certificate must carry.
fn parse_address(address: &str) -> io::Result<(&str, ServerName<'static>)> {
    let target = address.strip_prefix(SCHEME).unwrap_or(address);
    let invalid = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{address:?} is not a TLS address ({why}); expected tls://host:port"),
        )
    };
    let (host, port) = target
        .rsplit_once(':')
        .ok_or_else(|| invalid("no port".to_owned()))?;
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(invalid(format!(
            "an IPv6 address goes in brackets, as in tls://[{host}]:{port}"
        )));
    }
    port.parse::<u16>()
        .map_err(|_| invalid(format!("port {port:?} is not a number from 0 to 65535")))?;
    let host = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| invalid(format!("{host:?} is neither a host name nor an IP address")))?;
    Ok((target, name))
}

/// Listens for workers on a TCP address, with TLS: the host side of this transport (see the
/// [module docs](self)).
///
/// ```no_run
/// # async fn _demo() -> std::io::Result<()> {
/// use ipc2::transport::{TlsConfig, TlsListener};
///
/// let config = TlsConfig::from_pem_files("host.crt", "host.key", "ca.crt")
///     .map_err(std::io::Error::other)?;
/// let listener = TlsListener::bind("0.0.0.0:7000", &config).await?;
/// println!("workers dial {}", listener.address());
/// # Ok(()) }
/// ```
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    address: String,
}

impl TlsListener {
    /// Listens on `address` (`host:port`, or `tls://host:port`; port 0 picks a free one).
    pub async fn bind(address: &str, config: &TlsConfig) -> io::Result<Self> {
        let (tcp, address) = crate::tcp::listen(address, SCHEME).await?;
        Ok(Self {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(config.server.clone()),
            address,
        })
    }

    /// The address workers dial, `tls://ip:port`, with the port actually bound.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// A connection a [`TlsListener`] accepted; its TLS handshake runs on its first read.
pub type TlsServerStream = Handshaking<tokio_rustls::server::TlsStream<TcpStream>>;

impl Server for TlsListener {
    type Stream = TlsServerStream;

    async fn accept(&self) -> io::Result<(TlsServerStream, Peer)> {
        let (tcp, peer) = crate::tcp::accept(&self.tcp).await?;
        let handshake = self.acceptor.accept(tcp);
        let stream = Handshaking::new(async move {
            handshake
                .await
                .map_err(|err| io::Error::new(err.kind(), format!("TLS handshake failed: {err}")))
        });
        Ok((stream, peer))
    }
}

/// A worker's TLS connection to its host: the worker side of this transport (see the
/// [module docs](self)).
///
/// [`Client::connect`] reads the credentials from the environment ([`TlsConfig::from_env`]);
/// [`connect_with`](Self::connect_with) takes them in code.
pub struct TlsClient(Box<tokio_rustls::client::TlsStream<TcpStream>>);

impl TlsClient {
    /// Dials `address` (`tls://host:port`) and completes the TLS handshake with `config`. The
    /// host's certificate must be signed by one of `config`'s CAs and name `host`.
    pub async fn connect_with(address: &str, config: &TlsConfig) -> io::Result<Self> {
        let (target, name) = parse_address(address)?;
        let tcp = crate::tcp::connect(target).await?;
        let stream = tokio_rustls::TlsConnector::from(config.client.clone())
            .connect(name, tcp)
            .await
            .map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("TLS handshake with {target} failed: {err}"),
                )
            })?;
        Ok(Self(Box::new(stream)))
    }
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TlsClient").finish_non_exhaustive()
    }
}

impl Client for TlsClient {
    fn socket(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        Some(self.0.get_ref().0.as_fd())
    }

    async fn connect(address: &str) -> io::Result<Self> {
        let config = TlsConfig::from_env()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        Self::connect_with(address, &config).await
    }
}

impl TlsClient {
    fn stream(&mut self) -> &mut dyn ByteStream {
        &mut *self.0
    }
}

crate::transport::forward_io!(TlsClient);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_the_host_the_certificate_must_carry() {
        let (target, name) = parse_address("tls://worker-host.example:7000").unwrap();
        assert_eq!(target, "worker-host.example:7000");
        assert_eq!(name.to_str(), "worker-host.example");
        let (_, name) = parse_address("127.0.0.1:7000").unwrap();
        assert_eq!(name.to_str(), "127.0.0.1");
        let (_, name) = parse_address("tls://[::1]:7000").unwrap();
        assert_eq!(name.to_str(), "::1");
    }

    #[test]
    fn a_bad_address_is_a_clear_error() {
        for (address, why) in [
            ("tls://host", "no port"),
            ("tls://host:seventy", "not a number"),
            ("tls://ho st:70", "neither a host name nor an IP address"),
            ("tls://::1:7000", "an IPv6 address goes in brackets"),
            ("tls://[::1]", "an IPv6 address goes in brackets"),
        ] {
            let err = parse_address(address).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains(why), "{err}");
            assert!(
                err.to_string().contains("expected tls://host:port"),
                "{err}"
            );
        }
    }
}
