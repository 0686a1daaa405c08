//! One slot's supervisor task, and what the set's handle can ask of it.
//!
//! Like the worker of tower's `Buffer`, [`SlotTask`] owns everything its loop needs: the slot's
//! id, its generation counter, its failure count for back-off, and the sender that reports the
//! first start. The one thing shared with the handle is the slot's [`SlotControl`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ipc2_common::handshake::Token;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument;

use super::live::{Live, Served};
use super::remote::admit;
use super::start::{Candidate, start};
use super::{Supervision, jittered_backoff};
use crate::Error;
use crate::scheduler::SlotState;

/// A worker that dies sooner than this after starting counts as a failed start for back-off.
const STABLE_UPTIME: std::time::Duration = std::time::Duration::from_secs(1);

/// What the set can ask of one slot's supervisor.
#[derive(Debug)]
pub(crate) struct SlotControl {
    /// Wakes the supervisor when [`recycle_generation`](Self::recycle_generation) changes.
    pub(super) recycle: Notify,
    /// The generation `WorkerSet::restart` wants replaced (0: none).
    recycle_generation: AtomicU64,
    /// End the slot: cancelled by `WorkerSet::resize` for this slot alone, and with the whole
    /// set's `stop` (it is a child of it).
    pub(super) end: tokio_util::sync::CancellationToken,
    /// While a worker is being started: its token, and where connections showing it go.
    expected: Mutex<Option<Expected>>,
}

/// A slot waiting for its worker to connect.
#[derive(Debug)]
struct Expected {
    token: Token,
    candidates: mpsc::UnboundedSender<Candidate>,
}

impl SlotControl {
    pub(super) fn new(stop: &tokio_util::sync::CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            recycle: Notify::new(),
            recycle_generation: AtomicU64::new(0),
            end: stop.child_token(),
            expected: Mutex::new(None),
        })
    }

    fn expected(&self) -> MutexGuard<'_, Option<Expected>> {
        self.expected.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for the worker of generation `generation` to be replaced by a fresh one.
    pub(super) fn request_recycle(&self, generation: u64) {
        self.recycle_generation.store(generation, Ordering::Release);
        self.recycle.notify_waiters();
    }

    /// Whether the worker of generation `generation` is to be replaced.
    pub(super) fn recycle_requested(&self, generation: u64) -> bool {
        self.recycle_generation.load(Ordering::Acquire) == generation
    }

    /// Expects a worker showing `token`; returns where its connection will arrive. The
    /// expectation ends when the returned [`Expecting`] is dropped.
    pub(super) fn expect(&self, token: Token) -> Expecting<'_> {
        let (candidates, arrived) = mpsc::unbounded_channel();
        *self.expected() = Some(Expected { token, candidates });
        Expecting {
            control: self,
            arrived,
        }
    }

    /// Where a connection showing `token` goes, if this slot expects it.
    pub(super) fn candidates_for(&self, token: &Token) -> Option<mpsc::UnboundedSender<Candidate>> {
        self.expected()
            .as_ref()
            .filter(|expected| expected.token.matches(token))
            .map(|expected| expected.candidates.clone())
    }
}

/// Connections that showed a slot's token, until the slot stops expecting them (on drop).
pub(super) struct Expecting<'a> {
    control: &'a SlotControl,
    pub(super) arrived: mpsc::UnboundedReceiver<Candidate>,
}

impl Drop for Expecting<'_> {
    fn drop(&mut self) {
        *self.control.expected() = None;
    }
}

/// Stops the slot and refuses every caller with `TasksGone` if its supervisor's task is dropped
/// before it ends the slot itself: the runtime running it has shut down, and no worker will come.
struct Vanished {
    supervision: Arc<Supervision>,
    slot: usize,
    armed: bool,
}

