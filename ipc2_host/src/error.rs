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
/// Cheap to clone, so one failure can be reported to every caller it affects. Each message says
/// what happened, with its cause, and what to do; `Debug` prints the same message (and any cause
/// it does not already include), so that `main() -> Result<(), Box<dyn Error>>` shows it too.
#[derive(Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The builder was given settings that cannot work.
    #[error("invalid worker set configuration: {0}")]
    Config(&'static str),
    /// The listening socket for workers could not be created.
    #[error("could not create the socket that workers connect to: {0}")]
    Listen(#[source] Arc<io::Error>),
    /// The worker binary could not be started (missing, not executable, ...).
    #[error(
        "could not start worker binary {}: {source}{}",
        path.display(),
        spawn_hint(source)
    )]
    Spawn {
        /// The binary that was to be started, resolved against the host's current directory.
        path: PathBuf,
        /// Why starting it failed.
        #[source]
        source: Arc<io::Error>,
    },
    /// A worker did not complete its handshake within the startup timeout.
    #[error(
        "worker {worker} (pid {pid}) did not connect to the host within {timeout:?} (startup_timeout) and was killed; does it call ipc2::worker::serve or connect?"
    )]
    StartTimeout {
        /// The worker's slot id.
        worker: usize,
        /// Its process id.
        pid: u32,
        /// The startup timeout.
        timeout: Duration,
    },
    /// Fewer workers on other machines connected within the startup timeout than
    /// [`remote_workers`](crate::WorkerSetBuilder::remote_workers) requires before `finish`
    /// returns.
    #[error(
        "only {connected} of the {wanted} workers required on other machines connected to {address} within {timeout:?} (startup_timeout); check that their orchestrator started them with IPC2_CONNECT={address} and credentials the host accepts (the host's log names each connection it refused), or lower remote_workers' minimum"
    )]
    RemoteWorkersMissing {
        /// The address the host listened on.
        address: String,
        /// How many had connected.
        connected: usize,
        /// How many `finish` waited for.
        wanted: usize,
        /// The startup timeout.
        timeout: Duration,
    },
    /// A slot kept for a worker on another machine has had none for the startup timeout. While
    /// every slot of the set is like this (or failing), calls fail at once with
    /// [`Error::NoWorkers`] wrapping it, instead of waiting for a worker that may never come; the
    /// slot goes on waiting, and serves as soon as one joins.
    #[error(
        "no worker on another machine has connected to {address} for {waited:?} (startup_timeout); check that their orchestrator runs them with IPC2_CONNECT={address} and credentials the host accepts (the host's log names each connection it refused)"
    )]
    NoRemoteWorker {
        /// The address the host listens on.
        address: String,
        /// How long the slot had waited when it gave up hope (the startup timeout); it goes on
        /// waiting.
        waited: Duration,
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
    /// A streaming call's worker sent no next item within the call's item timeout
    /// ([`Policy::item_timeout`](crate::Policy::item_timeout), `#[ipc2(item_timeout = "...")]`).
    /// The call was cancelled on the worker; the items before it all arrived.
    #[error(
        "worker {worker} sent no stream item for {limit:?}, past the call's item timeout; the call was cancelled on the worker"
    )]
    ItemTimeout {
        /// The slot id of the worker that was streaming.
        worker: usize,
        /// The item timeout.
        limit: Duration,
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
    /// No worker is running and none could be started (or, on other machines, none has come):
    /// sends fail at once until one is up.
    #[error("no worker is running, and the last attempt to get one failed: {0}")]
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
    /// The job could not be encoded (for example, it exceeds the frame limit). Nothing was sent.
    #[error("{}", encode_message(_0))]
    Encode(#[source] Arc<ipc2_common::Error>),
    /// A worker's reply did not decode as the expected type. The worker is replaced: the host and
    /// worker binaries probably disagree about the message types.
    #[error(
        "worker {worker} sent a reply that is not a valid {expected} ({source}); the worker was replaced. Are the host and the worker built from the same version of the types?"
    )]
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
    #[error("worker {worker} sent an event that is not a valid {expected} ({source})")]
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
    /// The process ended by itself before it connected to the host: a program that is not an
    /// ipc2 worker, or one that fails before calling `ipc2::worker::serve` or `connect`.
    ExitedBeforeConnecting,
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
///
/// For a worker on another machine ([`remote`](Self::remote) is set) the host cannot see its
/// process: the report is of the end of its connection, [`status`](Self::status) is `None`, and
/// the stderr tail and limits are empty.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerExit {
    /// The worker's slot id (0-based).
    pub worker: usize,
    /// How many processes this slot had started, this one included.
    pub generation: u64,
    /// The process id it had (on the machine [`remote`](Self::remote) names, if it names one).
    pub pid: u32,
    /// Where the worker ran, if not on this machine.
    pub remote: Option<crate::RemoteHost>,
    /// How the process ended; `None` for a worker on another machine.
    pub status: Option<ExitStatus>,
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
        self.status.and_then(|status| status.code())
    }

    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.and_then(|status| status.signal())
    }
}

