//! The few Unix process calls the host makes, in one place.
//!
//! Every worker is started as the leader of its own process group, so that
//! - a terminal's Ctrl-C (SIGINT to the foreground group) reaches only the host, which can then
//!   shut its workers down in order instead of having them die mid-job;
//! - killing the group also removes any process the worker started itself.
//!
//! On Linux each worker also asks for `PR_SET_PDEATHSIG(SIGKILL)` (`ipc2_worker` does, as it
//! connects), so it dies even if the host is killed with SIGKILL and never gets to clean up. That
//! signal fires when the *thread* that spawned the child exits (prctl(2)), not the process, which
//! is why `process.rs` spawns each worker from a thread that lives exactly as long as that worker.
//! The host does not set it itself between `fork` and `exec`: any `pre_exec` hook makes the
//! standard library fork the host instead of using `posix_spawn`, which made starting a set of
//! workers about a fifth slower. Only resource limits, which the child cannot be trusted to set,
//! still need the hook, and only sets that ask for them pay for it.
//!
//! Signals are only ever sent to a group whose leader has not been reaped yet (see `process.rs`), so
//! a recycled process id is never hit.

use std::io;
use std::process::Command;

use rustix::process::{Pid, Signal};

/// Resource limits applied to a worker before it runs (`setrlimit`, `nice`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// `RLIMIT_AS`, in bytes.
    pub(crate) address_space: Option<u64>,
    /// The CPU time each job may use. The worker moves its soft `RLIMIT_CPU` at the start of
    /// each job (see `ipc2_worker`); this sets the first one, for its start-up.
    pub(crate) cpu: Option<std::time::Duration>,
    /// Added to the worker's nice value.
    pub(crate) nice: Option<i32>,
}

impl Limits {
    /// Whether any limit is set.
    fn is_set(&self) -> bool {
        self.address_space.is_some() || self.cpu.is_some() || self.nice.is_some()
    }
}

/// Makes `command` start its child in a new process group with `limits`.
pub(crate) fn isolate(command: &mut Command, limits: Limits) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    if !limits.is_set() {
        return;
    }
    // SAFETY: the closure runs between fork and exec and only makes raw syscalls, which are
    // async-signal-safe; it allocates nothing and takes no lock.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || apply(limits));
    }
}

fn apply(limits: Limits) -> io::Result<()> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let both = |n| Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    if let Some(bytes) = limits.address_space {
        setrlimit(Resource::As, both(bytes))?;
    }
    if let Some(limit) = limits.cpu {
        // The soft limit sends SIGXCPU, which ends the worker and names the cause. The hard
        // limit stays what it is (unlimited, unless the host itself runs under one, which an
        // unprivileged process cannot raise), so that the worker can move the soft one for each
        // job.
        let seconds = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
        let hard = rustix::process::getrlimit(Resource::Cpu).maximum;
        setrlimit(
            Resource::Cpu,
            Rlimit {
                current: Some(hard.map_or(seconds, |hard| seconds.min(hard))),
                maximum: hard,
            },
        )?;
    }
    if let Some(increment) = limits.nice {
        rustix::process::nice(increment)?;
    }
    Ok(())
}

/// Sends `signal` to the process group led by `pid`.
pub(crate) fn signal_group(pid: u32, signal: Signal) -> io::Result<()> {
    let pid = to_pid(pid)?;
    rustix::process::kill_process_group(pid, signal).map_err(io::Error::from)
}

/// Blocks until the child `pid` has exited, without reaping it, so its id stays reserved.
pub(crate) fn wait_exited(pid: u32) -> io::Result<()> {
    let pid = to_pid(pid)?;
    let options = rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT;
    loop {
        match rustix::process::waitid(rustix::process::WaitId::Pid(pid), options) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Err(err.into()),
        }
    }
}

/// The process group of `pid`, if that process still exists.
pub(crate) fn process_group_of(pid: u32) -> io::Result<u32> {
    let group = rustix::process::getpgid(Some(to_pid(pid)?))?;
    Ok(group.as_raw_nonzero().get() as u32)
}

fn to_pid(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid process id"))
}

/// The resident memory of process `pid`, in bytes, from `/proc/<pid>/status` (Linux).
pub(crate) fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}
