//! The state a worker set shares between its handle, its supervisors and its acceptor.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ipc2_common::FrameCodec;
use ipc2_common::handshake::{Hello, Token};
use tokio::sync::{Notify, mpsc};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::child::Children;
use ipc2_common::{ReadHalf, WriteHalf};

use crate::conn::Conn;
use crate::events::EventQueue;
use crate::os::Limits;
use crate::output::Output;
use crate::pool::Pool;
use crate::quarantine::Quarantine;

/// The builder's settings, fixed once the set is running.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) worker_count: usize,
    pub(crate) worker_path: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) current_dir: Option<PathBuf>,
    pub(crate) queue_capacity: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) max_frame_len: usize,
    pub(crate) startup_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) restart_limit: (usize, Duration),
    pub(crate) quarantine_after: Option<u32>,
    pub(crate) limits: Limits,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) event_capacity: usize,
    pub(crate) heartbeat: Option<(Duration, Option<Duration>)>,
    pub(crate) spin_poll: Duration,
    pub(crate) recycle: Recycle,
}

/// When a worker is replaced by a fresh one although nothing is wrong with it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Recycle {
    pub(crate) after_jobs: Option<u64>,
    pub(crate) after_age: Option<Duration>,
    pub(crate) above_rss: Option<u64>,
}

impl Recycle {
    pub(crate) fn is_set(&self) -> bool {
        self.after_jobs.is_some() || self.after_age.is_some() || self.above_rss.is_some()
    }

    /// Whether the worker behind `conn` has passed a limit.
    pub(crate) fn due(&self, conn: &Conn) -> bool {
        self.after_jobs.is_some_and(|jobs| conn.answered() >= jobs)
            || self.after_age.is_some_and(|age| conn.uptime() >= age)
            || self.above_rss.is_some_and(|limit| {
                crate::os::resident_bytes(conn.pid).is_some_and(|rss| rss > limit)
            })
    }
}

/// A connection that presented the right token for a slot, waiting for that slot's supervisor to
/// check that it comes from the process it started.
pub(crate) struct Candidate {
    pub(crate) peer_pid: Option<u32>,
    pub(crate) hello: Hello,
    pub(crate) reader: FramedRead<ReadHalf, FrameCodec>,
    pub(crate) writer: WriteHalf,
}

/// A slot waiting for its worker to connect.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) token: Token,
    pub(crate) candidates: mpsc::UnboundedSender<Candidate>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) address: String,
    pub(crate) pool: Arc<Pool>,
    pub(crate) children: Arc<Children>,
    pub(crate) stop: CancellationToken,
    pub(crate) quarantine: Option<Quarantine>,
    pub(crate) events: EventQueue,
    /// The shape of the host's reply type, and its fingerprint (see `ipc2_common::shape`).
    pub(crate) reply_shape: (String, u64),
    pending: Mutex<HashMap<usize, Pending>>,
    next_id: AtomicU64,
    deaths: Mutex<VecDeque<Instant>>,
    controls: Mutex<Vec<Arc<SlotControl>>>,
}

/// What the set can ask of one slot's supervisor.
#[derive(Debug)]
pub(crate) struct SlotControl {
    /// Wakes the supervisor when [`recycle_generation`](Self::recycle_generation) changes.
    pub(crate) recycle: Notify,
    /// The generation `WorkerSet::restart` wants replaced (0: none).
    recycle_generation: AtomicU64,
    /// End the slot: cancelled by `WorkerSet::resize` for this slot alone, and with the whole
    /// set's `stop` (it is a child of it).
    pub(crate) end: CancellationToken,
}

impl Shared {
    pub(crate) fn new(config: Config, address: String, reply_shape: (String, u64)) -> Self {
        let stop = CancellationToken::new();
        let controls = (0..config.worker_count)
            .map(|_| SlotControl::new(&stop))
            .collect();
        Self {
            pool: Arc::new(Pool::new(config.worker_count, config.queue_capacity)),
            quarantine: config.quarantine_after.map(Quarantine::new),
            events: EventQueue::new(config.event_capacity),
            reply_shape,
            config,
            address,
            children: Arc::default(),
            stop,
            pending: Mutex::default(),
            next_id: AtomicU64::new(1),
            deaths: Mutex::default(),
            controls: Mutex::new(controls),
        }
    }

    /// A request id no other call of this set uses.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a worker's death; returns how many deaths the restart window now holds if that is
    /// more than the restart limit allows.
    pub(crate) fn note_death(&self) -> Option<usize> {
        let (max, within) = self.config.restart_limit;
        let now = Instant::now();
        let mut deaths = self.deaths.lock().unwrap_or_else(PoisonError::into_inner);
        while deaths
            .front()
            .is_some_and(|&t| now.duration_since(t) > within)
        {
            deaths.pop_front();
        }
        deaths.push_back(now);
        (deaths.len() > max).then_some(deaths.len())
    }

    /// The controls of slot `slot`.
    pub(crate) fn control(&self, slot: usize) -> Option<Arc<SlotControl>> {
        self.controls().get(slot).cloned()
    }

    /// Fresh controls for slot `slot` (new, or reused after a resize ended it).
    pub(crate) fn renew_control(&self, slot: usize) -> Arc<SlotControl> {
        let control = SlotControl::new(&self.stop);
        let mut controls = self.controls();
        match controls.get_mut(slot) {
            Some(old) => *old = control.clone(),
            None => controls.push(control.clone()),
        }
        control
    }

    fn controls(&self) -> MutexGuard<'_, Vec<Arc<SlotControl>>> {
        self.controls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slots waiting for a worker to connect, by slot id.
    pub(crate) fn pending(&self) -> MutexGuard<'_, HashMap<usize, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SlotControl {
    fn new(stop: &CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            recycle: Notify::new(),
            recycle_generation: AtomicU64::new(0),
            end: stop.child_token(),
        })
    }

    /// Asks for the worker of generation `generation` to be replaced by a fresh one.
    pub(crate) fn request_recycle(&self, generation: u64) {
        self.recycle_generation.store(generation, Ordering::Release);
        self.recycle.notify_waiters();
    }

    /// Whether the worker of generation `generation` is to be replaced.
    pub(crate) fn recycle_requested(&self, generation: u64) -> bool {
        self.recycle_generation.load(Ordering::Acquire) == generation
    }
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("peer_pid", &self.peer_pid)
            .field("hello", &self.hello)
            .finish_non_exhaustive()
    }
}
