//! Supervision: one task per worker slot starts a worker, serves through it, and replaces it when
//! it ends; this module holds what those tasks share, and the table through which the set's
//! handle reaches each one.
//!
//! ```text
//!                 spawn + handshake ok              exit / EOF / bad frame / kill / silence
//! ┌──► Starting ──────────────────────► Up ─────────────────────────────────────────┐
//! │       │ failed (exit at start,       │  fail its in-flight calls with WorkerExit   │
//! │       │ timeout, spawn error)        │                                             │
//! │       ▼                              │ recycling due, or restart(): a successor    │
//! │    Failing                           │ starts; once it is up the old worker is     │
//! │       │                              │ Retired from scheduling and drains          │
//! │       ▼                              ▼                                             │
//! └── back-off (10 ms doubling to 5 s while starts keep failing) ◄───────────────────────┘
//!
//!     resize() shrinking: Up ──► Ending (finish running jobs) ──► Retired (no worker)
//!
//!     a slot for workers on other machines (remote.rs), which it admits and never starts:
//!     Vacant ──(one dials in, passes the checks)──► Up ──(disconnect, silence)──► Vacant
//!        └──(none for the startup timeout)──► Failing (NoRemoteWorker; still admits)
//! ```
//!
//! The supervisor watches the child's exit as well as its connection, so an idle worker that
//! dies is replaced at once rather than discovered by the next caller. Every call in flight on a
//! dead worker fails with [`Error::WorkerExited`]; none is retried, because it may already have
//! had effects. Too many deaths in a window (the restart intensity, [`Deaths`]) make the set
//! refuse jobs until a worker starts cleanly; the loss of a worker on another machine is not
//! counted there, as its orchestrator, not this host, starts the next one.
//!
//! - `slot.rs`: the per-slot task and everything it owns;
//! - `start.rs`: spawning a worker and checking who connects;
//! - `live.rs`: serving through a connected worker, and ending it;
//! - `remote.rs`: admitting workers on other machines, which the host does not start;
//! - `acceptor.rs`: accepting connections and reading their `Hello`;
//! - `quarantine.rs`: refusing jobs that keep killing workers.

mod acceptor;
mod live;
mod quarantine;
mod remote;
mod slot;
mod start;
mod types;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ipc2_common::handshake::Token;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) use self::acceptor::accept_workers;
pub(crate) use self::quarantine::Quarantine;
use self::remote::Arrivals;
use self::slot::{SlotControl, SlotTask};
use self::start::Candidate;
pub(crate) use self::types::TypeCheck;
use crate::Error;
use crate::config::Config;
use crate::events::EventQueue;
use crate::process::Children;
use crate::scheduler::{Scheduler, SlotState};

/// What every slot's supervisor and the acceptor share.
#[derive(Debug)]
pub(crate) struct Supervision {
    pub(crate) config: Config,
    /// Where workers connect.
    pub(crate) address: String,
    /// The set's private (0700) directory: the socket, and each starting worker's token file.
    pub(crate) private_dir: std::path::PathBuf,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) children: Arc<Children>,
    pub(crate) events: EventQueue,
    /// The host's job, reply and event types, which every worker's must match.
    pub(crate) types: TypeCheck,
    /// Cancelled when the set stops.
    pub(crate) stop: CancellationToken,
    /// Cancelled once a shutdown has reaped every worker.
    pub(crate) reaped: CancellationToken,
    /// The last time accepting a connection failed, and why: a worker being started cannot
    /// connect while accepting fails, so it fails its start with that reason at once.
    accept_failed: tokio::sync::watch::Sender<Option<Arc<std::io::Error>>>,
    deaths: Deaths,
    /// The slots kept for workers on other machines: the last ones (empty if there are none).
    remote_slots: std::ops::Range<usize>,
    /// Workers on other machines that connected, waiting for one of those slots to admit them.
    arrivals: Arrivals,
    slots: Mutex<Vec<SlotHandle>>,
}

/// The handle side of one slot's supervisor: what the set can ask of it, and its task.
#[derive(Debug)]
struct SlotHandle {
    control: Arc<SlotControl>,
    task: Option<JoinHandle<()>>,
}

