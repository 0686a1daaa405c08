//! A connected worker: serving calls through it, replacing it when it is due for recycling, and
//! ending it, with the report its unanswered calls fail with.
//!
//! [`Live`] owns everything about one connected worker (its process, its connection, the reader,
//! the writer task, the channel of kill requests), so ending it takes one value, not seven.
//!
//! Its [`Accounts`] settle the connection with the scheduler exactly once: after [`Live::end`]
//! has failed the unanswered calls, or, if the task running it is dropped first (the runtime
//! that ran it shut down), on drop, failing those calls with `TasksGone` so that no caller
//! waits for a supervisor that no longer exists.

use std::sync::Arc;
use std::time::Duration;

use ipc2_common::{ReadHalf, WriteHalf, outbox};
use rustix::process::Signal;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;

use super::slot::SlotControl;
use super::start::{Candidate, Started, Worker, start};
use super::{Supervision, jittered_backoff};
use crate::conn::{Arrivals, Conn, Ended};
use crate::error::{ExitCause, WorkerExit};
use crate::scheduler::Scheduler;

/// How long a worker that closed its connection may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How often a worker is checked against the recycling limits.
const RECYCLE_CHECK: Duration = Duration::from_millis(100);

/// A connected worker. See the [module docs](self).
pub(super) struct Live {
    worker: Worker,
    conn: Arc<Conn>,
    reader: FramedRead<ReadHalf, Arrivals>,
    writer: JoinHandle<()>,
    kill: mpsc::UnboundedReceiver<ExitCause>,
    accounts: Accounts,
}

/// What the scheduler is still owed for one connection. See the [module docs](self).
struct Accounts {
    conn: Arc<Conn>,
    scheduler: Arc<Scheduler>,
    owed: Owed,
}

enum Owed {
    /// The connection is open: on drop, close it and fail its calls.
    Open,
    /// [`Live::end`] closed it with this many calls unanswered, whose units are still out.
    Closed {
        failed: u64,
    },
    Settled,
}

impl Accounts {
    /// Gives back the units of the calls the closed connection left unanswered.
    fn settle(&mut self) {
        let failed = match std::mem::replace(&mut self.owed, Owed::Settled) {
            Owed::Open => {
                // Dropping `Unanswered` unfailed ends each call with `Outcome::Gone`.
                let unanswered = self.conn.close();
                self.scheduler.remove(&self.conn);
                unanswered.count() as u64
            }
            Owed::Closed { failed } => failed,
            Owed::Settled => return,
        };
        self.scheduler.finish(
            &self.conn,
            Ended {
                answered: 0,
                failed,
            },
        );
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        self.settle();
    }
}

/// How serving a worker ended.
pub(super) enum Served {
    /// The worker ended; here is its report.
    Ended(Arc<WorkerExit>),
    /// A successor took over (recycling); the old worker drains on its own task.
    Replaced(Box<Started>),
}

impl Live {
    /// Puts a started worker to work: its capacity goes to the scheduler.
    pub(super) fn up(sv: &Supervision, started: Started) -> Self {
        let Started { worker, candidate } = started;
        let Candidate { reader, writer, .. } = candidate;
        let fds = reader.get_ref().received_fds();
        let (outbox, queued) = outbox::outbox(&*writer);
        outbox.share_above(sv.config.share_above);
        let (kill_tx, kill) = mpsc::unbounded_channel();
        let conn = Arc::new(Conn::new(
            worker.id.clone(),
            outbox,
            kill_tx,
            worker.jobs_sent.clone(),
            fds,
        ));
        let reader = reader.map_decoder(|frames| conn.arrivals(frames));
        let writer = tokio::spawn(write(queued, writer));
        sv.scheduler.add(&conn, sv.config.max_in_flight);
        let accounts = Accounts {
            conn: conn.clone(),
            scheduler: sv.scheduler.clone(),
            owed: Owed::Open,
        };
        Self {
            worker,
            conn,
            reader,
            writer,
            kill,
            accounts,
        }
    }

    /// Serves calls until the worker ends, the slot ends, or a successor takes over.
    pub(super) async fn serve(mut self, sv: &Arc<Supervision>, control: &SlotControl) -> Served {
        let conn = self.conn.clone();
        let cause = tokio::select! {
            cause = self.watch(sv) => cause,
            next = successor(sv, control, &conn) => {
                // The successor is up: the old worker takes no new call and leaves once its
                // calls in flight are answered.
                tracing::debug!(pid = conn.id.pid, "replaced by a fresh worker");
                self.retire(sv);
                let sv = sv.clone();
                tokio::spawn(async move {
                    let exit = self.drain(&sv).await;
                    tracing::debug!("retired: {exit}");
                });
                return Served::Replaced(Box::new(next));
            }
            _ = control.end.cancelled() => {
                if !sv.stop.is_cancelled() {
                    // The slot is being removed (resize): no new jobs, finish those running.
                    self.retire(sv);
                    return Served::Ended(self.drain(sv).await);
                }
                ExitCause::Shutdown
            }
        };
        Served::Ended(self.end(sv, cause).await)
    }