impl fmt::Display for WorkerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.remote {
            None => write!(f, "worker {} (pid {}) ", self.worker, self.pid)?,
            Some(remote) => write!(f, "worker {} (pid {} {remote}) ", self.worker, self.pid)?,
        }
        match &self.cause {
            ExitCause::Died => {}
            ExitCause::ExitedBeforeConnecting => f.write_str(
                "ended before connecting to the host (does it call ipc2::worker::serve or connect?): it ",
            )?,
            ExitCause::ProtocolViolation(why) => write!(f, "broke the protocol ({why}) and ")?,
            ExitCause::Timeout => f.write_str("timed out and ")?,
            ExitCause::Shutdown => f.write_str("was stopped by shutdown and ")?,
            ExitCause::Retired => f.write_str("was replaced by a fresh worker and ")?,
            ExitCause::Unresponsive(silent) => {
                write!(f, "sent nothing for {silent:.1?}, was taken for stuck and ")?
            }
        }
        match (self.status, self.code(), self.signal()) {
            (None, ..) if self.cause == ExitCause::Died => f.write_str("lost its connection")?,
            (None, ..) => f.write_str("was disconnected")?,
            (Some(_), Some(code), _) => write!(f, "exited with code {code}")?,
            (Some(_), None, Some(signal)) => {
                write!(f, "was killed by signal {signal}{}", signal_name(signal))?
            }
            (Some(status), None, None) => write!(f, "ended with {status}")?,
        }
        write!(f, " after {:.1?}", self.uptime)?;
        let xcpu = rustix::process::Signal::XCPU.as_raw();
        if let (Some(signal), Some(limit)) = (self.signal(), self.cpu_time_limit)
            && signal == xcpu
        {
            write!(
                f,
                ": a job used more than its CPU time limit of {limit:?} (cpu_time_limit)"
            )?;
        } else if let (ExitCause::Died | ExitCause::ExitedBeforeConnecting, Some(bytes)) =
            (&self.cause, self.memory_limit)
        {
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

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ipc2_common::write_report(self, f)
    }
}

/// What to do about a failed spawn, when the reason says.
fn spawn_hint(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::NotFound => "; build it, or fix worker_path",
        io::ErrorKind::PermissionDenied => "; make it executable (chmod +x), or fix worker_path",
        _ => "",
    }
}