impl Supervision {
    pub(crate) fn new(
        config: Config,
        (address, private_dir): (String, std::path::PathBuf),
        types: TypeCheck,
        slots: usize,
    ) -> Self {
        let remote = config.remote.map_or(0, |(_, max)| max);
        let scheduler = Arc::new(Scheduler::new(slots, config.queue_capacity));
        // Vacant from the start, so that a worker that dials in before its slot's task first
        // runs is queued, not refused.
        for slot in slots - remote..slots {
            scheduler.set_slot(slot, SlotState::Vacant);
        }
        Self {
            remote_slots: slots - remote..slots,
            arrivals: Arrivals::new(),
            scheduler,
            events: EventQueue::new(config.event_capacity),
            deaths: Deaths::new(config.restart_limit),
            config,
            address,
            private_dir,
            types,
            children: Arc::new(Children::new()),
            stop: CancellationToken::new(),
            reaped: CancellationToken::new(),
            accept_failed: tokio::sync::watch::Sender::new(None),
            slots: Mutex::default(),
        }
    }

    fn slots(&self) -> MutexGuard<'_, Vec<SlotHandle>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the supervisor of slot `slot` (new, or reused after a resize retired it). The
    /// receiver learns how its first start went; if it failed, the supervisor has stopped.
    pub(crate) fn spawn_slot(
        self: &Arc<Self>,
        slot: usize,
    ) -> oneshot::Receiver<Result<(), Error>> {
        let (first_tx, first) = oneshot::channel();
        let control = SlotControl::new(&self.stop);
        // The table is locked before the task is spawned, so the handle is in it before the
        // task (on another thread) can start a worker: the acceptor looks the slot's control up
        // there when that worker says hello, and must not find nothing, or the slot's old one.
        let mut slots = self.slots();
        let task = tokio::spawn(SlotTask::new(self.clone(), slot, control.clone(), first_tx).run());
        let handle = SlotHandle {
            control,
            task: Some(task),
        };
        match slots.get_mut(slot) {
            Some(old) => *old = handle,
            None => slots.push(handle),
        }
        first
    }

    /// Whether slot `slot` is for workers on other machines.
    pub(crate) fn is_remote(&self, slot: usize) -> bool {
        self.remote_slots.contains(&slot)
    }

    /// Queues a worker on another machine that just connected for the next of the slots kept
    /// for such workers that has none, if one is left for it; gives it back, with the reason,
    /// if not.
    fn arrived(&self, candidate: Candidate) -> Result<(), Box<(Candidate, String)>> {
        if self.remote_slots.is_empty() {
            let why = "it shows no token, and this set takes no workers from other machines (WorkerSetBuilder::remote_workers)";
            return Err(Box::new((candidate, why.to_owned())));
        }
        if self.stop.is_cancelled() {
            return Err(Box::new((
                candidate,
                "the host is shutting down".to_owned(),
            )));
        }
        let states = self.scheduler.slots();
        let vacant = states.get(self.remote_slots.clone()).map_or(0, |states| {
            let vacant =
                |state: &&SlotState| matches!(state, SlotState::Vacant | SlotState::Failing(_));
            states.iter().filter(vacant).count()
        });
        self.arrivals.push(candidate, vacant).map_err(|candidate| {
            let why = format!(
                "all {} slots for workers on other machines are taken, or about to be (WorkerSetBuilder::remote_workers)",
                self.remote_slots.len()
            );
            Box::new((*candidate, why))
        })
    }

    fn control(&self, slot: usize) -> Option<Arc<SlotControl>> {
        self.slots().get(slot).map(|handle| handle.control.clone())
    }

    /// Asks slot `slot` to replace its worker of generation `generation` by a fresh one.
    pub(crate) fn recycle(&self, slot: usize, generation: u64) {
        if let Some(control) = self.control(slot) {
            control.request_recycle(generation);
        }
    }

    /// Ends slot `slot`: its worker finishes its jobs and stops, and no other replaces it.
    pub(crate) fn end_slot(&self, slot: usize) {
        if let Some(control) = self.control(slot) {
            control.end.cancel();
        }
    }

    /// Stops every slot (each ends its worker as it would for a resize, with the shutdown
    /// grace) and returns once every worker has been reaped, however many callers ask at once,
    /// and even if the caller that began the stop gave up waiting.
    pub(crate) async fn stop_and_reap(self: &Arc<Self>) {
        self.stop.cancel();
        self.scheduler.shut();
        let tasks: Vec<_> = self
            .slots()
            .iter_mut()
            .filter_map(|handle| handle.task.take())
            .collect();
        if !tasks.is_empty() {
            // The first caller hands the reaping to a task of its own, so that dropping that
            // caller's future cannot leave the others waiting.
            let sv = self.clone();
            tokio::spawn(async move {
                for task in tasks {
                    let _ = task.await;
                }
                sv.arrivals.clear();
                let children = sv.children.clone();
                let _ = tokio::task::spawn_blocking(move || children.kill_all()).await;
                sv.reaped.cancel();
            });
        }
        self.reaped.cancelled().await;
    }

