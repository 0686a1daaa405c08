//! [`Stats`]: a snapshot of what a worker set is doing, from [`crate::WorkerSet::stats`].

use std::time::Duration;

use crate::RemoteHost;

/// A snapshot of a worker set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Every worker slot, in slot order.
    pub workers: Vec<WorkerStats>,
    /// Jobs waiting for a worker.
    pub queued: usize,
    /// Jobs sent to a worker and not yet answered.
    pub in_flight: usize,
}

/// One worker slot in a [`Stats`] snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// The slot id.
    pub id: usize,
    /// The running worker's process id, if one is running (on the machine [`remote`](Self::remote)
    /// names, if it names one).
    pub pid: Option<u32>,
    /// Where the running worker is, if it runs on another machine.
    pub remote: Option<RemoteHost>,
    /// How many processes this slot has started, if one is running.
    pub generation: Option<u64>,
    /// What the slot is doing.
    pub state: WorkerState,
    /// Jobs this slot's worker is running now.
    pub in_flight: usize,
    /// Jobs answered by this slot's workers.
    pub jobs_done: u64,
    /// Jobs this slot's workers failed or died running.
    pub jobs_failed: u64,
    /// How many of this slot's workers died and were replaced (for a slot of workers on other
    /// machines: were lost, whether or not another has joined since).
    pub restarts: u64,
    /// How long the running worker has been up.
    pub uptime: Option<Duration>,
    /// How long since the running worker last sent anything: a reply, an event or a heartbeat
    /// (see [`WorkerSetBuilder::heartbeat`](crate::WorkerSetBuilder::heartbeat)). A busy worker
    /// whose I/O is alive keeps this near the heartbeat interval; a large value means it is
    /// stuck.
    pub silent_for: Option<Duration>,
}

/// What a worker slot is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerState {
    /// Its worker is being started or restarted.
    Starting,
    /// It is for a worker on another machine
    /// ([`remote_workers`](crate::WorkerSetBuilder::remote_workers)), and waits for one to
    /// connect.
    Vacant,
    /// Its worker is connected and has nothing to do.
    Idle,
    /// Its worker is running at least one job.
    Busy,
    /// Its worker is being killed (a job ran past its time limit with
    /// [`TimeoutAction::Restart`](crate::TimeoutAction::Restart), or it broke the protocol or
    /// went silent) and will be replaced; the jobs it still counts in flight fail.
    Killing,
    /// Its last start failed; another attempt follows after a back-off. For a slot of workers on
    /// other machines: none has joined for the startup timeout, and it goes on waiting.
    Failing,
    /// It was removed by [`WorkerSet::resize`](crate::WorkerSet::resize) and runs no worker.
    Retired,
    /// The set has shut down ([`WorkerSet::shutdown`](crate::WorkerSet::shutdown)): its worker
    /// has been reaped and none replaces it.
    Stopped,
}
