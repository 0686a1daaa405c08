//! A cgroup (v2) per worker, where the host may create them: the one way on Linux to find and
//! kill every process a worker started, including those that left its process group (`setsid`)
//! or outlived their parent and were adopted by init.
//!
//! Each set gets a directory under the host's own cgroup (`ipc2-<host pid>-<n>`), and each worker
//! one inside it (`w<pid>`), which the worker is moved into as soon as it is spawned, before it
//! has connected (and so before it runs a job that could start anything). When the worker dies
//! or is killed, `cgroup.kill` (Linux 5.14; on older kernels, a signal to each process the cgroup
//! lists) kills whatever is left in its cgroup at once, and the empty directory is removed. A set directory left behind by a host that was killed is removed
//! by the next set whose host finds it, once its host process is gone (`rmdir` only removes an
//! empty cgroup, so this never touches a running process).
//!
//! Where the cgroup v2 hierarchy is not mounted, or the host's cgroup is not writable by it (an
//! unprivileged user outside a delegated subtree, a read-only container mount), the set runs
//! without: killing a worker's process group still ends everything the worker started, except a
//! descendant that made itself a new session or group (`setsid`, a daemon's double fork), which
//! can outlive its worker. It never delays a crash report (see `output.rs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long removing a killed worker's cgroup waits for its processes to be gone.
const EMPTY_WAIT: Duration = Duration::from_secs(2);
/// How many times a kernel without `cgroup.kill` has the cgroup's processes listed and killed.
const KILL_ROUNDS: usize = 8;

/// The cgroup directory of one worker set.
#[derive(Debug)]
pub(crate) struct SetCgroup {
    dir: PathBuf,
}

/// The cgroup of one worker.
#[derive(Debug)]
pub(crate) struct WorkerCgroup {
    dir: PathBuf,
}

impl SetCgroup {
    /// A new directory for a set under the host's own cgroup, or `None` where there is none to
    /// be had (see the [module docs](self)).
    pub(crate) fn create() -> Option<SetCgroup> {
        static SETS: AtomicU64 = AtomicU64::new(0);
        let parent = own_cgroup()?;
        remove_stale(&parent);
        let host = std::process::id();
        let dir = parent.join(format!(
            "ipc2-{host}-{}",
            SETS.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::create_dir(&dir) {
            Ok(()) => Some(SetCgroup { dir }),
            Err(err) => {
                tracing::debug!(
                    "ipc2: no cgroup per worker ({}: {err}); descendants that call setsid can outlive their worker",
                    dir.display()
                );
                None
            }
        }
    }

    /// Moves the just-spawned worker `pid` into a cgroup of its own.
    pub(crate) fn adopt(&self, pid: u32) -> Option<WorkerCgroup> {
        let dir = self.dir.join(format!("w{pid}"));
        let moved = fs::create_dir(&dir)
            .and_then(|()| fs::write(dir.join("cgroup.procs"), pid.to_string()));
        match moved {
            Ok(()) => Some(WorkerCgroup { dir }),
            Err(err) => {
                tracing::debug!("ipc2: worker {pid} runs without a cgroup of its own: {err}");
                let _ = fs::remove_dir(&dir);
                None
            }
        }
    }
}

impl Drop for SetCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

impl WorkerCgroup {
    /// Kills every process in the worker's cgroup: with `cgroup.kill` where the kernel has it
    /// (5.14), else each process `cgroup.procs` lists, until none is left (a process forking
    /// while the list is read is caught in the next round).
    pub(crate) fn kill(&self) {
        if fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for _ in 0..KILL_ROUNDS {
            let Ok(procs) = fs::read_to_string(self.dir.join("cgroup.procs")) else {
                return;
            };
            let pids: Vec<_> = procs
                .lines()
                .filter_map(|pid| pid.trim().parse::<i32>().ok())
                .filter_map(rustix::process::Pid::from_raw)
                .collect();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }

    /// Kills what is left in the cgroup and removes it once it is empty.
    pub(crate) fn remove(self) {
        self.kill();
        let began = Instant::now();
        while is_populated(&self.dir) && began.elapsed() < EMPTY_WAIT {
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Err(err) = fs::remove_dir(&self.dir) {
            tracing::debug!("ipc2: could not remove {}: {err}", self.dir.display());
        }
    }
}

/// Whether processes remain in the cgroup at `dir` (`populated 1` in `cgroup.events`).
fn is_populated(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.events"))
        .map(|events| events.lines().any(|line| line == "populated 1"))
        .unwrap_or(false)
}

/// The directory of this process's cgroup in the v2 hierarchy, if it is mounted.
fn own_cgroup() -> Option<PathBuf> {
    let membership = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = membership
        .lines()
        .find_map(|line| line.strip_prefix("0::"))?;
    let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
    // mountinfo: id parent major:minor root mount-point options ... - fstype source options
    let (root, mount) = mounts.lines().find_map(|line| {
        let (fields, fstype) = line.split_once(" - ")?;
        let mut fields = fields.split(' ').skip(3);
        let (root, mount) = (fields.next()?, fields.next()?);
        fstype.starts_with("cgroup2 ").then_some((root, mount))
    })?;
    // A mount of part of the hierarchy shows it from its own root. Paths with spaces or other
    // escaped characters are not decoded: such a host runs without cgroups.
    if mount.contains('\\') || root.contains('\\') {
        return None;
    }
    let below = Path::new(path).strip_prefix(root).ok()?;
    Some(Path::new(mount).join(below))
}

/// Removes set directories under `parent` left by hosts that are gone.
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(host) = name
            .to_str()
            .and_then(|name| name.strip_prefix("ipc2-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{host}")).exists() {
            continue;
        }
        if let Ok(workers) = fs::read_dir(entry.path()) {
            for worker in workers.flatten().filter(|w| w.path().is_dir()) {
                let _ = fs::remove_dir(worker.path());
            }
        }
        let _ = fs::remove_dir(entry.path());
    }
}
