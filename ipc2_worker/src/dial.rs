//! Joining a host that did not start this worker: one an orchestrator (Kubernetes, systemd,
//! Slurm, a script) started on another machine, with the host's address in
//! [`ENV_CONNECT`](ipc2_common::handshake::ENV_CONNECT).
//!
//! Such a worker differs from one its host started in three ways. It dials until the host is
//! there: an unreachable host is retried with back-off (100 ms doubling to 5 s), each failure
//! logged with its reason, because orchestrators start workers and hosts in no particular order.
//! It learns its settings from the host's welcome, having no invitation. And it exits when its
//! host closes the connection, even with a job still running (the host has already failed that
//! job's call): that is how a host that cannot kill a process on another machine stops it, after
//! a time-out or at shutdown. The orchestrator decides whether to start it again.
//!
//! The address and credentials come from the environment, or from the program itself
//! ([`Dial`]).

use std::fmt;
use std::io;
use std::time::Duration;

use ipc2_common::tcp::{SharedSecret, UnencryptedTcpClient};
use ipc2_common::tls::{TlsClient, TlsConfig};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

use ipc2_common::{Client, ReadHalf, WriteHalf};

use crate::Error;

/// Where a worker that its host did not start finds the host, and how it proves who it is:
/// what `IPC2_CONNECT` and the transport's variables say, given in code instead. Pass it to
/// [`ServeOptions::dial`](crate::ServeOptions::dial) or [`connect_to`](crate::connect_to).
///
/// ```no_run
/// # use ipc2::worker::Dispatch;
/// # async fn _demo<D: Dispatch>(my_service: D) -> Result<(), Box<dyn std::error::Error>> {
/// use ipc2::transport::TlsConfig;
/// use ipc2::worker::{AnyClient, Dial, ServeOptions};
///
/// let config = TlsConfig::from_pem_files("worker.crt", "worker.key", "ca.crt")?;
/// let options = ServeOptions::default().dial(Dial::tls("tls://host.example:7000", config));
/// ipc2::worker::serve_with::<AnyClient, _>(my_service, options).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Dial {
    pub(crate) address: String,
    pub(crate) credentials: Credentials,
}

/// What a worker proves itself with.
#[derive(Clone)]
pub(crate) enum Credentials {
    Tls(TlsConfig),
    Secret(SharedSecret),
}

impl Dial {
    /// Dials `address` (`tls://host:port`) with TLS, presenting `config`'s certificate and
    /// checking the host's against its CA.
    pub fn tls(address: impl Into<String>, config: TlsConfig) -> Self {
        Self {
            address: address.into(),
            credentials: Credentials::Tls(config),
        }
    }

    /// Dials `address` (`unencrypted-tcp://host:port`) over unencrypted TCP, proving it knows
    /// `secret` (see [`UnencryptedTcpListener`](ipc2_common::tcp::UnencryptedTcpListener)).
    pub fn unencrypted_tcp(address: impl Into<String>, secret: SharedSecret) -> Self {
        Self {
            address: address.into(),
            credentials: Credentials::Secret(secret),
        }
    }

    /// The host's address.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl fmt::Debug for Dial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match self.credentials {
            Credentials::Tls(_) => "TLS",
            Credentials::Secret(_) => "unencrypted TCP with a shared secret",
        };
        f.debug_struct("Dial")
            .field("address", &self.address)
            .field("transport", &transport)
            .finish()
    }
}

/// How long one attempt to reach the host may take before it counts as failed and is retried:
/// a host cut off by the network answers no `SYN`, and the kernel would wait minutes.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first wait between two attempts to reach the host; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between two attempts to reach the host.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long the program may go on once its host has closed the connection, to finish and return
/// from `serve` by itself, before it is made to exit.
pub(crate) const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Connects to `address` with `credentials` (or, without them, as `C` does from the
/// environment), retrying with back-off while the host cannot be reached, and returns the
/// connection's halves. A failure that another attempt cannot mend (credentials that cannot be
/// read or are refused, an address that cannot be parsed) ends the attempts with
/// [`Error::Connect`].
pub(crate) async fn dial<C: Client>(
    address: &str,
    credentials: Option<&Credentials>,
) -> Result<Dialed, Error> {
    let mut wait = FIRST_RETRY;
    loop {
        let attempt = tokio::time::timeout(ATTEMPT_TIMEOUT, attempt::<C>(address, credentials));
        let attempt = attempt.await.unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {ATTEMPT_TIMEOUT:?}"),
            ))
        });
        match attempt {
            Ok(halves) => return Ok(halves),
            Err(err) if worth_retrying(&err) => {
                tracing::warn!(
                    "ipc2 worker: cannot reach the host at {address}: {err}; trying again in {wait:?}"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_RETRY);
            }
            Err(source) => {
                return Err(Error::Connect {
                    address: address.to_owned(),
                    source,
                });
            }
        }
    }
}