    /// Tells every slot starting a worker that accepting connections failed with `err`.
    fn accept_failed(&self, err: std::io::Error) {
        self.accept_failed.send_replace(Some(Arc::new(err)));
    }

    /// Completes with the reason once accepting a connection fails after this call.
    pub(crate) fn accept_failure(
        &self,
    ) -> impl Future<Output = Arc<std::io::Error>> + Send + 'static {
        let mut failures = self.accept_failed.subscribe();
        failures.mark_unchanged();
        async move {
            loop {
                if failures.changed().await.is_err() {
                    return std::future::pending().await;
                }
                if let Some(err) = failures.borrow_and_update().clone() {
                    return err;
                }
            }
        }
    }

    /// Aborts every supervisor's task, for a set being dropped.
    pub(crate) fn abort_tasks(&self) {
        for handle in self.slots().iter() {
            if let Some(task) = &handle.task {
                task.abort();
            }
        }
    }

    /// Where a connection that says it is slot `slot`'s worker, showing `token`, goes: to that
    /// slot's supervisor, if it is waiting for a worker with that token.
    pub(crate) fn candidates_for(
        &self,
        slot: usize,
        token: &Token,
    ) -> Option<mpsc::UnboundedSender<Candidate>> {
        self.control(slot)?.candidates_for(token)
    }
}

/// The restart intensity: worker deaths within the last window (Erlang's "restart intensity").
#[derive(Debug)]
struct Deaths {
    max: usize,
    within: Duration,
    times: Mutex<VecDeque<Instant>>,
}

impl Deaths {
    fn new((max, within): (usize, Duration)) -> Self {
        Self {
            max,
            within,
            times: Mutex::default(),
        }
    }

    /// Records a worker's death; returns how many deaths the window now holds if that is more
    /// than the limit allows.
    fn note(&self) -> Option<usize> {
        let now = Instant::now();
        let mut times = self.times.lock().unwrap_or_else(PoisonError::into_inner);
        while times
            .front()
            .is_some_and(|&t| now.duration_since(t) > self.within)
        {
            times.pop_front();
        }
        times.push_back(now);
        (times.len() > self.max).then_some(times.len())
    }
}

/// The back-off before start attempt number `failures + 1`, with jitter: between half and all
/// of [`backoff`], so slots that failed together do not retry in lockstep.
fn jittered_backoff(failures: u32) -> Duration {
    let full = backoff(failures);
    let random = getrandom::u32().unwrap_or(u32::MAX);
    full / 2 + full.mul_f64(f64::from(random) / f64::from(u32::MAX) / 2.0)
}

/// The back-off before start attempt number `failures + 1`.
fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => Duration::from_millis(10u64 << (n - 1).min(9)).min(Duration::from_secs(5)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all_of_the_backoff() {
        for failures in [1, 4, 20] {
            let full = backoff(failures);
            for _ in 0..100 {
                let delay = jittered_backoff(failures);
                assert!(delay >= full / 2 && delay <= full, "{delay:?} vs {full:?}");
            }
        }
    }

    #[test]
    fn backoff_doubles_from_10ms_and_caps_at_5s() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_millis(10));
        assert_eq!(backoff(2), Duration::from_millis(20));
        assert_eq!(backoff(9), Duration::from_millis(2560));
        assert_eq!(backoff(10), Duration::from_secs(5));
        assert_eq!(backoff(1000), Duration::from_secs(5));
    }

    #[test]
    fn deaths_past_the_limit_within_the_window_are_reported() {
        let deaths = Deaths::new((2, Duration::from_secs(60)));
        assert_eq!(deaths.note(), None);
        assert_eq!(deaths.note(), None);
        assert_eq!(deaths.note(), Some(3));
        let forgetful = Deaths::new((1, Duration::ZERO));
        assert_eq!(forgetful.note(), None);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(forgetful.note(), None, "the earlier death left the window");
    }
}
