//! The host crate's error type and the structured report of a worker's death.

use std::fmt;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

/// Everything that can go wrong on the host side.
///
/// Cheap to clone, so one failure can be reported to every caller it affects.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The builder was given settings that cannot work.
    #[error("invalid worker set configuration: {0}")]
    Config(&'static str),
    /// The listening socket for workers could not be created.
    #[error("could not create the socket that workers connect to")]
    Listen(#[source] Arc<io::Error>),
    /// The worker binary could not be started (missing, not executable, ...).
    #[error("could not start worker binary {}", path.display())]
    Spawn {
        /// The binary that was to be started.
        path: PathBuf,
        /// Why starting it failed.
        #[source]
        source: Arc<io::Error>,
    },
    /// A worker did not complete its handshake within the startup timeout.
    #[error("worker {worker} (pid {pid}) did not connect within {timeout:?}; it was killed")]
    StartTimeout {
        /// The worker's slot id.
        worker: usize,
        /// Its process id.
        pid: u32,
        /// The startup timeout.
        timeout: Duration,
    },
    /// The host could not accept a connection while a worker was starting, so the worker could
    /// not connect; it was killed. Usually the host is out of file descriptors.
    #[error(
        "worker {worker} (pid {pid}) could not connect: the host failed to accept its connection: {source}{hint}",
        hint = accept_hint(source)
    )]
    Accept {
        /// The worker's slot id.
        worker: usize,
        /// Its process id.
        pid: u32,
        /// Why `accept` failed.
        source: Arc<std::io::Error>,
    },
    /// [`WorkerSet::restart`](crate::WorkerSet::restart) gave up waiting for a worker's
    /// replacement; the old worker keeps serving.
    #[error(
        "the replacement for worker {worker} (pid {pid}) did not come up within {timeout:?}; pid {pid} keeps serving"
    )]
    RestartTimeout {
        /// The slot id.
        worker: usize,
        /// The process id of the worker that was to be replaced, and still serves.
        pid: u32,
        /// How long the restart waited.
        timeout: Duration,
    },
    /// A worker connected with the right token but could not be accepted (for example, it speaks
    /// another protocol version: the host and worker binaries are out of step).
    #[error("worker {worker} was refused at handshake: {reason}")]
    Handshake {
        /// The worker's slot id.
        worker: usize,
        /// Why it was refused.
        reason: String,
    },
    /// The worker running the job died, or was killed, before answering it.
    #[error("{0}")]
    WorkerExited(Arc<WorkerExit>),
    /// The job ran on a worker for longer than its time limit (the limit counts from when the
    /// job was written to the worker, not the time it waited in the queue). `action` says what
    /// happened to the worker: killed and replaced ([`TimeoutAction::Restart`]), or told the job
    /// was cancelled ([`TimeoutAction::Error`]).
    ///
    /// [`TimeoutAction::Restart`]: crate::TimeoutAction::Restart
    /// [`TimeoutAction::Error`]: crate::TimeoutAction::Error
    #[error(
        "the job ran on worker {worker} for {ran_for:?}, past its time limit of {limit:?}; {}",
        timeout_outcome(*action)
    )]
    Timeout {
        /// The slot id of the worker that ran it.
        worker: usize,
        /// The time limit.
        limit: Duration,
        /// How long it had run when it was stopped.
        ran_for: Duration,
        /// What was done to the worker.
        action: crate::TimeoutAction,
    },
    /// The job waited for a free worker for longer than its queue timeout
    /// ([`WorkerSetBuilder::queue_timeout`](crate::WorkerSetBuilder::queue_timeout), or
    /// [`Policy::queue_timeout`](crate::Policy::queue_timeout)). It was never sent, so it is
    /// always safe to retry.
    #[error(
        "the job waited {waited:?} for a free worker, past its queue timeout, and was never sent; it is safe to retry"
    )]
    QueueTimeout {
        /// How long it waited.
        waited: Duration,
    },
    /// `try_send` found every worker busy and the queue full.
    #[error("all workers are busy and the queue is full ({capacity} jobs waiting)")]
    Busy {
        /// The queue capacity.
        capacity: usize,
    },
    /// No worker is running and none could be started: sends fail at once until one starts.
    #[error("no worker is running, and the last attempt to start one failed: {0}")]
    NoWorkers(Arc<Error>),
    /// Workers died more often than the restart limit allows (see
    /// [`WorkerSetBuilder::restart_limit`](crate::WorkerSetBuilder::restart_limit)), so the set
    /// refuses jobs at once until a replacement worker has started cleanly.
    #[error(
        "workers died {restarts} times within {within:?}, so the set refuses jobs until a worker starts cleanly again; the last death: {last}"
    )]
    RestartLimit {
        /// How many deaths were counted in the window.
        restarts: usize,
        /// The window.
        within: Duration,
        /// The most recent death.
        last: Arc<WorkerExit>,
    },
    /// This job crashed the worker running it the configured number of times in a row (see
    /// [`WorkerSetBuilder::quarantine_after`](crate::WorkerSetBuilder::quarantine_after)), so it
    /// is refused instead of killing another worker.
    #[error("this job crashed a worker {crashes} times in a row, so it is refused")]
    Quarantined {
        /// How many times in a row it crashed a worker.
        crashes: u32,
    },
    /// The worker answered the job with a failure: its handler dropped the reply handle, called
    /// `fail`, or panicked.
    #[error("the worker failed the job: {reason}")]
    Remote {
        /// The worker's explanation.
        reason: String,
    },
    /// A job was addressed to a worker slot the set does not have.
    #[error(
        "there is no worker {worker} in this set (it has {count} slots, some perhaps removed by resize)"
    )]
    NoSuchWorker {
        /// The slot asked for.
        worker: usize,
        /// How many slots the set has.
        count: usize,
    },
    /// The set is shutting down or has shut down.
    #[error("the worker set is shut down")]
    Shutdown,
    /// The set's background tasks (its supervisors, connection readers and writers) are gone,
    /// so it cannot run jobs any more: the tokio runtime that built the set was shut down while
    /// the set lived on. Its workers have exited, since their connections closed.
    #[error(
        "the worker set's tasks are gone: the tokio runtime that built the set has shut down; build the set on the runtime that uses it, and keep that runtime alive as long as the set"
    )]
    TasksGone,
    /// The job could not be encoded (for example, it exceeds the frame limit).
    #[error("the job could not be encoded")]
    Encode(#[source] Arc<ipc2_common::Error>),
    /// A worker's reply did not decode as the expected type. The worker is replaced: the host and
    /// worker binaries probably disagree about the message types.
    #[error("worker {worker} sent a reply that is not a valid {expected}; the worker was replaced")]
    Decode {
        /// The worker's slot id.
        worker: usize,
        /// The type the reply should have been.
        expected: &'static str,
        /// What the decoder found.
        #[source]
        source: Arc<ipc2_common::Error>,
    },
    /// A worker's event did not decode as the expected type (see
    /// [`WorkerSet::events`](crate::WorkerSet::events)).
    #[error("worker {worker} sent an event that is not a valid {expected}")]
    BadEvent {
        /// The worker's slot id.
        worker: usize,
        /// The type the event should have been.
        expected: &'static str,
        /// What the decoder found.
        #[source]
        source: Arc<ipc2_common::Error>,
    },
    /// A service client got a reply of the wrong variant for the method it called.
    #[error("the worker answered {service}::{method} with a reply for another method")]
    UnexpectedReply {
        /// The service trait.
        service: &'static str,
        /// The method called.
        method: &'static str,
    },
}

