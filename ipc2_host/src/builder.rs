//! [`WorkerSetBuilder`]: the settings of a worker set, and starting it.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipc2_common::{DEFAULT_MAX_FRAME_LEN, Server};
use serde::de::DeserializeOwned;

use crate::config::{Config, Recycle};
use crate::private_dir;
use crate::process::{Limits, Output};
use crate::supervisor::{Supervision, TypeCheck, accept_workers};
use crate::workerset::{Types, WorkerSet};
use crate::{Error, TimeoutAction};

/// The default [`WorkerSetBuilder::stream_window`].
const DEFAULT_STREAM_WINDOW: u32 = 64;

/// The longest [`WorkerSetBuilder::spin_poll`] accepted.
const MAX_SPIN_POLL: Duration = Duration::from_millis(10);

/// With workers on other machines and no heartbeat timeout given, a worker silent for this many
/// heartbeat intervals is taken for cut off.
const REMOTE_SILENT_INTERVALS: u32 = 10;

/// Configures and starts a [`WorkerSet`]. Obtained from [`WorkerSet::builder`].
///
/// Only [`worker_path`](Self::worker_path) is required. A set for crash-prone, leaky work:
///
/// ```no_run
/// use std::time::Duration;
/// use ipc2::host::{Output, WorkerSet};
/// use tokio::net::UnixListener;
///
/// # async fn _demo() -> Result<(), ipc2::host::Error> {
/// let workers: WorkerSet<UnixListener, String, String> = WorkerSet::builder()
///     .worker_count(4)
///     .worker_path("./target/release/evaluator")
///     .memory_limit(512 << 20)                  // RLIMIT_AS per worker
///     .cpu_time_limit(Duration::from_secs(30))  // CPU time per job
///     .recycle_after_jobs(10_000)               // replace workers that may leak
///     .heartbeat(Duration::from_secs(1), Some(Duration::from_secs(10)))
///     .quarantine_after(3)                      // refuse a job that keeps killing workers
///     .stderr(Output::Tracing)
///     .finish()
///     .await?;
/// let stats = workers.stats();
/// println!("{} queued, {} running", stats.queued, stats.in_flight);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `finish().await` is called"]
pub struct WorkerSetBuilder<S, R, W, E = R> {
    worker_count: Option<usize>,
    worker_path: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    queue_capacity: usize,
    max_in_flight: usize,
    max_frame_len: usize,
    share_above: Option<usize>,
    startup_timeout: Duration,
    default_timeout: Option<(Duration, TimeoutAction)>,
    queue_timeout: Option<Duration>,
    shutdown_grace: Duration,
    restart_limit: (usize, Duration),
    quarantine_after: Option<u32>,
    memory_limit: Option<u64>,
    cpu_time_limit: Option<Duration>,
    nice: Option<i32>,
    stdout: Output,
    stderr: Output,
    event_capacity: usize,
    stream_window: u32,
    heartbeat: Option<(Duration, Option<Duration>)>,
    spin_poll: Duration,
    recycle: Recycle,
    /// How many workers on other machines `finish` waits for, and how many may join.
    remote: Option<(usize, usize)>,
    /// A listener the user bound, and the address the workers this set starts dial.
    listener: Option<(S, String)>,
    _types: Types<S, R, W, E>,
}

impl<S: Server, R, W, E> Default for WorkerSetBuilder<S, R, W, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Server, R, W, E> WorkerSetBuilder<S, R, W, E> {
    /// A builder for a set over the transport `S`, with the default settings. For Unix sockets,
    /// [`WorkerSet::builder`] says the same with fewer types.
    pub fn new() -> Self {
        Self {
            worker_count: None,
            worker_path: None,
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            queue_capacity: 1024,
            max_in_flight: 1,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            share_above: None,
            startup_timeout: Duration::from_secs(20),
            default_timeout: None,
            queue_timeout: None,
            shutdown_grace: Duration::from_secs(5),
            restart_limit: (20, Duration::from_secs(10)),
            quarantine_after: None,
            memory_limit: None,
            cpu_time_limit: None,
            nice: None,
            stdout: Output::Inherit,
            stderr: Output::Forward,
            event_capacity: 1024,
            stream_window: DEFAULT_STREAM_WINDOW,
            heartbeat: Some((Duration::from_secs(1), None)),
            spin_poll: Duration::ZERO,
            recycle: Recycle::default(),
            remote: None,
            listener: None,
            _types: PhantomData,
        }
    }