impl Vanished {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Vanished {
    fn drop(&mut self) {
        if self.armed {
            let scheduler = &self.supervision.scheduler;
            scheduler.set_slot(self.slot, SlotState::Stopped);
            scheduler.abandon();
        }
    }
}

/// The supervisor of one slot. See the [module docs](super).
pub(super) struct SlotTask {
    supervision: Arc<Supervision>,
    slot: usize,
    control: Arc<SlotControl>,
    /// Learns how the first start went; taken once it is known.
    first: Option<oneshot::Sender<Result<(), Error>>>,
    /// The generation of the last worker started.
    generation: u64,
    /// Starts that failed in a row (or workers that died young), for back-off.
    failures: u32,
    /// Whether the slot is for workers on other machines, which it admits instead of starting.
    remote: bool,
}

impl SlotTask {
    pub(super) fn new(
        supervision: Arc<Supervision>,
        slot: usize,
        control: Arc<SlotControl>,
        first: oneshot::Sender<Result<(), Error>>,
    ) -> Self {
        Self {
            remote: supervision.is_remote(slot),
            supervision,
            slot,
            control,
            first: Some(first),
            generation: 0,
            failures: 0,
        }
    }

    /// Runs the slot until the set stops or the slot is ended. If the first start fails, the
    /// supervisor stops there (the caller tears the set down or retires the slot).
    pub(super) async fn run(mut self) {
        let sv = self.supervision.clone();
        let vanished = Vanished {
            supervision: sv.clone(),
            slot: self.slot,
            armed: true,
        };
        while !self.control.end.is_cancelled() {
            self.generation += 1;
            let span = self.span();
            let started = match self.remote {
                false => {
                    start(&sv, &self.control, self.slot, self.generation)
                        .instrument(span)
                        .await
                }
                true => {
                    admit(&sv, &self.control, self.slot, self.generation)
                        .instrument(span)
                        .await
                }
            };
            match started {
                Ok(started) => self.serve(started).await,
                Err(err) => {
                    if let Some(first) = self.first.take() {
                        let _ = first.send(Err(err));
                        break;
                    }
                    if !self.control.end.is_cancelled() {
                        tracing::warn!("ipc2: worker {} failed to start: {err}", self.slot);
                        sv.scheduler
                            .set_slot(self.slot, SlotState::Failing(Arc::new(err)));
                    }
                    self.failures += 1;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(jittered_backoff(self.failures)) => {}
                _ = self.control.end.cancelled() => {}
            }
        }
        let end = match sv.stop.is_cancelled() {
            true => SlotState::Stopped,
            false => SlotState::Retired,
        };
        vanished.disarm();
        sv.scheduler.set_slot(self.slot, end);
    }

    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "ipc2.worker",
            worker = self.slot,
            generation = self.generation
        )
    }

    /// Serves through a started worker and its successors (recycling) until one ends, then
    /// records the death.
    async fn serve(&mut self, started: super::start::Started) {
        let sv = self.supervision.clone();
        let mut live = Live::up(&sv, started);
        if let Some(first) = self.first.take() {
            let _ = first.send(Ok(()));
        }
        let exit = loop {
            let span = self.span();
            match live.serve(&sv, &self.control).instrument(span).await {
                Served::Ended(exit) => break exit,
                Served::Replaced(successor) => {
                    self.generation = successor.worker.id.generation;
                    live = Live::up(&sv, *successor);
                }
            }
        };
        if self.control.end.is_cancelled() {
            return;
        }
        sv.scheduler.count_restart(self.slot);
        if self.remote {
            // Its orchestrator starts the next one, and this slot admits it without back-off.
            tracing::warn!("ipc2: {exit}; waiting for a worker to take its place");
            sv.scheduler.set_slot(self.slot, SlotState::Vacant);
            return;
        }
        self.failures = if exit.uptime < STABLE_UPTIME {
            self.failures + 1
        } else {
            0
        };
        tracing::warn!("ipc2: {exit}; restarting it");
        sv.scheduler.set_slot(self.slot, SlotState::Starting);
        if let Some(restarts) = sv.deaths.note() {
            self.failures = self.failures.max(1);
            sv.scheduler.throttle(Error::RestartLimit {
                restarts,
                within: sv.config.restart_limit.1,
                last: exit,
            });
        }
    }
}
