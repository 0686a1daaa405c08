//! Admitting workers on other machines: the slots kept for them
//! ([`remote_workers`](crate::WorkerSetBuilder::remote_workers)) start no process; each waits,
//! [`Vacant`](crate::WorkerState::Vacant), for a worker that an orchestrator started elsewhere to
//! dial in.
//!
//! The transport has authenticated such a worker before its hello is read (`acceptor.rs`); the
//! slot checks its protocol version and types as for any worker, and welcomes it with the
//! settings it is to run with, which a worker without an invitation learns only there. A worker
//! that fails a check is refused, and told why (its orchestrator's log is where its operator
//! looks), and the slot goes on waiting: a worker built from other types cannot take the place
//! of a good one.
//!
//! What differs once it is up (see `live.rs`): the host cannot signal a process on another
//! machine, so ending such a worker closes its connection, which tells it to exit; its report has
//! no exit status; it is never recycled; and its end does not count towards the restart
//! intensity, which exists to stop this host from restarting a crashing program in a loop.

use ipc2_common::Peer;

use super::Supervision;
use super::slot::SlotControl;
use super::start::{Started, Worker, accept, check_protocol, tell_refused};
use crate::conn::Identity;
use crate::scheduler::SlotState;
use crate::{Error, RemoteHost};

/// Waits for a worker on another machine to connect and pass its checks, as generation
/// `generation` of slot `slot`. Fails only with [`Error::Shutdown`], when the slot ends first.
pub(super) async fn admit(
    sv: &Supervision,
    control: &SlotControl,
    slot: usize,
    generation: u64,
) -> Result<Started, Error> {
    sv.scheduler.set_slot(slot, SlotState::Vacant);
    loop {
        let mut expecting = control.expect(None);
        let mut candidate = tokio::select! {
            Some(candidate) = expecting.arrived.recv() => candidate,
            _ = control.end.cancelled() => return Err(Error::Shutdown),
        };
        drop(expecting);
        let Peer::Network { address } = candidate.peer else {
            // The acceptor sends only network peers here.
            continue;
        };
        let remote = RemoteHost {
            address,
            host_name: candidate.hello.host_name.clone(),
        };
        let deadline = tokio::time::Instant::now() + sv.config.startup_timeout;
        let checked = match check_protocol(&candidate.hello) {
            Ok(()) => accept(sv, &mut candidate, slot, deadline).await,
            Err(reason) => Err(reason),
        };
        match checked {
            Ok(()) => {
                tracing::debug!(%remote, "a worker on another machine joined");
                let worker = Worker::remote(Identity {
                    slot,
                    generation,
                    pid: candidate.hello.pid,
                    remote: Some(remote),
                });
                return Ok(Started { worker, candidate });
            }
            Err(reason) => {
                tracing::warn!(
                    "ipc2: refused a worker (pid {} {remote}): {reason}",
                    candidate.hello.pid
                );
                tell_refused(&mut candidate.writer, &reason).await;
            }
        }
    }
}
