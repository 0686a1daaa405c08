//! Admitting workers on other machines: the slots kept for them
//! ([`remote_workers`](crate::WorkerSetBuilder::remote_workers)) start no process; each waits,
//! [`Vacant`](crate::WorkerState::Vacant), for a worker that an orchestrator started elsewhere to
//! dial in.
//!
//! The transport has authenticated such a worker before its hello is read (`acceptor.rs`), which
//! queues it in [`Arrivals`] while a slot for such workers has none. Whichever vacant slot is
//! free takes the next one from the queue and checks its protocol version and types as for any
//! worker, and welcomes it with the settings it is to run with, which a worker without an
//! invitation learns only there. Several slots may check workers at once. A worker that fails a
//! check is refused, and told why (its orchestrator's log is where its operator looks), and the
//! slot goes on waiting: a worker built from other types cannot take the place of a good one.
//!
//! A slot that has waited the startup timeout in vain shows
//! [`Failing`](crate::WorkerState::Failing) with [`Error::NoRemoteWorker`], and goes on waiting:
//! while no slot of the set can serve, calls fail at once instead of waiting for ever.
//!
//! What differs once it is up (see `live.rs`): the host cannot signal a process on another
//! machine, so ending such a worker closes its connection, which tells it to exit; its report has
//! no exit status; it is never recycled; and its end does not count towards the restart
//! intensity, which exists to stop this host from restarting a crashing program in a loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ipc2_common::Peer;
use tokio::sync::{Mutex, mpsc};

use super::Supervision;
use super::slot::SlotControl;
use super::start::{Candidate, Started, Worker, accept, check_protocol, tell_refused};
use crate::conn::Identity;
use crate::scheduler::SlotState;
use crate::{Error, RemoteHost};

/// Workers on other machines that connected and were authenticated, in the order they came,
/// until a vacant slot takes them: never more, queued or being checked, than there are vacant
/// slots, so none waits for a slot that will not come.
#[derive(Debug)]
pub(super) struct Arrivals {
    queue: mpsc::UnboundedSender<Candidate>,
    /// Held by the one slot waiting at the head of the queue.
    next: Mutex<mpsc::UnboundedReceiver<Candidate>>,
    /// Workers queued or being checked by a slot.
    pending: AtomicUsize,
}

impl Arrivals {
    pub(super) fn new() -> Self {
        let (queue, next) = mpsc::unbounded_channel();
        Self {
            queue,
            next: Mutex::new(next),
            pending: AtomicUsize::new(0),
        }
    }

    /// Queues `candidate` if fewer than `vacant` workers are pending; gives it back if not.
    pub(super) fn push(&self, candidate: Candidate, vacant: usize) -> Result<(), Box<Candidate>> {
        let reserved = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pending| {
                (pending < vacant).then_some(pending + 1)
            });
        if reserved.is_err() {
            return Err(Box::new(candidate));
        }
        // The receiver lives as long as `self`.
        let _ = self.queue.send(candidate);
        Ok(())
    }

    /// Closes the connections still queued: the set has stopped, and no slot will take them.
    pub(super) fn clear(&self) {
        if let Ok(mut next) = self.next.try_lock() {
            while next.try_recv().is_ok() {}
        }
    }

    /// The next worker, once one is queued; [`done`](Self::done) once it has been checked.
    async fn next(&self) -> Option<Candidate> {
        self.next.lock().await.recv().await
    }

    fn done(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Waits for a worker on another machine to connect and pass its checks, as generation
/// `generation` of slot `slot`. Fails only with [`Error::Shutdown`], when the slot ends first.
pub(super) async fn admit(
    sv: &Supervision,
    control: &SlotControl,
    slot: usize,
    generation: u64,
) -> Result<Started, Error> {
    sv.scheduler.set_slot(slot, SlotState::Vacant);
    let waited = sv.config.startup_timeout;
    let in_vain = tokio::time::sleep(waited);
    tokio::pin!(in_vain);
    let mut failing = false;
    loop {
        let next = tokio::select! {
            next = sv.arrivals.next() => next,
            () = &mut in_vain, if !failing => {
                failing = true;
                let err = Error::NoRemoteWorker { address: sv.address.clone(), waited };
                sv.scheduler.set_slot(slot, SlotState::Failing(Arc::new(err)));
                continue;
            }
            () = control.end.cancelled() => return Err(Error::Shutdown),
        };
        let Some(mut candidate) = next else {
            return Err(Error::Shutdown);
        };
        let checking = check(sv, &mut candidate);
        let checked = tokio::select! {
            checked = checking => checked,
            () = control.end.cancelled() => return Err(Error::Shutdown),
        };
        if checked.is_ok() {
            // No longer vacant: the next arrival must not count on this slot.
            sv.scheduler.set_slot(slot, SlotState::Starting);
        }
        sv.arrivals.done();
        match checked {
            Ok(remote) => {
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
                // Debug-quoted: the name is the worker's, and may be what failed the check.
                tracing::warn!(
                    peer = ?candidate.peer,
                    pid = candidate.hello.pid,
                    host_name = ?candidate.hello.host_name,
                    "ipc2: refused a worker on another machine: {reason}"
                );
                let mut writer = candidate.writer;
                tokio::spawn(async move { tell_refused(&mut writer, &reason).await });
            }
        }
    }
}

/// Checks a worker on another machine, and welcomes it if it passes; where it runs, or why it is
/// refused.
async fn check(sv: &Supervision, candidate: &mut Candidate) -> Result<RemoteHost, String> {
    let Peer::Network { address } = candidate.peer else {
        return Err("it is not on another machine".to_owned());
    };
    check_protocol(&candidate.hello)?;
    let deadline = tokio::time::Instant::now() + sv.config.startup_timeout;
    accept(sv, candidate, deadline).await?;
    Ok(RemoteHost {
        address,
        host_name: candidate.hello.host_name.clone(),
    })
}