/// A connection to the host, split, and a copy of its socket to watch (see [`exit_soon`]).
pub(crate) struct Dialed {
    pub(crate) halves: (ReadHalf, WriteHalf),
    pub(crate) socket: Option<OwnedFd>,
}

/// One attempt to connect; the connection split at once (a dialed worker does not spin: the
/// host's `spin_poll` is for its own machine).
async fn attempt<C: Client>(
    address: &str,
    credentials: Option<&Credentials>,
) -> io::Result<Dialed> {
    match credentials {
        None => split(C::connect(address).await?),
        Some(Credentials::Tls(config)) => split(TlsClient::connect_with(address, config).await?),
        Some(Credentials::Secret(secret)) => {
            split(UnencryptedTcpClient::connect_with(address, secret).await?)
        }
    }
}

fn split<C: Client>(stream: C) -> io::Result<Dialed> {
    let socket = stream
        .socket()
        .map(|fd| fd.try_clone_to_owned())
        .transpose()?;
    Ok(Dialed {
        halves: stream.split(Duration::ZERO)?,
        socket,
    })
}

/// Whether connecting may work next time: the host may not be listening yet, or the network may
/// come back. Bad credentials, a refused certificate or a malformed address stay as they are.
fn worth_retrying(err: &io::Error) -> bool {
    !matches!(
        err.kind(),
        io::ErrorKind::InvalidData
            | io::ErrorKind::InvalidInput
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::Unsupported
    )
}

/// Ends this process [`EXIT_GRACE`] after its host closes the connection, unless it has ended by
/// then: a handler still running (a runaway job the host gave up on) must not keep a worker the
/// host no longer knows alive.
///
/// Called twice: as the worker joins, with a copy of the connection's `socket`, whose end a
/// thread of its own waits for, so that even a handler that keeps every thread of the runtime
/// busy cannot hold the worker; and with `None` once the connection's reader has seen the end
/// (or given up on a connection that broke the protocol), for a transport without a socket or
/// a socket that cannot be watched. Whichever comes first ends the process, once.
pub(crate) fn exit_soon(address: &str, socket: Option<OwnedFd>) {
    static EXITING: AtomicBool = AtomicBool::new(false);
    let address = address.to_owned();
    let spawned = std::thread::Builder::new()
        .name("ipc2-exit".into())
        .spawn(move || {
            if let Some(socket) = socket
                && !wait_for_close(&socket)
            {
                return;
            }
            std::thread::sleep(EXIT_GRACE);
            if EXITING.swap(true, Ordering::AcqRel) {
                return;
            }
            eprintln!(
                "ipc2 worker: the connection to the host at {address} has ended; exiting (the orchestrator decides whether to start this worker again)"
            );
            std::process::exit(0);
        });
    if let Err(err) = spawned {
        tracing::error!(
            "ipc2 worker: cannot start the thread that ends this worker with its host: {err}"
        );
    }
}

/// Waits until the peer has closed `socket` or the connection has failed: true then, false if
/// the socket cannot be watched. Only the end is asked for (`POLLRDHUP`), so data arriving does
/// not wake the thread.
fn wait_for_close(socket: &OwnedFd) -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let ended = PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL;
    loop {
        let mut fds = [PollFd::new(socket, PollFlags::RDHUP)];
        match poll(&mut fds, None) {
            Ok(_) if fds[0].revents().intersects(ended) => return true,
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(err) => {
                tracing::error!("ipc2 worker: cannot watch the connection to the host: {err}");
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_host_is_retried_and_bad_credentials_are_not() {
        assert!(worth_retrying(&io::Error::from(
            io::ErrorKind::ConnectionRefused
        )));
        assert!(worth_retrying(&io::Error::from(io::ErrorKind::TimedOut)));
        assert!(worth_retrying(&io::Error::other(
            "failed to lookup address information"
        )));
        assert!(!worth_retrying(&io::Error::new(
            io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer"
        )));
        assert!(!worth_retrying(&io::Error::new(
            io::ErrorKind::InvalidInput,
            "IPC2_TLS_CERT is not set"
        )));
    }
}
