//! [`WorkerSet`]: the handle through which a host sends jobs to its worker processes, and the
//! set's life cycle (start, resize, rolling restart, shutdown, drop).
//!
//! The call path (admission, deadlines, cancel-on-drop, retries) is in `request.rs`; the
//! `Call` interface typed clients are generated against, and the call options, in `options.rs`.

mod map;
mod options;
mod request;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ipc2_common::Server;
use serde::de::DeserializeOwned;
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

pub use self::options::{Call, Calls, OnAll, Policy, TimeoutAction, WithTimeout};
use crate::builder::WorkerSetBuilder;
use crate::private_dir::PrivateDir;
use crate::scheduler::SlotState;
use crate::supervisor::{Quarantine, Supervision};
use crate::{Error, Events, Stats};

/// A supervised set of worker processes that answer jobs of type `W` with replies of type `R`
/// and send events of type `E` (by default `R`, as in ipc2's first version), connected through
/// the transport `S` (usually [`tokio::net::UnixListener`]).
///
/// Built with [`WorkerSet::builder`]. Each job goes to an idle worker, or waits in a FIFO queue
/// until one is free. A worker that crashes, hangs past a timeout or breaks the protocol is
/// replaced; the job it was running fails with an error saying what happened to it, and every
/// other job carries on. Dropping the set kills and reaps every worker; [`shutdown`] first lets
/// queued and running jobs finish.
///
/// The set is a cheap handle: clone it to call from many tasks (each clone is the same set).
/// The workers stop when the last clone is dropped; [`shutdown`] from any clone stops them for
/// all, and calls through the others then fail with [`Error::Shutdown`].
///
/// ```no_run
/// use ipc2::WorkerSet;
/// use tokio::net::UnixListener;
///
/// # async fn _demo() -> Result<(), ipc2::host::Error> {
/// let workers: WorkerSet<UnixListener, u32, (u32, u32)> = WorkerSet::builder()
///     .worker_count(2)
///     .worker_path("./target/debug/adder")
///     .finish()
///     .await?;
/// assert_eq!(workers.send((6, 7)).await?, 13);
/// # Ok(())
/// # }
/// ```
///
/// [`shutdown`]: WorkerSet::shutdown
pub struct WorkerSet<S, R, W, E = R> {
    inner: Arc<Inner>,
    _types: Types<S, R, W, E>,
}

impl<S, R, W, E> Clone for WorkerSet<S, R, W, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _types: PhantomData,
        }
    }
}

/// What a handle holds: the supervision of its workers, and what its call path needs. Dropping
/// it kills and reaps every worker.
#[derive(Debug)]
struct Inner {
    sv: Arc<Supervision>,
    acceptor: JoinHandle<()>,
    quarantine: Option<Quarantine>,
    next_id: AtomicU64,
    _private_dir: PrivateDir,
}

impl Inner {
    /// A request id no other call of this set uses.
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Ties a handle to its type parameters without holding values of them, so the handle is `Send`
/// and `Sync` whatever they are.
pub(crate) type Types<S, R, W, E> = PhantomData<fn() -> (S, R, W, E)>;

/// A running worker, as listed by [`WorkerSet::workers`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// The worker's slot id, from 0 to the worker count.
    pub id: usize,
    /// Its process id (on the machine [`remote`](Self::remote) names, if it names one).
    pub pid: u32,
    /// Where it runs, if on another machine
    /// ([`remote_workers`](WorkerSetBuilder::remote_workers)).
    pub remote: Option<crate::RemoteHost>,
    /// How many processes this slot has started, this one included.
    pub generation: u64,
}

impl<R, W, E> WorkerSet<UnixListener, R, W, E> {
    /// Starts configuring a set of workers that connect over a Unix socket. See
    /// [`WorkerSetBuilder`] for the settings.
    ///
    /// Defined for the Unix transport only, so that a service's `CalcWorkers::builder()` needs no
    /// type annotation; [`WorkerSetBuilder::new`] builds a set over any [`Server`].
    pub fn builder() -> WorkerSetBuilder<UnixListener, R, W, E> {
        WorkerSetBuilder::new()
    }
}