    /// Accepts workers on `listener`, bound by the caller, instead of a Unix socket the set binds
    /// itself (`Server::bind`); the workers the set starts dial `address`. This is how a set
    /// listens on TCP with TLS ([`TlsListener`](ipc2_common::tls::TlsListener)): `address` is
    /// then `tls://host:port`, with a host name the listener's certificate carries, and the
    /// workers find their own credentials in the environment (`IPC2_TLS_CERT`, `IPC2_TLS_KEY`,
    /// `IPC2_TLS_CA`; see [`env`](Self::env)).
    ///
    /// ```no_run
    /// # async fn _demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use ipc2::transport::{TlsConfig, TlsListener};
    ///
    /// let config = TlsConfig::from_pem_files("host.crt", "host.key", "ca.crt")?;
    /// let listener = TlsListener::bind("127.0.0.1:0", &config).await?;
    /// let address = listener.address().replace("127.0.0.1", "localhost");
    /// let workers = ipc2::WorkerSetBuilder::<_, String, String>::new()
    ///     .listen(listener, address)
    ///     .worker_path("./my_worker")
    ///     .env("IPC2_TLS_CERT", "worker.crt")
    ///     .env("IPC2_TLS_KEY", "worker.key")
    ///     .env("IPC2_TLS_CA", "ca.crt")
    ///     .finish()
    ///     .await?;
    /// # let _ = workers; Ok(()) }
    /// ```
    pub fn listen(mut self, listener: S, address: impl Into<String>) -> Self {
        self.listener = Some((listener, address.into()));
        self
    }

    /// Also takes workers on other machines, which this host does not start: an orchestrator
    /// (Kubernetes, Nomad, systemd, Slurm, a script) starts them there with the host's address
    /// in `IPC2_CONNECT` and the transport's credentials, and they dial in through the listener
    /// given to [`listen`](Self::listen) (TLS, or unencrypted TCP with a shared secret; a Unix
    /// socket takes none). `finish` returns once `min` of them have connected, or fails after
    /// the startup timeout with [`Error::RemoteWorkersMissing`]; up to `max` may serve at once,
    /// and each one that joins later is used as it arrives.
    ///
    /// Without a [`worker_count`](Self::worker_count), the set starts no local worker (and
    /// needs no `worker_path`); with one, it runs both kinds side by side, local slots first.
    ///
    /// Where such workers differ from local ones:
    /// - the host cannot signal their processes: a job that times out with
    ///   [`TimeoutAction::Restart`], a protocol violation or silence disconnects the worker,
    ///   which then exits, and [`shutdown`](crate::WorkerSet::shutdown) drains them and closes
    ///   every connection, which makes each one exit;
    /// - a worker that disconnects, or goes silent past the heartbeat timeout (a network
    ///   partition), fails the calls it was running with [`Error::WorkerExited`], whose report
    ///   names its machine ([`WorkerExit::remote`](crate::WorkerExit::remote)) and has no exit
    ///   status; the set goes on with the others, and its slot waits
    ///   ([`WorkerState::Vacant`](crate::WorkerState::Vacant)) for the orchestrator's next
    ///   worker, admitted after the same checks as the first;
    /// - heartbeats are required, and without a heartbeat timeout set the timeout is ten
    ///   heartbeat intervals (10 s by default), for every worker of the set;
    /// - a slot that has waited the startup timeout for a worker shows
    ///   [`WorkerState::Failing`](crate::WorkerState::Failing) and goes on waiting: while no slot
    ///   of the set can serve, calls fail at once with [`Error::NoWorkers`] wrapping
    ///   [`Error::NoRemoteWorker`] instead of waiting for a worker that may never come;
    /// - a job is never quarantined for the loss of such a worker, which may as well be the
    ///   network's doing;
    /// - they are not recycled, restarted by [`restart`](crate::WorkerSet::restart) or counted
    ///   towards the [`restart_limit`](Self::restart_limit), and the process limits
    ///   (`memory_limit`, `nice`) do not reach them; `cpu_time_limit` does, as the worker sets
    ///   it itself;
    /// - [`resize`](crate::WorkerSet::resize) refuses a set that has them.
    ///
    /// `finish` fails with [`Error::Config`] for `max` 0, `min` above `max`, no listener, or no
    /// heartbeats.
    ///
    /// ```no_run
    /// # async fn _demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use ipc2::transport::{TlsConfig, TlsListener};
    ///
    /// let config = TlsConfig::from_pem_files("host.crt", "host.key", "ca.crt")?;
    /// let listener = TlsListener::bind("0.0.0.0:7000", &config).await?;
    /// let workers = ipc2::WorkerSetBuilder::<_, String, String>::new()
    ///     .listen(listener, "tls://host.example:7000")
    ///     .remote_workers(2, 16)
    ///     .finish()
    ///     .await?;
    /// # let _ = workers; Ok(()) }
    /// ```
    pub fn remote_workers(mut self, min: usize, max: usize) -> Self {
        self.remote = Some((min, max));
        self
    }

