//! One task per worker slot: start a worker, serve through it, and replace it when it ends.
//!
//! ```text
//!          spawn + handshake ok                 exit / EOF / bad frame / kill request
//! Starting ────────────────────────► Up ─────────────────────────────────────────────┐
//!    ▲   │ failed (exit at start,            fail its in-flight calls with WorkerExit  │
//!    │   │ timeout, spawn error)                                                       │
//!    │   ▼                                                                             │
//!    └─ back-off (10 ms doubling to 5 s while starts keep failing) ◄───────────────────┘
//! ```
//!
//! The supervisor watches the child's exit as well as its connection, so an idle worker that
//! dies is replaced at once rather than discovered by the next caller. Every call in flight on a
//! dead worker fails with [`Error::WorkerExited`]; none is retried, because it may already have
//! had effects.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipc2_common::FrameCodec;
use ipc2_common::handshake::{Invitation, PROTOCOL_VERSION, Token};
use rustix::process::Signal;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::Error;
use crate::child::{Child, Children};
use ipc2_common::{ReadHalf, WriteHalf, outbox};

use crate::conn::{Conn, read_replies};
use crate::error::{ExitCause, WorkerExit};
use crate::os;
use crate::output::{Capture, Stream};
use crate::pool::{Ended, SlotState};
use crate::shared::{Candidate, Pending, Shared, SlotControl};

/// How long a worker that closed its connection may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a dead worker's stderr to reach its end.
const STDERR_GRACE: Duration = Duration::from_millis(500);
/// How often a worker is checked against the recycling limits.
const RECYCLE_CHECK: Duration = Duration::from_millis(100);
/// A worker that dies sooner than this after starting counts as a failed start for back-off.
const STABLE_UPTIME: Duration = Duration::from_secs(1);

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

/// A worker process between spawn and death.
struct Worker {
    generation: u64,
    pid: u32,
    started: Instant,
    exited: oneshot::Receiver<ExitStatus>,
    status: Option<ExitStatus>,
    stdout: Capture,
    stderr: Capture,
}

impl Worker {
    /// The worker's exit status, waiting for it if need be. Cancel-safe, and cached once known.
    async fn exit_status(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        // The reaper thread drops its sender without a status only if `wait` failed, which
        // cannot happen for our own unreaped child; report a kill rather than invent an exit.
        let status = (&mut self.exited)
            .await
            .unwrap_or_else(|_| ExitStatusExt::from_raw(Signal::KILL.as_raw()));
        self.status = Some(status);
        status
    }
}

/// Runs slot `slot` until the set stops or the slot is ended (`control.end`). `first` learns
/// how the first start went; if it failed, the supervisor stops there (the caller tears the set
/// down or retires the slot).
pub(crate) async fn supervise(
    shared: Arc<Shared>,
    slot: usize,
    control: Arc<SlotControl>,
    first: oneshot::Sender<Result<(), Error>>,
) {
    let mut first = Some(first);
    let mut generation = 0;
    let mut failures = 0;
    while !control.end.is_cancelled() {
        generation += 1;
        let span = tracing::info_span!("ipc2.worker", worker = slot, generation);
        match start(&shared, slot, generation, &control.end)
            .instrument(span.clone())
            .await
        {
            Ok((worker, candidate)) => {
                let mut served = serve(&shared, slot, &control, &mut first, worker, candidate)
                    .instrument(span)
                    .await;
                let exit = loop {
                    match served {
                        Served::Ended(exit) => break exit,
                        Served::Replaced(successor) => {
                            let (next, candidate) = *successor;
                            generation = next.generation;
                            let span =
                                tracing::info_span!("ipc2.worker", worker = slot, generation);
                            served = serve(&shared, slot, &control, &mut None, next, candidate)
                                .instrument(span)
                                .await;
                        }
                    }
                };
                failures = if exit.uptime < STABLE_UPTIME {
                    failures + 1
                } else {
                    0
                };
                if !control.end.is_cancelled() {
                    tracing::warn!("ipc2: {exit}; restarting it");
                    shared.pool.set_slot(slot, SlotState::Starting);
                    shared.pool.count_restart(slot);
                    if let Some(restarts) = shared.note_death() {
                        failures = failures.max(1);
                        shared.pool.throttle(Error::RestartLimit {
                            restarts,
                            within: shared.config.restart_limit.1,
                            last: exit,
                        });
                    }
                }
            }
            Err(err) => {
                if let Some(first) = first.take() {
                    let _ = first.send(Err(err));
                    break;
                }
                if !control.end.is_cancelled() {
                    tracing::warn!("ipc2: worker {slot} failed to start: {err}");
                    shared
                        .pool
                        .set_slot(slot, SlotState::Failing(Arc::new(err)));
                }
                failures += 1;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(jittered_backoff(failures)) => {}
            _ = control.end.cancelled() => {}
        }
    }
    if !shared.stop.is_cancelled() {
        shared.pool.set_slot(slot, SlotState::Retired);
    }
}

/// Removes a slot's handshake registration when starting ends, however it ends.
struct Registration<'a> {
    shared: &'a Shared,
    slot: usize,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.shared.pending().remove(&self.slot);
    }
}