/// Why a worker's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitCause {
    /// The process exited or closed its connection on its own (a crash, `exit`, a signal from
    /// elsewhere).
    Died,
    /// The host killed it because it broke the protocol (bad frame, unknown reply id, ...).
    ProtocolViolation(String),
    /// The host killed it because a job run with `TimeoutAction::Restart` timed out.
    Timeout,
    /// The host stopped it because the set was shutting down.
    Shutdown,
    /// The host replaced it with a fresh worker (recycling or `WorkerSet::restart`) and stopped
    /// it once its calls in flight were answered.
    Retired,
    /// The host killed it because it had sent nothing, not even a heartbeat, for this long
    /// (see [`WorkerSetBuilder::heartbeat`](crate::WorkerSetBuilder::heartbeat)).
    Unresponsive(Duration),
}

/// A structured report of a worker process's end.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerExit {
    /// The worker's slot id (0-based).
    pub worker: usize,
    /// How many processes this slot had started, this one included.
    pub generation: u64,
    /// The process id it had.
    pub pid: u32,
    /// How the process ended.
    pub status: ExitStatus,
    /// Why it ended, as far as the host knows.
    pub cause: ExitCause,
    /// How long it had been running.
    pub uptime: Duration,
    /// The last lines it wrote to stderr.
    pub stderr_tail: String,
    /// The address-space limit it ran under
    /// ([`WorkerSetBuilder::memory_limit`](crate::WorkerSetBuilder::memory_limit)), if any:
    /// running out of it shows as an abort, a segfault or a failed thread spawn, not as itself.
    pub memory_limit: Option<u64>,
    /// The CPU time each of its jobs could use
    /// ([`WorkerSetBuilder::cpu_time_limit`](crate::WorkerSetBuilder::cpu_time_limit)), if any.
    pub cpu_time_limit: Option<Duration>,
}

