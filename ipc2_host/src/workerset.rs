//! [`WorkerSet`]: the handle through which a host sends jobs to its worker processes.

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ipc2_common::{Server, ToWorker, codec};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::builder::WorkerSetBuilder;
use crate::calls::Outcome;
use crate::conn::Conn;
use crate::error::ExitCause;
use crate::pool::{Checkout, SlotState};
use crate::quarantine::Quarantine;
use crate::shared::Shared;
use crate::supervisor::supervise;
use crate::{Error, Events, Policy, Stats, WithTimeout};

/// A supervised set of worker processes that answer jobs of type `W` with replies of type `R`,
/// connected through the transport `S` (usually [`tokio::net::UnixListener`]).
///
/// Built with [`WorkerSet::builder`]. Each job goes to an idle worker, or waits in a FIFO queue
/// until one is free. A worker that crashes, hangs past a timeout or breaks the protocol is
/// replaced; the job it was running fails with an error saying what happened to it, and every
/// other job carries on. Dropping the set kills and reaps every worker; [`shutdown`] first lets
/// queued and running jobs finish.
///
/// ```no_run
/// use ipc2_host::workerset::WorkerSet;
/// use tokio::net::UnixListener;
///
/// # async fn _demo() -> Result<(), ipc2_host::Error> {
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
pub struct WorkerSet<S, R, W> {
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
    supervisors: Mutex<Vec<JoinHandle<()>>>,
    _socket_dir: TempDir,
    _types: Types<S, R, W>,
}

/// Ties a handle to its type parameters without holding values of them, so the handle is `Send`
/// and `Sync` whatever they are.
pub(crate) type Types<S, R, W> = PhantomData<fn() -> (S, R, W)>;

/// What a timed-out job does to the worker running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutAction {
    /// Kill the worker (SIGKILL to its process group) and start a replacement. For runaway jobs.
    Restart,
    /// Only fail the job, and tell the worker it was cancelled. A worker serving a
    /// `#[ipc2::service]` drops the handler's future and answers at once; a raw worker sees
    /// `ReplySender::is_cancelled` and should answer soon. Until the worker answers it takes no
    /// other job, so a handler that ignores cancellation keeps its worker busy.
    Error,
}

/// A running worker, as listed by [`WorkerSet::workers`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// The worker's slot id, from 0 to the worker count.
    pub id: usize,
    /// Its process id.
    pub pid: u32,
    /// How many processes this slot has started, this one included.
    pub generation: u64,
}

impl<S: Server, R, W> WorkerSet<S, R, W> {
    /// Starts configuring a worker set. See [`WorkerSetBuilder`] for the settings.
    pub fn builder() -> WorkerSetBuilder<S, R, W> {
        WorkerSetBuilder::new()
    }

    pub(crate) fn new(
        shared: Arc<Shared>,
        acceptor: JoinHandle<()>,
        supervisors: Vec<JoinHandle<()>>,
        socket_dir: TempDir,
    ) -> Self {
        Self {
            shared,
            acceptor,
            supervisors: Mutex::new(supervisors),
            _socket_dir: socket_dir,
            _types: PhantomData,
        }
    }

    /// The workers running now, in slot order. A slot whose worker died is missing from the list
    /// from the moment its death has been handled (after its exit grace) until its replacement
    /// is up.
    pub fn workers(&self) -> Vec<WorkerInfo> {
        self.shared
            .pool
            .slots()
            .into_iter()
            .enumerate()
            .filter_map(|(id, slot)| match slot {
                SlotState::Up(conn) => Some(WorkerInfo {
                    id,
                    pid: conn.pid,
                    generation: conn.generation,
                }),
                _ => None,
            })
            .collect()
    }

