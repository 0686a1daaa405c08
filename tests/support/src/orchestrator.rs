//! Starting workers as an orchestrator (Kubernetes, systemd, Slurm, a script) would: not by the
//! host, with the host's address in `IPC2_CONNECT` and the transport's credentials in the
//! environment, for the tests of workers on other machines.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A worker process the test started, killed and reaped on drop. Its stderr goes to a file the
/// test can read.
pub struct Launched {
    child: Child,
    stderr: tempfile::NamedTempFile,
    status: Option<ExitStatus>,
}

impl Launched {
    /// Starts `program` with `env` (an orchestrator's would hold `IPC2_CONNECT` and the
    /// credentials), through `wrapper` if it is not empty (`["ip", "netns", "exec", name]`: the
    /// wrapper execs the program, keeping its pid).
    pub fn start<K, V>(
        wrapper: &[&str],
        program: &Path,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let stderr = tempfile::NamedTempFile::new().expect("a file for the worker's stderr");
        let mut command = match wrapper.split_first() {
            None => Command::new(program),
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(program);
                command
            }
        };
        let child = command
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.reopen().expect("the stderr file reopens"))
            .spawn()
            .expect("the worker program starts");
        Self {
            child,
            stderr,
            status: None,
        }
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the worker to exit; its status, or `None` if it is still running.
    pub async fn exited(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.try_exited() {
                return Some(status);
            }
            if start.elapsed() >= limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The worker's exit status, if it has exited.
    pub fn try_exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("waiting for the worker");
        }
        self.status
    }

    /// What the worker has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        if self.try_exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