    /// How many worker processes to run. Default: the number of CPUs available to this process
    /// (none if the set takes [`remote_workers`](Self::remote_workers)).
    pub fn worker_count(mut self, count: usize) -> Self {
        self.worker_count = Some(count);
        self
    }

    /// The worker executable. Required. A relative path is resolved against the host's current
    /// directory; a bare name is looked up in `PATH`.
    pub fn worker_path(mut self, path: impl AsRef<Path>) -> Self {
        self.worker_path = Some(path.as_ref().to_owned());
        self
    }

    /// Adds one command-line argument for every worker.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds command-line arguments for every worker.
    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for every worker (on top of the host's own environment).
    /// The `IPC2_*` variables are set by the host and cannot be overridden.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The working directory of every worker. Default: the host's.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.current_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// How many jobs may wait for a worker before [`WorkerSet::try_send`] fails with
    /// [`Error::Busy`]. Default: 1024. [`WorkerSet::send`] waits its turn regardless.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// How many requests one worker may be running at once. Default: 1. Raise it for workers
    /// that handle jobs concurrently; replies may then come back in any order.
    pub fn max_in_flight_per_worker(mut self, count: usize) -> Self {
        self.max_in_flight = count;
        self
    }

    /// The largest message, in bytes, either side may send. Default: 64 MiB
    /// ([`DEFAULT_MAX_FRAME_LEN`]); at most `u32::MAX`. A larger job fails with [`Error::Encode`]
    /// before anything is sent; a worker that sends a larger reply is killed and replaced.
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
        self
    }

    /// Message bodies of at least `len` bytes (jobs, replies, stream items and events, both ways)
    /// go through shared memory instead of the socket: each in a memory file of its own, sealed
    /// against every change and passed with its frame, which the receiver maps instead of
    /// reading the bytes from the socket. Only over the Unix-socket transport; over TCP every
    /// body goes through the socket. The frame limit ([`max_frame_len`](Self::max_frame_len))
    /// bounds shared bodies as it bounds the others, and a receiver refuses a file that is not
    /// sealed or not the size announced.
    ///
    /// Off by default, because it is only faster where the kernel creates, maps and frees
    /// memory cheaply: each shared body costs fresh pages, which the receiver frees once it is
    /// done. On the virtual machines ipc2 is benchmarked on, whose page-table changes are dear,
    /// a 1 MiB echo takes 2.9 times as long this way as through the socket (see the README's
    /// Performance section); measure on your own machines before turning it on.
    ///
    /// ```
    /// # type Set = ipc2::WorkerSet<tokio::net::UnixListener, u32, u32>;
    /// // Bodies of 1 MiB and more cross in sealed memory files.
    /// let builder = Set::builder().shared_memory_above(1 << 20);
    /// # drop(builder);
    /// ```
    pub fn shared_memory_above(mut self, len: usize) -> Self {
        self.share_above = Some(len);
        self
    }

    /// Every message body goes through the socket, however large (the default): see
    /// [`shared_memory_above`](Self::shared_memory_above).
    pub fn no_shared_memory(mut self) -> Self {
        self.share_above = None;
        self
    }

