//! The settings a worker set runs with, fixed once it is running: what [`WorkerSetBuilder`]
//! checked and handed over.
//!
//! The number of workers is not here: it changes with [`WorkerSet::resize`], and the scheduler,
//! which knows every slot, is its one owner.
//!
//! [`WorkerSetBuilder`]: crate::WorkerSetBuilder
//! [`WorkerSet::resize`]: crate::WorkerSet::resize

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::process::{self, Limits, Output};

/// The builder's settings, fixed once the set is running.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) worker_path: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) current_dir: Option<PathBuf>,
    pub(crate) queue_capacity: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) max_frame_len: usize,
    /// The body length from which messages go through shared memory; `None` for never.
    pub(crate) share_above: Option<usize>,
    pub(crate) startup_timeout: Duration,
    /// The time limit of calls that set none.
    pub(crate) default_timeout: Option<(Duration, crate::TimeoutAction)>,
    /// How long calls that set none may wait for a worker.
    pub(crate) queue_timeout: Option<Duration>,
    pub(crate) shutdown_grace: Duration,
    pub(crate) restart_limit: (usize, Duration),
    pub(crate) quarantine_after: Option<u32>,
    pub(crate) limits: Limits,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) event_capacity: usize,
    /// How many items of a streaming call may be unread or on their way.
    pub(crate) stream_window: u32,
    pub(crate) heartbeat: Option<(Duration, Option<Duration>)>,
    /// How many workers on other machines `finish` waits for, and how many slots are kept for
    /// them; `None` when the set takes none.
    pub(crate) remote: Option<(usize, usize)>,
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

    /// Whether worker `pid`, which has ended `jobs` calls in `uptime`, has passed a limit.
    pub(crate) fn due(&self, jobs: u64, uptime: Duration, pid: u32) -> bool {
        self.after_jobs.is_some_and(|limit| jobs >= limit)
            || self.after_age.is_some_and(|age| uptime >= age)
            || self
                .above_rss
                .is_some_and(|limit| process::resident_bytes(pid).is_some_and(|rss| rss > limit))
    }
}