/// Spawns a worker and waits for it to connect and prove who it is.
async fn start(
    shared: &Shared,
    slot: usize,
    generation: u64,
    end: &CancellationToken,
) -> Result<(Worker, Candidate), Error> {
    let config = &shared.config;
    let invitation = Invitation {
        address: shared.address.clone(),
        token: Token::random().map_err(|source| Error::Spawn {
            path: config.worker_path.clone(),
            source: Arc::new(source),
        })?,
        worker_id: slot as u32,
        max_frame_len: config.max_frame_len,
        heartbeat: config.heartbeat.map(|(interval, _)| interval),
        spin: config.spin_poll,
    };
    let (candidates_tx, mut candidates) = mpsc::unbounded_channel();
    shared.pending().insert(
        slot,
        Pending {
            token: invitation.token.clone(),
            candidates: candidates_tx,
        },
    );
    let _registration = Registration { shared, slot };

    let mut command = Command::new(&config.worker_path);
    command
        .args(&config.args)
        .envs(config.env.iter().map(|(k, v)| (k, v)))
        .envs(invitation.to_env())
        .stdin(Stdio::null())
        .stdout(config.stdout.stdio())
        .stderr(config.stderr.stdio());
    if let Some(dir) = &config.current_dir {
        command.current_dir(dir);
    }
    let Child {
        pid,
        stdout,
        stderr,
        exited,
    } = shared
        .children
        .spawn(command, config.limits)
        .await
        .map_err(|source| Error::Spawn {
            path: config.worker_path.clone(),
            source: Arc::new(source),
        })?;
    tracing::debug!(pid, "spawned");
    // If this future is dropped before the worker is handed over (a successor start overtaken
    // by its predecessor's death, say), the half-started worker must not live on.
    let mut unclaimed = KillOnDrop {
        children: &shared.children,
        pid,
        armed: true,
    };
    let mut worker = Worker {
        generation,
        pid,
        started: Instant::now(),
        exited,
        status: None,
        stdout: Capture::start(stdout, Stream::Stdout, slot, config.stdout.clone()),
        stderr: Capture::start(stderr, Stream::Stderr, slot, config.stderr.clone()),
    };

    let deadline = tokio::time::sleep(config.startup_timeout);
    tokio::pin!(deadline);
    let refusal = loop {
        tokio::select! {
            Some(candidate) = candidates.recv() => match check(shared, &candidate, pid) {
                Ok(()) => {
                    tracing::debug!(pid, "handshake complete");
                    unclaimed.armed = false;
                    return Ok((worker, candidate));
                }
                Err(Some(reason)) => break Some(Error::Handshake { worker: slot, reason }),
                Err(None) => {}
            },
            _ = worker.exit_status() => break None,
            _ = &mut deadline => break Some(Error::StartTimeout {
                worker: slot,
                pid,
                timeout: config.startup_timeout,
            }),
            _ = end.cancelled() => break Some(Error::Shutdown),
        }
    };
    shared.children.signal(pid, Signal::KILL);
    let exit = finish(slot, &mut worker, ExitCause::Died).await;
    Err(refusal.unwrap_or(Error::WorkerExited(exit)))
}

/// SIGKILLs worker `pid` when dropped while armed.
struct KillOnDrop<'a> {
    children: &'a Children,
    pid: u32,
    armed: bool,
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.children.signal(self.pid, Signal::KILL);
        }
    }
}