    /// How long a worker may take from spawn to completed handshake. Default: 20 s. A worker
    /// that takes longer is killed and counts as failing to start.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// How long a call may run on its worker unless it sets its own limit (with
    /// [`WorkerSet::send_timeout`], [`WorkerSet::with_timeout`], a [`Policy`] or a service
    /// method's `#[ipc2(timeout = "...")]`). The clock starts when the job is written to the
    /// worker: time spent queued does not count. Past it the call fails with [`Error::Timeout`]
    /// and `action` applies. Default: none.
    ///
    /// [`Policy`]: crate::Policy
    pub fn default_timeout(mut self, timeout: Duration, action: TimeoutAction) -> Self {
        self.default_timeout = Some((timeout, action));
        self
    }

    /// How long a call may wait for a free worker unless it sets its own limit
    /// ([`WorkerSet::with_queue_timeout`], [`Policy::queue_timeout`](crate::Policy::queue_timeout)).
    /// Past it the call fails with [`Error::QueueTimeout`] without having been sent, so it is
    /// always safe to retry. Default: none (a call waits its turn).
    pub fn queue_timeout(mut self, limit: Duration) -> Self {
        self.queue_timeout = Some(limit);
        self
    }

    /// How long [`WorkerSet::shutdown`] lets jobs finish, and then lets each worker exit by
    /// itself, before killing it. Default: 5 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// How many worker deaths the set tolerates within a period. Default: 20 within 10 s.
    ///
    /// One death more within the period (Erlang's "restart intensity") and the set refuses
    /// every job at once with [`Error::RestartLimit`], carrying the last death's report, until a
    /// replacement worker has started cleanly; replacements keep being started meanwhile, with
    /// exponential back-off (10 ms doubling to 5 s, jittered) while they keep dying young.
    pub fn restart_limit(mut self, max_restarts: usize, within: Duration) -> Self {
        self.restart_limit = (max_restarts, within);
        self
    }

    /// Refuses a job with [`Error::Quarantined`] once it has crashed the worker running it
    /// `crashes` times in a row, instead of letting it kill yet another worker. Jobs are told
    /// apart by their encoded bytes. Default: off. `finish` fails with [`Error::Config`] for 0.
    ///
    /// A death counts against a job only when the job was the only call its worker was running
    /// and the worker died by itself (it exited, or a signal such as SIGSEGV or SIGABRT ended
    /// it), or was killed because this job ran past a run-time timeout with
    /// [`TimeoutAction::Restart`]. It does not count when the host killed the worker for another
    /// reason (another call's timeout, a bad reply, shutdown) or when a SIGKILL, SIGTERM, SIGINT
    /// or SIGHUP came from outside (an operator, the OOM killer). A run that completes, however
    /// it completes, clears the count.
    pub fn quarantine_after(mut self, crashes: u32) -> Self {
        self.quarantine_after = Some(crashes);
        self
    }

    /// Limits each worker's address space (`RLIMIT_AS`) to `bytes`. Default: no limit.
    ///
    /// A worker that tries to go past it fails to allocate, which in Rust aborts the process
    /// (SIGABRT, with "memory allocation of N bytes failed" on its stderr): the job it was running
    /// fails with [`Error::WorkerExited`] carrying that signal and message, and the worker is
    /// replaced. Leave room for the runtime: a tokio worker maps tens of MiB at start.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Limits the CPU time each job may use on its worker. Default: no limit.
    ///
    /// It is a limit per job, not over the worker's life: the worker moves its `RLIMIT_CPU` at
    /// the start of every job to what it has used so far plus `limit`, in whole seconds rounded
    /// up (so a job is stopped after between `limit` and a second more of CPU time). A job that
    /// uses more gets its worker SIGXCPU (signal 24); the job fails with
    /// [`Error::WorkerExited`], whose report names the limit, and the worker is replaced. Jobs
    /// running at once on one worker share the allowance. A worker that catches SIGXCPU is not
    /// stopped by it; bound such work with a time limit
    /// ([`default_timeout`](Self::default_timeout)) as well. `finish` fails with
    /// [`Error::Config`] for zero.
    pub fn cpu_time_limit(mut self, limit: Duration) -> Self {
        self.cpu_time_limit = Some(limit);
        self
    }