impl WorkerExit {
    /// The exit code, if the process exited normally.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }
}

impl fmt::Display for WorkerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker {} (pid {}) ", self.worker, self.pid)?;
        match &self.cause {
            ExitCause::Died => {}
            ExitCause::ProtocolViolation(why) => write!(f, "broke the protocol ({why}) and ")?,
            ExitCause::Timeout => f.write_str("timed out and ")?,
            ExitCause::Shutdown => f.write_str("was stopped by shutdown and ")?,
            ExitCause::Retired => f.write_str("was replaced by a fresh worker and ")?,
            ExitCause::Unresponsive(silent) => {
                write!(f, "sent nothing for {silent:.1?}, was taken for stuck and ")?
            }
        }
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => write!(f, "exited with code {code}")?,
            (None, Some(signal)) => {
                write!(f, "was killed by signal {signal}{}", signal_name(signal))?
            }
            (None, None) => write!(f, "ended with {}", self.status)?,
        }
        write!(f, " after {:.1?}", self.uptime)?;
        if let (Some(24), Some(limit)) = (self.status.signal(), self.cpu_time_limit) {
            write!(
                f,
                ": a job used more than its CPU time limit of {limit:?} (cpu_time_limit)"
            )?;
        } else if let (ExitCause::Died, Some(bytes)) = (&self.cause, self.memory_limit) {
            write!(
                f,
                "; it ran under a memory limit of {bytes} bytes (memory_limit), which may be what it ran out of"
            )?;
        }
        if !self.stderr_tail.is_empty() {
            write!(f, "; its stderr ended with:\n{}", self.stderr_tail)?;
        }
        Ok(())
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        24 => " (SIGXCPU)",
        _ => "",
    }
}

/// What to do about a failed `accept`, when the reason says.
fn accept_hint(err: &std::io::Error) -> &'static str {
    use rustix::io::Errno;
    let errno = err.raw_os_error();
    if errno == Some(Errno::MFILE.raw_os_error()) {
        "; the host is out of file descriptors: raise its limit (ulimit -n) or run fewer workers"
    } else if errno == Some(Errno::NFILE.raw_os_error()) {
        "; the system is out of file descriptors (fs.file-max)"
    } else {
        ""
    }
}

/// What [`Error::Timeout`] did to the worker, in words.
fn timeout_outcome(action: crate::TimeoutAction) -> &'static str {
    match action {
        crate::TimeoutAction::Restart => "the worker was killed and is being replaced",
        crate::TimeoutAction::Error => "the job was cancelled on the worker, which lives on",
    }
}