/// The message of [`Error::Encode`]: for a job over the frame limit, its size and the limit.
fn encode_message(err: &ipc2_common::Error) -> String {
    match err {
        ipc2_common::Error::FrameTooLarge { len, max } => format!(
            "the job is {len} bytes, over the {} frame limit (max_frame_len); nothing was sent. Send it in parts, or raise max_frame_len",
            ipc2_common::human_bytes(*max as u64)
        ),
        other => format!("the job could not be encoded: {other}"),
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
        crate::TimeoutAction::Restart => {
            "the worker was killed (a remote one: disconnected) and is being replaced"
        }
        crate::TimeoutAction::Error => "the job was cancelled on the worker, which lives on",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(cause: ExitCause, status: i32) -> Arc<WorkerExit> {
        Arc::new(WorkerExit {
            worker: 2,
            generation: 3,
            pid: 4321,
            remote: None,
            status: Some(ExitStatus::from_raw(status)),
            cause,
            uptime: Duration::from_millis(1500),
            stderr_tail: "thread 'main' panicked at src/main.rs:1:1".into(),
            memory_limit: None,
            cpu_time_limit: None,
        })
    }

    /// The error of encoding a job whose `Serialize` fails.
    fn unserializable() -> ipc2_common::Error {
        struct Refuses;
        impl serde::Serialize for Refuses {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("sequence must have length"))
            }
        }
        ipc2_common::codec::encode_frame(&ipc2_common::ToWorker::Notify, Some(&Refuses), 1024)
            .unwrap_err()
    }

    /// Every variant, with what its message must say: the facts, the cause, and what to do.
    #[test]
    fn every_message_says_what_happened_and_what_to_do() {
        let io = |kind| Arc::new(io::Error::from(kind));
        let frame = |len, max| Arc::new(ipc2_common::Error::FrameTooLarge { len, max });
        let decode = || {
            Arc::new(ipc2_common::Error::TooDeep {
                limit: ipc2_common::codec::MAX_DEPTH,
            })
        };
        let cases: Vec<(Error, &[&str])> = vec![
            (
                Error::ItemTimeout {
                    worker: 1,
                    limit: Duration::from_secs(1),
                },
                &[
                    "worker 1",
                    "no stream item for 1s",
                    "cancelled on the worker",
                ],
            ),
            (
                Error::Config("worker_count must be at least 1"),
                &["worker_count must be at least 1"],
            ),
            (
                Error::Listen(io(io::ErrorKind::PermissionDenied)),
                &["socket", "permission denied"],
            ),
            (
                Error::Spawn {
                    path: "/srv/bin/v1-worker".into(),
                    source: Arc::new(io::Error::from_raw_os_error(2)),
                },
                &[
                    "/srv/bin/v1-worker",
                    "No such file or directory",
                    "build it, or fix worker_path",
                ],
            ),
            (
                Error::Spawn {
                    path: "/srv/bin/v1-worker".into(),
                    source: Arc::new(io::Error::from_raw_os_error(13)),
                },
                &["Permission denied", "chmod +x"],
            ),
            (
                Error::StartTimeout {
                    worker: 1,
                    pid: 77,
                    timeout: Duration::from_secs(20),
                },
                &[
                    "worker 1 (pid 77)",
                    "did not connect",
                    "20s",
                    "startup_timeout",
                    "ipc2::worker::serve",
                ],
            ),
            (
                Error::Accept {
                    worker: 1,
                    pid: 77,
                    source: Arc::new(io::Error::from_raw_os_error(24)),
                },
                &["could not connect", "Too many open files", "ulimit -n"],
            ),
            (
                Error::RemoteWorkersMissing {
                    address: "tls://10.0.0.1:7000".into(),
                    connected: 1,
                    wanted: 2,
                    timeout: Duration::from_secs(20),
                },
                &[
                    "only 1 of the 2",
                    "IPC2_CONNECT=tls://10.0.0.1:7000",
                    "20s",
                    "remote_workers",
                ],
            ),
            (
                Error::NoWorkers(Arc::new(Error::NoRemoteWorker {
                    address: "tls://10.0.0.1:7000".into(),
                    waited: Duration::from_secs(20),
                })),
                &[
                    "no worker is running",
                    "no worker on another machine has connected to tls://10.0.0.1:7000 for 20s",
                    "IPC2_CONNECT=tls://10.0.0.1:7000",
                ],
            ),
            (
                Error::RestartTimeout {
                    worker: 0,
                    pid: 9,
                    timeout: Duration::from_secs(5),
                },
                &["replacement for worker 0", "5s", "keeps serving"],
            ),
            (
                Error::Handshake {
                    worker: 0,
                    reason: "its reply type has another shape".into(),
                },
                &["worker 0", "another shape"],
            ),
            (
                Error::WorkerExited(exit(ExitCause::Died, 11)),
                &[
                    "worker 2 (pid 4321)",
                    "signal 11 (SIGSEGV)",
                    "1.5s",
                    "panicked",
                ],
            ),
            (
                Error::Timeout {
                    worker: 1,
                    limit: Duration::from_secs(2),
                    ran_for: Duration::from_millis(2003),
                    action: crate::TimeoutAction::Restart,
                },
                &[
                    "ran on worker 1 for 2.003s",
                    "time limit of 2s",
                    "killed (a remote one: disconnected) and is being replaced",
                ],
            ),
            (
                Error::Timeout {
                    worker: 1,
                    limit: Duration::from_secs(2),
                    ran_for: Duration::from_secs(2),
                    action: crate::TimeoutAction::Error,
                },
                &["cancelled on the worker"],
            ),
            (
                Error::QueueTimeout {
                    waited: Duration::from_millis(300),
                },
                &["waited 300ms", "never sent", "safe to retry"],
            ),
            (Error::Busy { capacity: 1024 }, &["busy", "1024"]),
            (
                Error::NoWorkers(Arc::new(Error::StartTimeout {
                    worker: 0,
                    pid: 5,
                    timeout: Duration::from_secs(1),
                })),
                &["no worker is running", "did not connect"],
            ),
            (
                Error::RestartLimit {
                    restarts: 21,
                    within: Duration::from_secs(10),
                    last: exit(ExitCause::Died, 6),
                },
                &[
                    "21 times within 10s",
                    "until a worker starts cleanly",
                    "SIGABRT",
                ],
            ),
            (
                Error::Quarantined { crashes: 3 },
                &["crashed a worker 3 times"],
            ),
            (
                Error::Remote {
                    reason: "bad input".into(),
                },
                &["worker failed the job", "bad input"],
            ),
            (
                Error::NoSuchWorker {
                    worker: 7,
                    count: 4,
                },
                &["no worker 7", "4 slots"],
            ),
            (Error::Shutdown, &["shut down"]),
            (Error::TasksGone, &["tasks are gone", "runtime"]),
            (
                Error::Encode(frame(68_157_448, 64 << 20)),
                &[
                    "the job is 68157448 bytes",
                    "64 MiB frame limit",
                    "max_frame_len",
                ],
            ),
            (
                Error::Encode(Arc::new(unserializable())),
                &["the job could not be encoded", "sequence must have length"],
            ),
            (
                Error::Decode {
                    worker: 3,
                    expected: "Reply",
                    source: decode(),
                },
                &[
                    "worker 3",
                    "not a valid Reply",
                    "more than 256 levels deep",
                    "replaced",
                    "same version",
                ],
            ),
            (
                Error::BadEvent {
                    worker: 3,
                    expected: "Progress",
                    source: decode(),
                },
                &["worker 3", "event", "Progress", "256 levels"],
            ),
            (
                Error::UnexpectedReply {
                    service: "Calc",
                    method: "add",
                },
                &["Calc::add", "another method"],
            ),
        ];
        for (err, parts) in cases {
            let message = err.to_string();
            for part in parts {
                assert!(message.contains(part), "{part:?} missing from: {message}");
            }
            // What `main() -> Result<(), Box<dyn Error>>` prints is readable too.
            assert!(format!("{err:?}").starts_with(&message), "{err:?}");
        }
    }

    #[test]
    fn a_report_says_who_ended_the_worker_and_why() {
        let cases = [
            (
                ExitCause::ProtocolViolation("a second hello".into()),
                "broke the protocol (a second hello) and ",
            ),
            (ExitCause::Timeout, "timed out and "),
            (ExitCause::Shutdown, "was stopped by shutdown and "),
            (ExitCause::Retired, "was replaced by a fresh worker and "),
            (
                ExitCause::Unresponsive(Duration::from_secs(3)),
                "sent nothing for 3.0s, was taken for stuck and ",
            ),
        ];
        for (cause, part) in cases {
            let text = exit(cause, 9).to_string();
            assert!(text.starts_with("worker 2 (pid 4321) "), "{text}");
            assert!(text.contains(part), "{part:?} missing from: {text}");
        }
    }

    #[test]
    fn a_remote_workers_report_names_its_machine_and_no_local_exit() {
        let mut lost = WorkerExit::clone(&exit(ExitCause::Died, 9));
        lost.remote = Some(crate::RemoteHost {
            address: "10.0.0.7:41234".parse().unwrap(),
            host_name: "node-7".into(),
        });
        lost.status = None;
        lost.stderr_tail.clear();
        let text = lost.to_string();
        assert_eq!(
            text,
            "worker 2 (pid 4321 on node-7 (10.0.0.7:41234)) lost its connection after 1.5s"
        );
        assert_eq!((lost.code(), lost.signal()), (None, None));
        lost.cause = ExitCause::Timeout;
        let text = lost.to_string();
        assert!(text.contains("timed out and was disconnected"), "{text}");
    }

    #[test]
    fn reports_name_the_limits_a_worker_ran_under() {
        let mut cpu = WorkerExit::clone(&exit(ExitCause::Died, 24));
        cpu.cpu_time_limit = Some(Duration::from_secs(1));
        assert!(cpu.to_string().contains("CPU time limit of 1s"), "{cpu}");
        let mut memory = WorkerExit::clone(&exit(ExitCause::ExitedBeforeConnecting, 11));
        memory.memory_limit = Some(1 << 20);
        let text = memory.to_string();
        assert!(text.contains("memory limit of 1048576 bytes"), "{text}");
        assert!(text.contains("before connecting to the host"), "{text}");
        assert!(text.contains("ipc2::worker::serve"), "{text}");
    }
}