    /// Runs each worker with its nice value raised by `increment` (1 to 19: lower priority than
    /// the host). Default: the host's own. `finish` fails with [`Error::Config`] outside 1 to 19.
    pub fn nice(mut self, increment: i32) -> Self {
        self.nice = Some(increment);
        self
    }

    /// Where each worker's stdout goes. Default: [`Output::Inherit`], the host's own stdout.
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Where each worker's stderr goes. Default: [`Output::Forward`], line by line to the host's
    /// own stderr. Unless it is [`Output::Inherit`], the last lines are kept for crash reports
    /// ([`WorkerExit::stderr_tail`](crate::WorkerExit::stderr_tail)).
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    /// How many worker events (see [`WorkerSet::events`]) may wait to be read before further
    /// ones are dropped. Default: 1024. `finish` fails with [`Error::Config`] for 0.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// How many items of a streaming call ([`WorkerSet::send_stream`], or a service method
    /// returning `ipc2::Stream<T>`) may be on their way or waiting to be read: a worker that
    /// produces faster than its caller reads is paused at that many, so the host's memory stays
    /// bounded. Default: 64. `finish` fails with [`Error::Config`] for 0.
    pub fn stream_window(mut self, items: u32) -> Self {
        self.stream_window = items;
        self
    }

    /// Has each worker send a heartbeat every `interval` (default: every second), and, with
    /// `timeout` set, kills and replaces a worker that has sent nothing at all for that long
    /// (default: never, but ten intervals for a set with
    /// [`remote_workers`](Self::remote_workers), local workers of that set included). The heartbeat comes from the worker's I/O task, so a worker busy with a
    /// long job keeps beating and only one whose runtime is stuck goes silent; see
    /// [`WorkerStats::silent_for`](crate::WorkerStats::silent_for). A worker whose handler blocks
    /// a single-threaded runtime also goes silent: run such work on a blocking thread, or use
    /// `ipc2_worker::blocking`. `finish` fails with [`Error::Config`] for a zero interval or a
    /// timeout not longer than the interval.
    pub fn heartbeat(mut self, interval: Duration, timeout: Option<Duration>) -> Self {
        self.heartbeat = Some((interval, timeout));
        self
    }

    /// Asks workers to send no heartbeats.
    pub fn no_heartbeat(mut self) -> Self {
        self.heartbeat = None;
        self
    }

    /// After sending, each side polls its connection for the answer for up to `spin` before
    /// its thread goes to sleep. Default: zero, no polling.
    ///
    /// A thread that sleeps while its peer works must be woken when the answer comes, and
    /// waking an idle core costs far more than the message itself (tens of microseconds on a
    /// virtual machine). With the host and its workers on separate cores that have nothing else
    /// to do, a spin of about 50 µs cuts a small round trip several-fold; the price is up to
    /// `spin` of busy CPU per message on each side. When the host and a worker share a core the
    /// spin only delays the peer it waits for: leave it off on machines with fewer cores than
    /// busy processes. The benchmark (`cargo bench --bench ipc2_vs_raw`) measures both ways.
    /// Applies to Unix-socket transports; `finish` fails with [`Error::Config`] above 10 ms.
    pub fn spin_poll(mut self, spin: Duration) -> Self {
        self.spin_poll = spin;
        self
    }

    /// Replaces each worker with a fresh one once it has answered `jobs` jobs (Python's
    /// `max_tasks_per_child`; it may answer a few more while its successor starts). Default: never.
    ///
    /// Recycling never costs a caller anything: the successor is started and has completed its
    /// handshake before the old worker stops taking jobs, and the old worker finishes the jobs it
    /// is running before it is stopped. If the successor fails to start, the old worker keeps
    /// serving and the start is retried with back-off. `finish` fails with [`Error::Config`] for
    /// 0.
    pub fn recycle_after_jobs(mut self, jobs: u64) -> Self {
        self.recycle.after_jobs = Some(jobs);
        self
    }

    /// Replaces each worker with a fresh one once it has run for `age` (checked every 100 ms).
    /// Default: never. See [`recycle_after_jobs`](Self::recycle_after_jobs) for how.
    pub fn recycle_after(mut self, age: Duration) -> Self {
        self.recycle.after_age = Some(age);
        self
    }

