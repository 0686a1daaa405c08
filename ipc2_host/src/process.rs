//! Worker processes: start them, watch them, kill them, reap them, and capture their output.
//!
//! This is a leaf: it knows nothing of connections, calls or slots. `os` holds the few Unix calls
//! (process groups, resource limits, `/proc`), `cgroup` gives each worker a cgroup where it can,
//! `output` routes a worker's stdout and stderr.
//!
//! Each worker gets a thread of its own that spawns it, blocks until it exits, and reaps it. The
//! thread is what makes `PR_SET_PDEATHSIG` safe to use (it fires when the spawning thread exits,
//! and this one outlives its child), and it turns the exit into an event the supervisor awaits,
//! whether the worker was busy or idle.
//!
//! The [`Children`] table records which process ids are alive and unreaped. Signals go only to
//! those, under the table's lock, and the reaping thread removes its child from the table before
//! reaping it: a process id is never signalled after it could have been recycled. Dropping the
//! worker set calls [`Children::kill_all`], which kills every group and joins every thread, so no
//! child (and no zombie) survives the set. Killing a worker, or seeing it die, also kills its
//! cgroup where it has one, which ends the descendants that left its process group.

use std::collections::HashMap;
use std::io;
use std::process::{ChildStderr, ChildStdout, Command, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use rustix::process::Signal;
use tokio::sync::oneshot;

mod cgroup;
mod os;
mod output;

use cgroup::{SetCgroup, WorkerCgroup};

pub(crate) use os::{Limits, process_group_of, resident_bytes};
pub(crate) use output::{Capture, Stream};
pub use output::{LineCallback, Output};

/// The live worker processes of one set.
#[derive(Debug)]
pub(crate) struct Children {
    inner: Mutex<Table>,
    /// Where the workers' cgroups go, if they can have them.
    cgroup: Option<SetCgroup>,
}

#[derive(Debug, Default)]
struct Table {
    closed: bool,
    /// Each live worker, with its cgroup if it has one.
    live: HashMap<u32, Option<WorkerCgroup>>,
    threads: Vec<JoinHandle<()>>,
}

impl Table {
    /// Sends `signal` to `pid`'s process group and, for SIGKILL, kills its cgroup too.
    fn signal(&self, pid: u32, signal: Signal) {
        let Some(cgroup) = self.live.get(&pid) else {
            return;
        };
        let _ = os::signal_group(pid, signal);
        if let (Signal::KILL, Some(cgroup)) = (signal, cgroup) {
            cgroup.kill();
        }
    }
}

/// What the spawning thread hands back: the pid and the output pipes.
type Started = (u32, Option<ChildStdout>, Option<ChildStderr>);

/// A started worker process.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) pid: u32,
    pub(crate) stdout: Option<ChildStdout>,
    pub(crate) stderr: Option<ChildStderr>,
    pub(crate) exited: oneshot::Receiver<ExitStatus>,
}

impl Children {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::default(),
            cgroup: SetCgroup::create(),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `command` on a thread of its own, in its own process group.
    pub(crate) async fn spawn(
        self: &Arc<Self>,
        mut command: Command,
        limits: Limits,
    ) -> io::Result<Child> {
        os::isolate(&mut command, limits);
        let (started_tx, started) = oneshot::channel();
        let (exited_tx, exited) = oneshot::channel();
        let children = self.clone();
        {
            // Registered under the lock the thread takes first, so kill_all always joins it.
            let mut table = self.table();
            let thread = std::thread::Builder::new()
                .name("ipc2-worker-reaper".into())
                .spawn(move || children.run(command, started_tx, exited_tx))?;
            table.threads.retain(|t| !t.is_finished());
            table.threads.push(thread);
        }
        let (pid, stdout, stderr) = started
            .await
            .map_err(|_| io::Error::other("the spawning thread stopped"))??;
        Ok(Child {
            pid,
            stdout,
            stderr,
            exited,
        })
    }

    fn run(
        &self,
        mut command: Command,
        started: oneshot::Sender<io::Result<Started>>,
        exited: oneshot::Sender<ExitStatus>,
    ) {
        let shut_down = || io::Error::other("the worker set is shut down");
        if self.table().closed {
            let _ = started.send(Err(shut_down()));
            return;
        }
        // Spawned, and moved into its cgroup, without the lock: workers start in parallel. A
        // `kill_all` meanwhile cannot see this one, so it is killed here once registered; it
        // joins this thread, so it still waits for the reap below.
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                let _ = started.send(Err(err));
                return;
            }
        };
        let pid = child.id();
        let cgroup = self.cgroup.as_ref().and_then(|set| set.adopt(pid));
        let closed = {
            let mut table = self.table();
            table.live.insert(pid, cgroup);
            if table.closed {
                table.signal(pid, Signal::KILL);
            }
            table.closed
        };
        let _ = started.send(if closed {
            Err(shut_down())
        } else {
            Ok((pid, child.stdout.take(), child.stderr.take()))
        });
        // Wait without reaping; if that fails, child.wait() below still blocks until exit.
        let _ = os::wait_exited(pid);
        let cgroup = {
            let mut table = self.table();
            // The leader is dead but not reaped, so the group id is still ours: sweep up any
            // process the worker left behind, in its group and in its cgroup.
            table.signal(pid, Signal::KILL);
            table.live.remove(&pid).flatten()
        };
        if let Ok(status) = child.wait() {
            let _ = exited.send(status);
        }
        // After the report's exit status is on its way: removing the cgroup waits for it to empty.
        if let Some(cgroup) = cgroup {
            cgroup.remove();
        }
    }

    /// Sends `signal` to the worker `pid`'s process group, if that worker is still alive.
    pub(crate) fn signal(&self, pid: u32, signal: Signal) {
        self.table().signal(pid, signal);
    }

    /// Kills every live worker's process group, refuses new spawns, and waits until every worker
    /// has been reaped.
    pub(crate) fn kill_all(&self) {
        let threads = {
            let mut table = self.table();
            table.closed = true;
            for &pid in table.live.keys() {
                table.signal(pid, Signal::KILL);
            }
            std::mem::take(&mut table.threads)
        };
        for thread in threads {
            let _ = thread.join();
        }
    }
}