/// Checks that a candidate connection comes from the worker process `pid` (or a process it
/// started: anything in its process group), speaks our protocol and, if it announces the shape
/// of its replies, answers with the type the host reads. `Err(None)`: an impostor,
/// ignored; `Err(Some(reason))`: the real worker, but unusable.
fn check(shared: &Shared, candidate: &Candidate, pid: u32) -> Result<(), Option<String>> {
    // A transport that cannot tell the peer's pid relies on the token alone.
    let group = candidate.peer_pid.map(os::process_group_of);
    if group.is_some_and(|group| !matches!(group, Ok(group) if group == pid)) {
        tracing::warn!(
            peer_pid = ?candidate.peer_pid,
            "ipc2: refused a connection with a valid token from outside worker process {pid}"
        );
        return Err(None);
    }
    if candidate.hello.protocol_version != PROTOCOL_VERSION {
        return Err(Some(format!(
            "it speaks ipc2 protocol version {}, but this host speaks {PROTOCOL_VERSION}: rebuild the worker and host against the same ipc2",
            candidate.hello.protocol_version
        )));
    }
    let (expected, fingerprint) = &shared.reply_shape;
    if candidate
        .hello
        .reply_shape
        .is_some_and(|shape| shape != *fingerprint)
    {
        return Err(Some(format!(
            "its replies are not the {expected} this host expects: the host and worker were built from different versions of the service; rebuild both"
        )));
    }
    Ok(())
}

/// How serving a worker ended.
enum Served {
    /// The worker ended; here is its report.
    Ended(Arc<WorkerExit>),
    /// A successor took over (recycling); the old worker drains on its own task.
    Replaced(Box<(Worker, Candidate)>),
}

/// Serves calls through a connected worker until it ends or a successor takes over.
/// `first`, if still there, learns that the slot's first worker is up once it takes jobs.
async fn serve(
    shared: &Arc<Shared>,
    slot: usize,
    control: &SlotControl,
    first: &mut Option<oneshot::Sender<Result<(), Error>>>,
    mut worker: Worker,
    candidate: Candidate,
) -> Served {
    let Candidate {
        mut reader, writer, ..
    } = candidate;
    let (outbox, queued) = outbox::outbox();
    let (kill_tx, mut kill) = mpsc::unbounded_channel();
    let conn = Arc::new(Conn::new(
        slot,
        worker.generation,
        worker.pid,
        outbox,
        kill_tx,
    ));
    let writer = tokio::spawn(write(queued, writer));
    shared.pool.add(&conn, shared.config.max_in_flight);
    if let Some(first) = first.take() {
        let _ = first.send(Ok(()));
    }

    let cause = tokio::select! {
        read = read_replies(&conn, &shared.pool, &shared.events, &mut reader) => match read {
            Ok(()) => ExitCause::Died,
            Err(why) => ExitCause::ProtocolViolation(why),
        },
        _ = worker.exit_status() => ExitCause::Died,
        Some(cause) = kill.recv() => cause,
        silent = stuck(&conn, shared.config.heartbeat) => ExitCause::Unresponsive(silent),
        (next, candidate) = successor(shared, slot, control, &conn) => {
            // The successor is up: the old worker takes no new call and leaves once its
            // calls in flight are answered.
            tracing::debug!(pid = worker.pid, "replaced by a fresh worker");
            conn.retire();
            shared.pool.remove(&conn);
            let shared = shared.clone();
            tokio::spawn(async move {
                let exit = drain(&shared, slot, worker, conn, reader, writer, kill).await;
                tracing::debug!("retired: {exit}");
            });
            return Served::Replaced(Box::new((next, candidate)));
        }
        _ = control.end.cancelled() => {
            if !shared.stop.is_cancelled() {
                // The slot is being removed (resize): no new jobs, finish those running.
                conn.retire();
                shared.pool.remove(&conn);
                return Served::Ended(drain(shared, slot, worker, conn, reader, writer, kill).await);
            }
            ExitCause::Shutdown
        }
    };
    Served::Ended(end(shared, slot, worker, &conn, cause, reader, writer).await)
}