impl<S: Server, R, W, E> WorkerSet<S, R, W, E> {
    pub(crate) fn new(
        sv: Arc<Supervision>,
        acceptor: JoinHandle<()>,
        private_dir: PrivateDir,
    ) -> Self {
        let inner = Inner {
            quarantine: sv.config.quarantine_after.map(Quarantine::new),
            sv,
            acceptor,
            next_id: AtomicU64::new(1),
            _private_dir: private_dir,
        };
        Self {
            inner: Arc::new(inner),
            _types: PhantomData,
        }
    }

    /// The workers running now, in slot order. A slot whose worker died is missing from the list
    /// from the moment its death has been handled (after its exit grace) until its replacement
    /// is up.
    pub fn workers(&self) -> Vec<WorkerInfo> {
        self.inner
            .sv
            .scheduler
            .slots()
            .into_iter()
            .enumerate()
            .filter_map(|(id, slot)| match slot {
                SlotState::Up(conn) => Some(WorkerInfo {
                    id,
                    pid: conn.id.pid,
                    remote: conn.id.remote.clone(),
                    generation: conn.id.generation,
                }),
                _ => None,
            })
            .collect()
    }

    /// The stream of messages the workers send unasked, of the set's event type `E`, each tagged
    /// with its worker's slot id: what a service's handlers emit with `ipc2::worker::emit`, or
    /// a raw worker sends with its `EventSender`. There is one stream per set: the first call
    /// returns it, later calls `None`. Until it is taken, and while it is not read, events queue
    /// up to the builder's [`event_capacity`](WorkerSetBuilder::event_capacity); past that they
    /// are dropped and counted ([`events_dropped`](Self::events_dropped)).
    ///
    /// ```no_run
    /// # async fn _demo(workers: ipc2::host::WorkerSet<tokio::net::UnixListener, String, String>) {
    /// let mut events = workers.events().expect("first call");
    /// while let Some(Ok(event)) = events.recv().await {
    ///     println!("worker {}: {}", event.worker, event.event);
    /// }
    /// # }
    /// ```
    pub fn events(&self) -> Option<Events<E>>
    where
        E: DeserializeOwned,
    {
        self.inner.sv.events.take().map(Events::new)
    }

    /// How many worker events were dropped because the event queue was full.
    pub fn events_dropped(&self) -> u64 {
        self.inner.sv.events.dropped()
    }

    /// Replaces every worker with a fresh one, one slot at a time, without failing or delaying
    /// any job: each successor is started and handshaken before its predecessor stops taking
    /// jobs, and the predecessor finishes what it is running (a rolling restart, for example to
    /// pick up a new worker binary at the same path). Slots whose worker is being started anyway
    /// are skipped, and so are workers on other machines, whose orchestrator starts them.
    ///
    /// Fails with [`Error::RestartTimeout`] if a successor does not come up within twice the
    /// startup timeout (the old worker then keeps serving); stops early on
    /// [`Error::Shutdown`].
    pub async fn restart(&self) -> Result<(), Error> {
        let sv = &self.inner.sv;
        let limit = sv.config.startup_timeout * 2;
        for info in self.workers().into_iter().filter(|w| w.remote.is_none()) {
            sv.recycle(info.id, info.generation);
            let replaced = async {
                loop {
                    let up = sv.scheduler.worker_up();
                    tokio::pin!(up);
                    up.as_mut().enable();
                    match sv.scheduler.slots().get(info.id) {
                        Some(SlotState::Up(conn)) if conn.id.generation == info.generation => {}
                        _ => return Ok(()),
                    }
                    tokio::select! {
                        _ = up => {}
                        _ = sv.stop.cancelled() => return Err(Error::Shutdown),
                    }
                }
            };
            tokio::time::timeout(limit, replaced)
                .await
                .map_err(|_| Error::RestartTimeout {
                    worker: info.id,
                    pid: info.pid,
                    timeout: limit,
                })??;
        }
        Ok(())
    }

