//! The few Unix process calls the host makes, in one place.
//!
//! Every worker is started as the leader of its own process group, so that
//! - a terminal's Ctrl-C (SIGINT to the foreground group) reaches only the host, which can then
//!   shut its workers down in order instead of having them die mid-job;
//! - killing the group also removes any process the worker started itself.
//!
//! On Linux each worker also asks for `PR_SET_PDEATHSIG(SIGKILL)` before `exec`, so it dies even if
//! the host is killed with SIGKILL and never gets to clean up. That signal fires when the *thread*
//! that spawned the child exits (prctl(2)), not the process, which is why `child.rs` spawns each
//! worker from a thread that lives exactly as long as that worker.
//!
//! Signals are only ever sent to a group whose leader has not been reaped yet (see `child.rs`),
//! so a recycled process id is never hit.

use std::io;
use std::process::Command;

use rustix::process::{Pid, Signal};

/// Makes `command` start its child in a new process group and, on Linux, die with its spawner.
pub(crate) fn isolate(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: the closure runs between fork and exec and only makes one raw syscall, which is
    // async-signal-safe; it allocates nothing and takes no lock.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            Ok(())
        });
    }
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