/// Lets a replaced worker answer its calls in flight, then stops it.
async fn drain(
    shared: &Shared,
    slot: usize,
    mut worker: Worker,
    conn: Arc<Conn>,
    mut reader: FramedRead<ReadHalf, FrameCodec>,
    writer: JoinHandle<()>,
    mut kill: mpsc::UnboundedReceiver<ExitCause>,
) -> Arc<WorkerExit> {
    let cause = tokio::select! {
        read = read_replies(&conn, &shared.pool, &shared.events, &mut reader) => match read {
            Ok(()) => ExitCause::Died,
            Err(why) => ExitCause::ProtocolViolation(why),
        },
        _ = conn.idle() => ExitCause::Retired,
        _ = worker.exit_status() => ExitCause::Died,
        Some(cause) = kill.recv() => cause,
        silent = stuck(&conn, shared.config.heartbeat) => ExitCause::Unresponsive(silent),
        _ = shared.stop.cancelled() => ExitCause::Shutdown,
    };
    end(shared, slot, worker, &conn, cause, reader, writer).await
}

/// Closes a worker's connection, stops it (with a grace period that depends on why), reaps
/// it, and fails the calls still in flight on it with its report.
async fn end(
    shared: &Shared,
    slot: usize,
    mut worker: Worker,
    conn: &Arc<Conn>,
    cause: ExitCause,
    reader: FramedRead<ReadHalf, FrameCodec>,
    writer: JoinHandle<()>,
) -> Arc<WorkerExit> {
    let unanswered = conn.close();
    shared.pool.remove(conn);
    writer.abort();
    drop(reader);

    let grace = match cause {
        ExitCause::Died => EXIT_GRACE,
        ExitCause::Shutdown | ExitCause::Retired => {
            // The closed connection already tells the worker to exit; SIGTERM also reaches
            // anything it started, and whatever outlives the grace period gets SIGKILL.
            shared.children.signal(worker.pid, Signal::TERM);
            shared.config.shutdown_grace
        }
        ExitCause::ProtocolViolation(_) | ExitCause::Timeout | ExitCause::Unresponsive(_) => {
            Duration::ZERO
        }
    };
    if tokio::time::timeout(grace, worker.exit_status())
        .await
        .is_err()
    {
        shared.children.signal(worker.pid, Signal::KILL);
    }
    let exit = finish(slot, &mut worker, cause).await;
    let failed = unanswered.count() as u64;
    unanswered.fail(&exit);
    shared.pool.finish(
        conn,
        Ended {
            answered: 0,
            failed,
        },
    );
    exit
}

/// Completes with a started successor once the worker behind `conn` is due for replacement
/// (its job count, age or memory passed a recycling limit, or `WorkerSet::restart` asked). A
/// successor that fails to start is retried after a back-off; meanwhile the old worker serves.
async fn successor(
    shared: &Shared,
    slot: usize,
    control: &SlotControl,
    conn: &Conn,
) -> (Worker, Candidate) {
    let recycle = &shared.config.recycle;
    let mut failures = 0;
    loop {
        let requested = control.recycle.notified();
        tokio::pin!(requested);
        requested.as_mut().enable();
        if !control.recycle_requested(conn.generation) && !recycle.due(conn) {
            let due = async {
                if !recycle.is_set() {
                    return std::future::pending().await;
                }
                let mut check = tokio::time::interval(RECYCLE_CHECK);
                loop {
                    check.tick().await;
                    if recycle.due(conn) {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = due => {}
                _ = &mut requested => {
                    if !control.recycle_requested(conn.generation) {
                        continue;
                    }
                }
            }
        }
        // Due: start the successor, retrying with back-off until one is up.
        match start(shared, slot, conn.generation + 1, &control.end).await {
            Ok(next) => return next,
            Err(err) => {
                failures += 1;
                tracing::warn!("ipc2: a replacement for worker {slot} failed to start: {err}");
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

/// Waits for the worker's exit status and builds its report.
async fn finish(slot: usize, worker: &mut Worker, cause: ExitCause) -> Arc<WorkerExit> {
    let status = worker.exit_status().await;
    Arc::new(WorkerExit {
        worker: slot,
        generation: worker.generation,
        pid: worker.pid,
        status,
        cause,
        uptime: worker.started.elapsed(),
        stderr_tail: {
            worker.stdout.finish(STDERR_GRACE).await;
            worker.stderr.finish(STDERR_GRACE).await
        },
    })
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
}