    /// Grows or shrinks the set to `count` workers.
    ///
    /// Growing starts the new workers and returns once each has completed its handshake (or
    /// fails with the first start error, leaving the set as it was). Shrinking removes the
    /// highest-numbered slots: their workers take no new job, finish the ones they are running
    /// and then stop, in the background; `resize` returns at once. A removed slot is reported as
    /// [`WorkerState::Retired`](crate::WorkerState::Retired) by [`stats`](Self::stats), and
    /// [`send_to`](Self::send_to) it fails with [`Error::NoSuchWorker`].
    ///
    /// A set that takes workers on other machines
    /// ([`remote_workers`](WorkerSetBuilder::remote_workers)) is refused with [`Error::Config`]:
    /// their orchestrator sets how many there are.
    pub async fn resize(&self, count: usize) -> Result<(), Error> {
        if count == 0 {
            return Err(Error::Config("a worker set needs at least one worker"));
        }
        let sv = &self.inner.sv;
        if sv.config.remote.is_some() {
            return Err(Error::Config(
                "resize does not apply to a set with remote_workers: the orchestrator that starts them sets how many there are",
            ));
        }
        if sv.stop.is_cancelled() {
            return Err(Error::Shutdown);
        }
        let active = sv.scheduler.active_slots();
        if count <= active.len() {
            for &slot in &active[count..] {
                sv.scheduler.set_slot(slot, SlotState::Ending);
                sv.end_slot(slot);
            }
            return Ok(());
        }
        let added = sv.scheduler.grow(count - active.len());
        let started: Vec<_> = added.iter().map(|&slot| sv.spawn_slot(slot)).collect();
        let mut outcome = Ok(());
        for first in started {
            let result = first.await.unwrap_or(Err(Error::Shutdown));
            if outcome.is_ok() {
                outcome = result;
            }
        }
        if outcome.is_err() {
            for &slot in &added {
                sv.end_slot(slot);
            }
        }
        outcome
    }

    /// Waits until `min` of the first starts in `joining` (those of the slots for workers on
    /// other machines) have succeeded, for at most the startup timeout.
    pub(crate) async fn joined(
        &self,
        min: usize,
        joining: Vec<tokio::sync::oneshot::Receiver<Result<(), Error>>>,
    ) -> Result<(), Error> {
        use futures_util::StreamExt;
        let sv = &self.inner.sv;
        let mut joining: futures_util::stream::FuturesUnordered<_> = joining.into_iter().collect();
        let deadline = tokio::time::sleep(sv.config.startup_timeout);
        tokio::pin!(deadline);
        let mut connected = 0;
        while connected < min {
            tokio::select! {
                Some(first) = joining.next() => {
                    first.unwrap_or(Err(Error::Shutdown))?;
                    connected += 1;
                }
                _ = &mut deadline => {
                    return Err(Error::RemoteWorkersMissing {
                        address: sv.address.clone(),
                        connected,
                        wanted: min,
                        timeout: sv.config.startup_timeout,
                    });
                }
            }
        }
        Ok(())
    }

    /// A snapshot of what every worker is doing, with per-worker counters and the queue depth.
    pub fn stats(&self) -> Stats {
        self.inner.sv.scheduler.stats()
    }

    /// Stops the set gracefully: new jobs fail with [`Error::Shutdown`], queued and running jobs
    /// get up to the shutdown grace period (see [`WorkerSetBuilder::shutdown_grace`]) to finish,
    /// then every worker's connection is closed so it exits by itself, and whatever is still
    /// running after the grace period is killed. Returns once every worker has been reaped.
    ///
    /// Every caller waits for the same end: calls from several tasks at once each return only
    /// once every worker has been reaped; a call after that returns at once.
    pub async fn shutdown(&self) {
        let sv = &self.inner.sv;
        sv.scheduler.close();
        let _ = tokio::time::timeout(sv.config.shutdown_grace, sv.scheduler.drained()).await;
        sv.stop_and_reap().await;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.sv.stop.cancel();
        self.sv.scheduler.shut();
        self.acceptor.abort();
        self.sv.abort_tasks();
        // Kills every worker's process group and waits until each has been reaped.
        self.sv.children.kill_all();
    }
}

impl<S, R, W, E> fmt::Debug for WorkerSet<S, R, W, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerSet")
            .field("worker_path", &self.inner.sv.config.worker_path)
            .field(
                "worker_count",
                &self.inner.sv.scheduler.active_slots().len(),
            )
            .finish_non_exhaustive()
    }
}
