//! The CPU time limit per job (`WorkerSetBuilder::cpu_time_limit`).
//!
//! `RLIMIT_CPU` counts a process's CPU time over its whole life, so a limit the host sets once
//! would stop a worker after its jobs together used it up. Instead the host leaves the hard limit
//! unlimited, and the worker moves the soft limit each time the program takes a job (its
//! `Receiver::recv`, and `serve`'s dispatcher) to the CPU time it has used so far plus the job's
//! allowance. A job that uses more gets SIGXCPU, which ends the
//! worker, and the host reports the signal and replaces it.
//!
//! The limit is in whole seconds (the kernel's unit), rounded up: a job is stopped after between
//! its allowance and one second more. Jobs that overlap on one worker (`ServeOptions::concurrency`
//! above 1) share it: each start gives the worker the full allowance from then on.

use std::time::Duration;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use rustix::time::{ClockId, clock_gettime};

/// Gives the job about to start `allowance` of CPU time from now.
pub(crate) fn allow(allowance: Duration) {
    let used = clock_gettime(ClockId::ProcessCPUTime);
    let used = Duration::new(
        u64::try_from(used.tv_sec).unwrap_or(0),
        u32::try_from(used.tv_nsec).unwrap_or(0),
    );
    let until = used + allowance;
    let seconds = until.as_secs() + u64::from(until.subsec_nanos() > 0);
    let hard = getrlimit(Resource::Cpu).maximum;
    let soft = hard.map_or(seconds, |hard| seconds.min(hard));
    if let Err(err) = setrlimit(
        Resource::Cpu,
        Rlimit {
            current: Some(soft),
            maximum: hard,
        },
    ) {
        tracing::warn!("ipc2 worker: could not move the CPU time limit for a job: {err}");
    }
}
