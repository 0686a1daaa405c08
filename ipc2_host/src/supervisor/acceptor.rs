//! Accepting connections and checking each one's `Hello` before it may become a worker.
//!
//! Anyone who can reach the socket may connect, so nothing a connection sends is trusted until it
//! has shown the token of a slot that is waiting for its worker. Until then it may send at most
//! [`MAX_HELLO_LEN`] bytes and must do so within the startup timeout (over TCP, within
//! [`NETWORK_HELLO_TIMEOUT`]), and at most [`MAX_UNIDENTIFIED`] such connections (plus one per
//! slot the set started with) are open at once. A connection that fails
//! any check is logged and closed, and never occupies a slot: the real worker can still connect.
//! The last check, that the peer process belongs to the worker the slot started, is made by the
//! slot's supervisor, which knows the process id (see `start.rs`).
//!
//! A worker on another machine shows no token: the transport has authenticated it (a TLS client
//! certificate, a shared secret) before its hello could be read, and says so with
//! [`Peer::Network`]. Such a worker is queued for a vacant slot of those kept for workers on
//! other machines (`remote.rs`), or told why there is none; a local connection without a token
//! is refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ipc2_common::handshake::{Hello, MAX_HELLO_LEN};
use ipc2_common::{FrameCodec, Peer, Server, ToHost, codec};
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;

use super::Supervision;
use super::start::{Candidate, tell_refused};

/// How long the acceptor waits after a failed `accept` (the connection stays queued, so trying
/// again at once would spin).
const RETRY_ACCEPT: Duration = Duration::from_millis(50);
/// At most one warning about failing accepts per this long.
const WARN_EVERY: Duration = Duration::from_secs(5);
/// How long accepting must keep failing for want of resources before the starting workers are
/// failed with the reason: a passing shortage recovers by itself.
const FAILING_FOR: Duration = Duration::from_millis(200);
/// How many connections may be between their accept and their hello at once, beyond one per
/// slot: each holds a descriptor until then (up to the startup timeout), so without a bound
/// anyone who can reach a TCP listener could use up the host's descriptors. Past it, a new
/// connection is closed at once.
const MAX_UNIDENTIFIED: usize = 64;
/// How long a TCP peer may take, once connected, to complete the transport's handshake and say
/// hello (at most the startup timeout): a worker does both at once, and a peer that holds a
/// connection open without them holds one of [`MAX_UNIDENTIFIED`] only this long.
const NETWORK_HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until the task is aborted.
///
/// An `accept` that keeps failing for want of descriptors or memory (for [`FAILING_FOR`]) is told
/// to every slot starting a worker, which fails that start with the reason instead of waiting
/// out the startup timeout for a connection that cannot be accepted; see
/// [`Supervision::accept_failed`].
pub(crate) async fn accept_workers<S: Server>(server: S, sv: Arc<Supervision>) {
    let mut warned: Option<Instant> = None;
    let mut unwarned = 0u64;
    let mut failing_since: Option<Instant> = None;
    let limit = MAX_UNIDENTIFIED + sv.scheduler.slots().len();
    let unidentified = Arc::new(Semaphore::new(limit));
    let mut warned_full: Option<Instant> = None;
    loop {
        match server.accept().await {
            Ok((stream, peer)) => {
                failing_since = None;
                let Ok(permit) = unidentified.clone().try_acquire_owned() else {
                    if warned_full.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                        tracing::warn!(
                            ?peer,
                            "ipc2: closed a connection at once: {limit} connections have not said hello yet (more such closes are not logged for {WARN_EVERY:?})"
                        );
                        warned_full = Some(Instant::now());
                    }
                    continue;
                };
                let sv = sv.clone();
                tokio::spawn(async move {
                    handshake::<S>(stream, peer, sv).await;
                    drop(permit);
                });
            }
            Err(err) => {
                if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    let more = match unwarned {
                        0 => String::new(),
                        n => format!(" ({n} more failures since the last warning)"),
                    };
                    tracing::warn!("ipc2: accepting a worker connection failed: {err}{more}");
                    warned = Some(Instant::now());
                    unwarned = 0;
                } else {
                    unwarned += 1;
                }
                if out_of_resources(&err)
                    && failing_since.get_or_insert_with(Instant::now).elapsed() >= FAILING_FOR
                {
                    sv.accept_failed(err);
                }
                tokio::time::sleep(RETRY_ACCEPT).await;
            }
        }
    }
}

/// Whether `accept` failed for want of descriptors or memory, which keeps failing until some are
/// freed, rather than because of the one connection (which another attempt skips).
fn out_of_resources(err: &std::io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
        .iter()
        .any(|errno| err.raw_os_error() == Some(errno.raw_os_error()))
}

async fn handshake<S: Server>(stream: S::Stream, peer: Peer, sv: Arc<Supervision>) {
    let (read, write) = match S::split(stream, sv.config.spin_poll) {
        Ok(halves) => halves,
        Err(err) => {
            return refuse(peer, &format!("its connection could not be set up: {err}"));
        }
    };
    let mut reader = FramedRead::new(read, FrameCodec::new(MAX_HELLO_LEN));
    let limit = match peer {
        Peer::Network { .. } => sv.config.startup_timeout.min(NETWORK_HELLO_TIMEOUT),
        _ => sv.config.startup_timeout,
    };
    let first = tokio::time::timeout(limit, reader.next()).await;
    let hello = match first {
        Ok(Some(Ok(payload))) => parse_hello(&payload),
        // The transport's own handshake (TLS, a shared secret) fails as the first read does.
        Ok(Some(Err(ipc2_common::Error::Io(err)))) => {
            Err(format!("its connection failed before a hello: {err}"))
        }
        Ok(Some(Err(err))) => Err(format!("bad first frame: {err}")),
        Ok(None) => Err("closed before saying hello".to_owned()),
        Err(_) => Err(format!("sent no hello within {limit:?}")),
    };
    let hello = match hello {
        Ok(hello) => hello,
        Err(why) => return refuse(peer, &why),
    };
    let candidates = match (&hello.token, peer) {
        (Some(token), _) => sv.candidates_for(hello.worker_id as usize, token),
        (None, Peer::Network { .. }) => None,
        (None, _) => {
            return refuse(
                peer,
                "it shows no token, and only a worker on another machine, over a transport that authenticates it (TLS, a shared secret), may join without one",
            );
        }
    };
    if hello.token.is_some() && candidates.is_none() {
        return refuse(peer, "wrong token or no worker expected for its slot");
    }
    reader
        .decoder_mut()
        .set_max_frame_len(sv.config.max_frame_len);
    let candidate = Candidate {
        peer,
        hello,
        reader,
        writer: write,
    };
    match candidates {
        Some(candidates) => {
            let _ = candidates.send(candidate);
        }
        // A worker on another machine: the transport authenticated it, so it may learn why it
        // is refused.
        None => {
            if let Err(refused) = sv.arrived(candidate) {
                let (candidate, why) = *refused;
                refuse(peer, &why);
                let mut writer = candidate.writer;
                tell_refused(&mut writer, &why).await;
            }
        }
    }
}

fn parse_hello(payload: &[u8]) -> Result<Hello, String> {
    match codec::decode_header::<ToHost>(payload) {
        Ok((ToHost::Hello, body)) => {
            codec::decode_body::<Hello>(body).map_err(|err| format!("bad hello: {err}"))
        }
        Ok((other, _)) => Err(format!("sent {other:?} before hello")),
        Err(err) => Err(format!("bad first frame: {err}")),
    }
}

fn refuse(peer: Peer, why: &str) {
    tracing::warn!(?peer, "ipc2: refused a connection: {why}");
}