    /// The stream of messages the workers send unasked (with `EventSender` on the worker side),
    /// each tagged with its worker's slot id. There is one stream per set: the first call
    /// returns it, later calls `None`. Until it is taken, and while it is not read, events queue
    /// up to the builder's [`event_capacity`](WorkerSetBuilder::event_capacity); past that they
    /// are dropped and counted ([`events_dropped`](Self::events_dropped)).
    ///
    /// ```no_run
    /// # async fn _demo(workers: ipc2_host::WorkerSet<tokio::net::UnixListener, String, String>) {
    /// let mut events = workers.events().expect("first call");
    /// while let Some(Ok(event)) = events.recv().await {
    ///     println!("worker {}: {}", event.worker, event.event);
    /// }
    /// # }
    /// ```
    pub fn events(&self) -> Option<Events<R>>
    where
        R: DeserializeOwned,
    {
        self.shared.events.take().map(Events::new)
    }

    /// How many worker events were dropped because the event queue was full.
    pub fn events_dropped(&self) -> u64 {
        self.shared.events.dropped()
    }

    /// Replaces every worker with a fresh one, one slot at a time, without failing or delaying
    /// any job: each successor is started and handshaken before its predecessor stops taking
    /// jobs, and the predecessor finishes what it is running (a rolling restart, for example to
    /// pick up a new worker binary at the same path). Slots whose worker is being started anyway
    /// are skipped.
    ///
    /// Fails with [`Error::StartTimeout`] if a successor does not come up within twice the
    /// startup timeout (the old worker then keeps serving); stops early on
    /// [`Error::Shutdown`].
    pub async fn restart(&self) -> Result<(), Error> {
        let limit = self.shared.config.startup_timeout * 2;
        for info in self.workers() {
            let Some(control) = self.shared.control(info.id) else {
                continue;
            };
            control.request_recycle(info.generation);
            let replaced = async {
                loop {
                    let up = self.shared.pool.worker_up();
                    tokio::pin!(up);
                    up.as_mut().enable();
                    match self.shared.pool.slots().get(info.id) {
                        Some(SlotState::Up(conn)) if conn.generation == info.generation => {}
                        _ => return Ok(()),
                    }
                    tokio::select! {
                        _ = up => {}
                        _ = self.shared.stop.cancelled() => return Err(Error::Shutdown),
                    }
                }
            };
            tokio::time::timeout(limit, replaced)
                .await
                .map_err(|_| Error::StartTimeout {
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
    pub async fn resize(&self, count: usize) -> Result<(), Error> {
        if count == 0 {
            return Err(Error::Config("a worker set needs at least one worker"));
        }
        let active: Vec<usize> = self
            .shared
            .pool
            .slots()
            .iter()
            .enumerate()
            .filter(|(_, slot)| !matches!(slot, SlotState::Ending | SlotState::Retired))
            .map(|(id, _)| id)
            .collect();
        if count <= active.len() {
            for &slot in &active[count..] {
                self.shared.pool.set_slot(slot, SlotState::Ending);
                if let Some(control) = self.shared.control(slot) {
                    control.end.cancel();
                }
            }
            return Ok(());
        }
        let mut started = Vec::new();
        for slot in self.shared.pool.grow(count - active.len()) {
            let (first_tx, first) = tokio::sync::oneshot::channel();
            let control = self.shared.renew_control(slot);
            let supervisor = tokio::spawn(supervise(
                self.shared.clone(),
                slot,
                control.clone(),
                first_tx,
            ));
            self.supervisors().push(supervisor);
            started.push((control, first));
        }
        let mut outcome = Ok(());
        for (_, first) in &mut started {
            let result = first.await.unwrap_or(Err(Error::Shutdown));
            if outcome.is_ok() {
                outcome = result;
            }
        }
        if outcome.is_err() {
            for (control, _) in &started {
                control.end.cancel();
            }
        }
        outcome
    }

    /// A snapshot of what every worker is doing, with per-worker counters and the queue depth.
    pub fn stats(&self) -> Stats {
        self.shared.pool.stats()
    }

    /// Stops the set gracefully: new jobs fail with [`Error::Shutdown`], queued and running jobs
    /// get up to the shutdown grace period (see [`WorkerSetBuilder::shutdown_grace`]) to finish,
    /// then every worker's connection is closed so it exits by itself, and whatever is still
    /// running after the grace period is killed. Returns once every worker has been reaped.
    ///
    /// Calling it again, or after another call has finished, returns at once.
    pub async fn shutdown(&self) {
        let grace = self.shared.config.shutdown_grace;
        self.shared.pool.close();
        let _ = tokio::time::timeout(grace, self.shared.pool.drained()).await;
        self.shared.stop.cancel();
        self.shared.pool.shut();
        let supervisors = std::mem::take(&mut *self.supervisors());
        if supervisors.is_empty() {
            // Another call is shutting the set down, or has.
            return;
        }
        for supervisor in supervisors {
            let _ = supervisor.await;
        }
        self.shared.children.kill_all();
    }
}

impl<S, R, W> WorkerSet<S, R, W>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    /// Sends `job` to a worker and waits for its reply.
    ///
    /// The job goes to an idle worker, or waits in the FIFO queue until one is free (`send` is
    /// never refused for a full queue; see [`try_send`](Self::try_send)). Fails with
    /// [`Error::WorkerExited`] if the worker dies before answering (the job is not retried: it may
    /// have had effects), [`Error::Remote`] if the worker fails it, [`Error::NoWorkers`] at once
    /// while no worker can be started, and [`Error::Shutdown`] after [`shutdown`](Self::shutdown).
    ///
    /// Dropping the returned future at any point is safe: a job still queued is never sent, and
    /// a job already sent is cancelled on the worker (see [`TimeoutAction::Error`]) and keeps
    /// that worker busy until it answers, so no one else gets its reply.
    pub async fn send(&self, job: W) -> Result<R, Error> {
        self.request_with(job, None, true, Policy::default()).await
    }

    /// Like [`send`](Self::send), but fails at once with [`Error::Busy`] when every worker is busy
    /// and the queue already holds its capacity (see [`WorkerSetBuilder::queue_capacity`]).
    pub async fn try_send(&self, job: W) -> Result<R, Error> {
        self.request_with(job, None, false, Policy::default()).await
    }

    /// Like [`send`](Self::send), with a deadline `timeout` from now that covers the time queued
    /// as well as the time running. A job whose deadline passes while it is queued is never sent.
    /// On timeout the job fails with [`Error::Timeout`], and `action` says what happens to a
    /// worker that was running it.
    pub async fn send_timeout(
        &self,
        job: W,
        timeout: Duration,
        action: TimeoutAction,
    ) -> Result<R, Error> {
        let policy = Policy::new(Some((timeout, action)), 0);
        self.request_with(job, None, true, policy).await
    }

    /// A view of this set whose calls all use [`send_timeout`](Self::send_timeout) with
    /// `timeout` and `action`; mostly useful with the clients `#[ipc2::service]` generates:
    /// `workers.with_timeout(Duration::from_secs(1), TimeoutAction::Restart).add(1, 2)`.
    pub fn with_timeout(
        &self,
        timeout: Duration,
        action: TimeoutAction,
    ) -> WithTimeout<'_, S, R, W> {
        WithTimeout::new(self, timeout, action)
    }

    /// Sends `job` to a worker without waiting for an answer (the worker sees a
    /// `Job::Unidirectional`). Returns once the job is queued on a worker's connection; it is
    /// lost if that worker dies before reading it.
    pub async fn notify(&self, job: W) -> Result<(), Error> {
        let mut frame = self.encode(&ToWorker::Notify, &job)?;
        drop(job);
        loop {
            let lease = self.shared.pool.checkout(None, true).await?;
            match lease.conn().send_oneway(frame) {
                Ok(()) => return Ok(()),
                Err(back) => frame = back,
            }
        }
    }

    /// Like [`send`](Self::send), under `policy`: a deadline for each attempt and a number of
    /// retries after a worker crash (for jobs that are safe to run twice).
    pub async fn send_with(&self, job: W, policy: Policy) -> Result<R, Error> {
        self.request_with(job, None, true, policy).await
    }

    /// Like [`send`](Self::send), but to the worker in slot `worker` (see
    /// [`workers`](Self::workers)). Waits while that worker is busy or being restarted; fails
    /// with [`Error::NoSuchWorker`] for a slot the set does not have.
    pub async fn send_to(&self, worker: usize, job: W) -> Result<R, Error> {
        self.request_with(job, Some(worker), true, Policy::default())
            .await
    }

    /// Sends a copy of `job` to every worker running now and returns each one's outcome, by
    /// slot id. Each copy waits for its worker like [`send_to`](Self::send_to).
    ///
    /// ```no_run
    /// # async fn _demo(workers: ipc2_host::WorkerSet<tokio::net::UnixListener, u64, String>) {
    /// for (worker, outcome) in workers.broadcast("reload-config".to_owned()).await {
    ///     println!("worker {worker}: {outcome:?}");
    /// }
    /// # }
    /// ```
    pub async fn broadcast(&self, job: W) -> Vec<(usize, Result<R, Error>)>
    where
        W: Clone,
    {
        let calls = self.workers().into_iter().map(|worker| {
            let job = job.clone();
            async move { (worker.id, self.send_to(worker.id, job).await) }
        });
        futures_util::future::join_all(calls).await
    }

    /// Runs `job` under `policy`: each attempt with the policy's deadline, and after a worker
    /// crash (and only then) up to `policy.retries` more attempts on a fresh request id.
    pub(crate) async fn request_with(
        &self,
        job: W,
        target: Option<usize>,
        queue: bool,
        policy: Policy,
    ) -> Result<R, Error> {
        let mut id = self.shared.next_id();
        let mut frame = self.encode(&ToWorker::Request { id }, &job)?;
        drop(job);
        let mut retries = policy.retries;
        loop {
            // Only a call that may be retried keeps a copy of its frame.
            let spare = (retries > 0).then(|| frame.clone());
            match (
                self.attempt(id, frame, target, queue, policy.timeout).await,
                spare,
            ) {
                (Err(Error::WorkerExited(exit)), Some(spare)) => {
                    retries -= 1;
                    tracing::debug!("ipc2: retrying an idempotent job after: {exit}");
                    id = self.shared.next_id();
                    frame = codec::reframe(&spare, &ToWorker::Request { id })
                        .map_err(|err| Error::Encode(Arc::new(err)))?;
                }
                (outcome, _) => return outcome,
            }
        }
    }

    /// One attempt at request `id`, whose encoded frame is `frame`.
    async fn attempt(
        &self,
        id: u64,
        mut frame: Vec<u8>,
        target: Option<usize>,
        queue: bool,
        limit: Option<(Duration, TimeoutAction)>,
    ) -> Result<R, Error> {
        let quarantine = self
            .shared
            .quarantine
            .as_ref()
            .map(|quarantine| (quarantine, Quarantine::key(&frame)));
        if let Some((quarantine, key)) = quarantine {
            quarantine.admit(key)?;
        }
        let deadline = limit.map(|(timeout, _)| Instant::now() + timeout);
        let timed_out = || Error::Timeout(limit.map(|(timeout, _)| timeout).unwrap_or_default());
        // The clock is read for the debug event only: on a busy set it is a measurable cost.
        let timed = tracing::enabled!(tracing::Level::DEBUG);
        let queued_at = timed.then(Instant::now);
        let conn = loop {
            let lease = match self.shared.pool.try_checkout(target, queue)? {
                Checkout::Now(lease) => lease,
                Checkout::Queued(waiting) => within(deadline, waiting)
                    .await
                    .ok_or_else(timed_out)?
                    .unwrap_or(Err(Error::Shutdown))?,
            };
            match lease.conn().submit(id, frame) {
                Ok(()) => {
                    let conn = lease.conn().clone();
                    lease.into_inflight();
                    break conn;
                }
                // That worker is closing; nothing was sent, so try another.
                Err(back) => frame = back,
            }
        };
        let reply = conn.reply(id);
        let sent_at = timed.then(Instant::now);
        // From here on the request is on the worker: if this future is dropped, or times out
        // without a restart, the worker is told so it can stop working on it.
        let mut cancel = CancelOnDrop {
            conn: &conn,
            id,
            armed: true,
        };
        let replied = match deadline {
            None => Some(reply.await),
            Some(deadline) => within(Some(deadline), reply).await,
        };
        let outcome = match replied {
            Some(outcome) => {
                cancel.armed = false;
                outcome
            }
            None => {
                if let Some((_, TimeoutAction::Restart)) = limit {
                    cancel.armed = false;
                    conn.kill(ExitCause::Timeout);
                    if let Some((quarantine, key)) = quarantine {
                        quarantine.crashed(key);
                    }
                }
                return Err(timed_out());
            }
        };
        if let Some((quarantine, key)) = quarantine {
            match &outcome {
                // Only a death of the worker's own making counts against the job: not a
                // shutdown, nor a kill for someone else's timeout or bad reply.
                Outcome::Exited(exit) if exit.cause == ExitCause::Died => quarantine.crashed(key),
                Outcome::Exited(_) => {}
                _ => quarantine.survived(key),
            }
        }
        let answered = matches!(outcome, Outcome::Reply { .. });
        if let (Some(queued_at), Some(sent_at)) = (queued_at, sent_at) {
            tracing::debug!(
                id,
                worker = conn.worker,
                queue_wait = ?sent_at - queued_at,
                run_time = ?sent_at.elapsed(),
                answered,
                "ipc2 job done"
            );
        }
        match outcome {
            Outcome::Reply { payload, body_at } => codec::decode_body::<R>(&payload[body_at..])
                .map_err(|source| {
                    let expected = type_name::<R>();
                    conn.kill(ExitCause::ProtocolViolation(format!(
                        "its reply is not a valid {expected}"
                    )));
                    Error::Decode {
                        worker: conn.worker,
                        expected,
                        source: Arc::new(source),
                    }
                }),
            Outcome::Failed(reason) => Err(Error::Remote { reason }),
            Outcome::Exited(exit) => Err(Error::WorkerExited(exit)),
            Outcome::Gone => Err(Error::Shutdown),
        }
    }

    fn encode(&self, header: &ToWorker, job: &W) -> Result<Vec<u8>, Error> {
        codec::encode_frame(header, Some(job), self.shared.config.max_frame_len)
            .map_err(|err| Error::Encode(Arc::new(err)))
    }
}

/// Sends `Cancel` for request `id` when dropped while armed.
struct CancelOnDrop<'a> {
    conn: &'a Conn,
    id: u64,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.conn.cancel(self.id);
        }
    }
}

/// Runs `future` until `deadline`, if there is one; `None` if the deadline came first.
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        None => Some(future.await),
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
    }
}

impl<S, R, W> WorkerSet<S, R, W> {
    fn supervisors(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.supervisors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S, R, W> Drop for WorkerSet<S, R, W> {
    fn drop(&mut self) {
        self.shared.stop.cancel();
        self.shared.pool.shut();
        self.acceptor.abort();
        for supervisor in self.supervisors().iter() {
            supervisor.abort();
        }
        // Kills every worker's process group and waits until each has been reaped.
        self.shared.children.kill_all();
    }
}

impl<S, R, W> fmt::Debug for WorkerSet<S, R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerSet")
            .field("worker_path", &self.shared.config.worker_path)
            .field("worker_count", &self.shared.config.worker_count)
            .finish_non_exhaustive()
    }
}