    /// Replaces each worker with a fresh one once its resident memory passes `bytes` (checked
    /// every 100 ms; Linux). Default: never. Unlike [`memory_limit`](Self::memory_limit) this
    /// kills no job: it is the gentle way to contain a leak. See
    /// [`recycle_after_jobs`](Self::recycle_after_jobs) for how.
    pub fn recycle_above_rss(mut self, bytes: u64) -> Self {
        self.recycle.above_rss = Some(bytes);
        self
    }

    /// Checks every setting, and returns what `finish` starts the set from. Out-of-range
    /// settings fail with an error naming the setting; none is silently clamped.
    fn config(mut self) -> Result<Checked<S>, Error> {
        let remote = self.remote.map_or(0, |(_, max)| max);
        let worker_count = match (self.worker_count, self.remote) {
            (Some(0), None) => return Err(Error::Config("worker_count must be at least 1")),
            (Some(count), _) => count,
            (None, None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
            (None, Some(_)) => 0,
        };
        if let Some((min, max)) = self.remote {
            if max == 0 {
                return Err(Error::Config("remote_workers' max must be at least 1"));
            }
            if min > max {
                return Err(Error::Config("remote_workers' min must be at most its max"));
            }
            if self.listener.is_none() {
                return Err(Error::Config(
                    "remote_workers needs a listener workers on other machines can reach: bind a TlsListener (or an UnencryptedTcpListener) and give it to listen",
                ));
            }
            match &mut self.heartbeat {
                None => {
                    return Err(Error::Config(
                        "remote_workers needs heartbeats: without them a worker cut off by the network is never noticed",
                    ));
                }
                Some((interval, timeout)) => {
                    timeout.get_or_insert(interval.saturating_mul(REMOTE_SILENT_INTERVALS));
                }
            }
        }
        let slots = worker_count.saturating_add(remote);
        if u32::try_from(slots).is_err() {
            return Err(Error::Config("worker_count is too large"));
        }
        if self.max_in_flight == 0 {
            return Err(Error::Config("max_in_flight_per_worker must be at least 1"));
        }
        if self.max_frame_len > u32::MAX as usize {
            return Err(Error::Config("max_frame_len must be at most u32::MAX"));
        }
        if let Some((interval, timeout)) = self.heartbeat {
            if interval.is_zero() {
                return Err(Error::Config("the heartbeat interval must be above zero"));
            }
            if timeout.is_some_and(|timeout| timeout <= interval) {
                return Err(Error::Config(
                    "the heartbeat timeout must be longer than the heartbeat interval",
                ));
            }
        }
        if self.spin_poll > MAX_SPIN_POLL {
            return Err(Error::Config("spin_poll must be at most 10 ms"));
        }
        if self.quarantine_after == Some(0) {
            return Err(Error::Config("quarantine_after must be at least 1"));
        }
        if self.recycle.after_jobs == Some(0) {
            return Err(Error::Config("recycle_after_jobs must be at least 1"));
        }
        if self.event_capacity == 0 {
            return Err(Error::Config("event_capacity must be at least 1"));
        }
        if self.stream_window == 0 {
            return Err(Error::Config("stream_window must be at least 1"));
        }
        if self.nice.is_some_and(|nice| !(1..=19).contains(&nice)) {
            return Err(Error::Config("nice must be from 1 to 19"));
        }
        if self
            .default_timeout
            .is_some_and(|(limit, _)| limit.is_zero())
        {
            return Err(Error::Config("default_timeout must be above zero"));
        }
        if self.queue_timeout.is_some_and(|limit| limit.is_zero()) {
            return Err(Error::Config("queue_timeout must be above zero"));
        }
        if self.cpu_time_limit.is_some_and(|limit| limit.is_zero()) {
            return Err(Error::Config("cpu_time_limit must be above zero"));
        }
        let limits = Limits {
            address_space: self.memory_limit,
            cpu: self.cpu_time_limit,
            nice: self.nice,
        };
        let worker_path = match (self.worker_path, worker_count) {
            (Some(path), _) => path,
            (None, 0) => PathBuf::new(),
            (None, _) => {
                return Err(Error::Config(
                    "worker_path is required: call .worker_path(...) with the worker executable",
                ));
            }
        };
        let config = Config {
            worker_path,
            args: self.args,
            env: self.env,
            current_dir: self.current_dir,
            queue_capacity: self.queue_capacity,
            max_in_flight: self.max_in_flight,
            max_frame_len: self.max_frame_len,
            share_above: self.share_above,
            startup_timeout: self.startup_timeout,
            default_timeout: self.default_timeout,
            queue_timeout: self.queue_timeout,
            shutdown_grace: self.shutdown_grace,
            restart_limit: self.restart_limit,
            quarantine_after: self.quarantine_after,
            limits,
            stdout: self.stdout,
            stderr: self.stderr,
            event_capacity: self.event_capacity,
            stream_window: self.stream_window,
            heartbeat: self.heartbeat,
            spin_poll: self.spin_poll,
            recycle: self.recycle,
            remote: self.remote,
        };
        Ok(Checked {
            slots,
            config,
            listener: self.listener,
        })
    }

    /// Starts the workers and returns once every one of them has connected and completed its
    /// handshake, and, with [`remote_workers`](Self::remote_workers), once the minimum of those
    /// on other machines has joined: their wait, up to the startup timeout, begins once the
    /// local workers are up, and ends with [`Error::RemoteWorkersMissing`] naming the address.
    ///
    /// Fails if any worker cannot be started: [`Error::Spawn`] names a binary that is missing
    /// or not executable, [`Error::WorkerExited`] reports a worker that exited at start with its
    /// exit status and the end of its stderr, and [`Error::StartTimeout`] one that never
    /// connected. Workers already started are then killed and reaped.
    ///
    /// A worker whose job, reply or event types are not the host's (built from another version
    /// of a service, say) is refused with [`Error::Handshake`], whose message names the first
    /// difference: `method eval: the host expects a result of type i64, the worker returns
    /// String`. Both sides describe their types in full at start (see
    /// [`ipc2_common::schema`]), which is why all three must be `Deserialize` here.
    pub async fn finish(self) -> Result<WorkerSet<S, R, W, E>, Error>
    where
        R: DeserializeOwned,
        W: DeserializeOwned,
        E: DeserializeOwned,
    {
        let Checked {
            slots,
            config,
            listener,
        } = self.config()?;
        let remote = config.remote;
        let socket_dir = private_dir::create().map_err(|e| Error::Listen(Arc::new(e)))?;
        let (server, address) = match listener {
            Some(listener) => listener,
            None => S::bind(socket_dir.path()).map_err(|e| Error::Listen(Arc::new(e)))?,
        };
        let sv = Arc::new(Supervision::new(
            config,
            (address, socket_dir.path().to_owned()),
            TypeCheck::of::<W, R, E>(),
            slots,
        ));
        let acceptor = tokio::spawn(accept_workers(server, sv.clone()));
        let mut started: Vec<_> = (0..slots).map(|slot| sv.spawn_slot(slot)).collect();
        let joining = started.split_off(slots - remote.map_or(0, |(_, max)| max));
        // From here on, dropping the set (an error below) kills and reaps every worker.
        let set = WorkerSet::new(sv, acceptor, socket_dir);
        for first in started {
            first.await.unwrap_or(Err(Error::Shutdown))?;
        }
        if let Some((min, _)) = remote {
            set.joined(min, joining).await?;
        }
        Ok(set)
    }
}

/// A builder's settings, checked.
struct Checked<S> {
    /// Local slots first, then those for workers on other machines.
    slots: usize,
    /// The settings the set runs with.
    config: Config,
    /// The user's listener and the address workers dial, if one was given.
    listener: Option<(S, String)>,
}

impl<S, R, W, E> fmt::Debug for WorkerSetBuilder<S, R, W, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerSetBuilder")
            .field("worker_count", &self.worker_count)
            .field("worker_path", &self.worker_path)
            .field("args", &self.args)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_frame_len", &self.max_frame_len)
            .field("share_above", &self.share_above)
            .field("startup_timeout", &self.startup_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("restart_limit", &self.restart_limit)
            .field("quarantine_after", &self.quarantine_after)
            .field("memory_limit", &self.memory_limit)
            .field("cpu_time_limit", &self.cpu_time_limit)
            .field("nice", &self.nice)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::UnixListener;

    use super::*;

    type Builder = WorkerSetBuilder<UnixListener, u32, u32>;
    /// A change to a builder, and the setting its refusal must name.
    type Case = (fn(Builder) -> Builder, &'static str);

    fn refusal(build: impl FnOnce(Builder) -> Builder) -> &'static str {
        match build(Builder::new().worker_path("/bin/true")).config() {
            Err(Error::Config(message)) => message,
            Err(other) => panic!("not a configuration error: {other}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn every_out_of_range_setting_is_refused_by_name() {
        let cases: [Case; 13] = [
            (|b| b.worker_count(0), "worker_count"),
            (
                |b| b.max_in_flight_per_worker(0),
                "max_in_flight_per_worker",
            ),
            (|b| b.max_frame_len(u32::MAX as usize + 1), "max_frame_len"),
            (|b| b.heartbeat(Duration::ZERO, None), "heartbeat interval"),
            (
                |b| b.heartbeat(Duration::from_secs(2), Some(Duration::from_secs(1))),
                "heartbeat timeout",
            ),
            (|b| b.spin_poll(Duration::from_millis(11)), "spin_poll"),
            (|b| b.quarantine_after(0), "quarantine_after"),
            (|b| b.recycle_after_jobs(0), "recycle_after_jobs"),
            (|b| b.event_capacity(0), "event_capacity"),
            (|b| b.stream_window(0), "stream_window"),
            (|b| b.nice(0), "nice"),
            (|b| b.nice(20), "nice"),
            (|b| b.cpu_time_limit(Duration::ZERO), "cpu_time_limit"),
        ];
        for (build, setting) in cases {
            let message = refusal(build);
            assert!(message.contains(setting), "{setting}: {message}");
        }
        let message = match Builder::new().config().map(|_| ()) {
            Err(Error::Config(message)) => message,
            _ => panic!("a builder without a worker path was accepted"),
        };
        assert!(message.contains("worker_path"), "{message}");
    }

    #[test]
    fn settings_at_the_edge_of_their_range_are_accepted() {
        let Checked { slots, config, .. } = Builder::new()
            .worker_path("/bin/true")
            .worker_count(3)
            .nice(19)
            .quarantine_after(1)
            .recycle_after_jobs(1)
            .event_capacity(1)
            .spin_poll(MAX_SPIN_POLL)
            .max_frame_len(u32::MAX as usize)
            .cpu_time_limit(Duration::from_millis(1500))
            .config()
            .unwrap();
        assert_eq!(slots, 3);
        assert_eq!(config.limits.cpu, Some(Duration::from_millis(1500)));
        assert_eq!(config.limits.nice, Some(19));
    }

    #[tokio::test]
    async fn remote_workers_need_a_listener_heartbeats_and_a_sane_range() {
        let dir = private_dir::create().unwrap();
        let listener = || UnixListener::bind(dir.path().join("s")).unwrap();
        let cases: [Case; 3] = [
            (|b| b.remote_workers(0, 0), "max must be at least 1"),
            (|b| b.remote_workers(3, 2), "min must be at most its max"),
            (|b| b.remote_workers(1, 2), "needs a listener"),
        ];
        for (build, part) in cases {
            let message = refusal(build);
            assert!(message.contains(part), "{part}: {message}");
        }
        let message = match Builder::new()
            .listen(listener(), "addr")
            .remote_workers(1, 2)
            .no_heartbeat()
            .config()
        {
            Err(Error::Config(message)) => message,
            _ => panic!("remote workers without heartbeats were accepted"),
        };
        assert!(message.contains("needs heartbeats"), "{message}");

        std::fs::remove_file(dir.path().join("s")).unwrap();
        let Checked { slots, config, .. } = Builder::new()
            .listen(listener(), "addr")
            .worker_path("/bin/true")
            .worker_count(2)
            .remote_workers(1, 3)
            .heartbeat(Duration::from_millis(200), None)
            .config()
            .unwrap();
        assert_eq!(slots, 5, "two local slots and three for remote workers");
        assert_eq!(
            config.heartbeat,
            Some((Duration::from_millis(200), Some(Duration::from_secs(2)))),
            "the timeout defaults to ten intervals"
        );
    }
}