    /// Completes with the reason the worker must end: it died, broke the protocol, was asked to
    /// be killed, or went silent past the heartbeat timeout.
    async fn watch(&mut self, sv: &Supervision) -> ExitCause {
        let conn = &self.conn;
        let mut ended = |ended: Ended| sv.scheduler.finish(conn, ended);
        tokio::select! {
            read = conn.read(&mut self.reader, &sv.events, &mut ended) => match read {
                Ok(()) => ExitCause::Died,
                Err(why) => ExitCause::ProtocolViolation(why),
            },
            _ = self.worker.exited() => ExitCause::Died,
            Some(cause) = self.kill.recv() => cause,
            silent = stuck(conn, sv.config.heartbeat) => ExitCause::Unresponsive(silent),
        }
    }

    /// Takes the worker out of scheduling; its calls in flight go on.
    fn retire(&self, sv: &Supervision) {
        self.conn.retire();
        sv.scheduler.remove(&self.conn);
    }

    /// Lets a retired worker answer its calls in flight, then stops it.
    async fn drain(mut self, sv: &Supervision) -> Arc<WorkerExit> {
        let conn = self.conn.clone();
        let cause = tokio::select! {
            cause = self.watch(sv) => cause,
            _ = conn.idle() => ExitCause::Retired,
            _ = sv.stop.cancelled() => ExitCause::Shutdown,
        };
        self.end(sv, cause).await
    }

    /// Closes the connection, stops the worker (with a grace period that depends on why), reaps
    /// it, and fails the calls still in flight on it with its report. A worker on another
    /// machine is only disconnected: the closed connection tells it to exit.
    async fn end(mut self, sv: &Supervision, cause: ExitCause) -> Arc<WorkerExit> {
        let unanswered = self.conn.close();
        sv.scheduler.remove(&self.conn);
        self.accounts.owed = Owed::Closed {
            failed: unanswered.count() as u64,
        };
        self.writer.abort();
        drop(self.reader);

        if let Some(pid) = self.worker.local_pid() {
            stop(sv, &mut self.worker, pid, &cause).await;
        }
        let exit = self.worker.report(cause).await;
        unanswered.fail(&exit);
        self.accounts.settle();
        exit
    }
}

/// Stops this host's worker process `pid`, which has been told to exit (its connection is
/// closed), with a grace period that depends on why.
async fn stop(sv: &Supervision, worker: &mut Worker, pid: u32, cause: &ExitCause) {
    let grace = match cause {
        ExitCause::Died | ExitCause::ExitedBeforeConnecting => EXIT_GRACE,
        ExitCause::Shutdown | ExitCause::Retired => {
            // The closed connection already tells the worker to exit; SIGTERM also reaches
            // anything it started, and whatever outlives the grace period gets SIGKILL.
            sv.children.signal(pid, Signal::TERM);
            sv.config.shutdown_grace
        }
        ExitCause::ProtocolViolation(_) | ExitCause::Timeout | ExitCause::Unresponsive(_) => {
            Duration::ZERO
        }
    };
    if tokio::time::timeout(grace, worker.exited()).await.is_err() {
        sv.children.signal(pid, Signal::KILL);
    }
}

/// Completes with a started successor once the worker behind `conn` is due for replacement
/// (its job count, age or memory passed a recycling limit, or `WorkerSet::restart` asked). A
/// successor that fails to start is retried after a back-off; meanwhile the old worker serves.
/// Never for a worker on another machine: its orchestrator, not this host, starts its processes.
async fn successor(sv: &Supervision, control: &SlotControl, conn: &Arc<Conn>) -> Started {
    if conn.id.remote.is_some() {
        return std::future::pending().await;
    }
    let recycle = &sv.config.recycle;
    let due = || recycle.due(sv.scheduler.ended_by(conn), conn.uptime(), conn.id.pid);
    let mut failures = 0;
    loop {
        let requested = control.recycle.notified();
        tokio::pin!(requested);
        requested.as_mut().enable();
        if !control.recycle_requested(conn.id.generation) && !due() {
            let limits_passed = async {
                if !recycle.is_set() {
                    return std::future::pending().await;
                }
                let mut check = tokio::time::interval(RECYCLE_CHECK);
                loop {
                    check.tick().await;
                    if due() {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = limits_passed => {}
                _ = &mut requested => {
                    if !control.recycle_requested(conn.id.generation) {
                        continue;
                    }
                }
            }
        }
        // Due: start the successor, retrying with back-off until one is up.
        match start(sv, control, conn.id.slot, conn.id.generation + 1).await {
            Ok(next) => return next,
            Err(err) => {
                failures += 1;
                tracing::warn!(
                    "ipc2: a replacement for worker {} failed to start: {err}",
                    conn.id.slot
                );
                tokio::time::sleep(jittered_backoff(failures)).await;
            }
        }
    }
}

/// Completes, with how long it has been silent, once the worker has sent nothing for longer than
/// the heartbeat timeout; never, if there is none.
async fn stuck(conn: &Conn, heartbeat: Option<(Duration, Option<Duration>)>) -> Duration {
    let Some((interval, Some(timeout))) = heartbeat else {
        return std::future::pending().await;
    };
    let period = (interval.min(timeout) / 2).max(Duration::from_millis(1));
    let mut check = tokio::time::interval(period);
    loop {
        check.tick().await;
        let silent = conn.silent_for();
        if silent > timeout {
            return silent;
        }
    }
}

async fn write(drain: outbox::Drain, writer: WriteHalf) {
    if let Err(err) = outbox::write_frames(drain, writer).await {
        tracing::debug!("ipc2: writing to a worker failed: {err}");
    }
}
