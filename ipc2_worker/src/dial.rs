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

use std::io;
use std::time::Duration;

use ipc2_common::Client;

use crate::Error;

/// The first wait between two attempts to reach the host; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between two attempts to reach the host.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long the program may go on once its host has closed the connection, to finish and return
/// from `serve` by itself, before it is made to exit.
pub(crate) const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Connects to `address`, retrying with back-off while the host cannot be reached. A failure
/// that another attempt cannot mend (credentials that cannot be read or are refused, an address
/// that cannot be parsed) ends the attempts with [`Error::Connect`].
pub(crate) async fn dial<C: Client>(address: &str) -> Result<C, Error> {
    let mut wait = FIRST_RETRY;
    loop {
        match C::connect(address).await {
            Ok(stream) => return Ok(stream),
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

/// Ends this process [`EXIT_GRACE`] after its host closed the connection, unless it has ended by
/// then: a handler still running (a runaway job the host gave up on) must not keep a worker the
/// host no longer knows alive.
pub(crate) fn exit_soon(address: &str) {
    let address = address.to_owned();
    let spawned = std::thread::Builder::new()
        .name("ipc2-exit".into())
        .spawn(move || {
            std::thread::sleep(EXIT_GRACE);
            eprintln!(
                "ipc2 worker: the host at {address} closed the connection; exiting (the orchestrator decides whether to start this worker again)"
            );
            std::process::exit(0);
        });
    if let Err(err) = spawned {
        tracing::error!("ipc2 worker: the host closed the connection; exiting now ({err})");
        std::process::exit(0);
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
