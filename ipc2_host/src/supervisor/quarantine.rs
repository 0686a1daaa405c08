//! Poison-job quarantine: refuse a job that keeps killing the workers that run it.
//!
//! A job that crashes its worker fails with `WorkerExited` and is never retried by ipc2, but a
//! caller that retries it (or many callers sending the same bad input) can kill worker after
//! worker. With [`crate::WorkerSetBuilder::quarantine_after`] set, the set remembers, per job
//! (told apart by a hash of its encoded bytes), how many times in a row it took a worker down,
//! and refuses it once that reaches the limit. A run that completes, however it completes,
//! clears the count.
//!
//! A death counts against a job only when the job is the likely culprit ([`Quarantine::blames`]):
//! it was the only call its worker was running, and the worker died by itself (an exit, or a
//! signal such as SIGSEGV or SIGABRT), not by a kill from the host (someone else's timeout, a bad
//! reply, a shutdown) or a kill or termination signal from outside (SIGKILL, SIGTERM, SIGINT,
//! SIGHUP: an operator, the OOM killer). A run-time timeout with `TimeoutAction::Restart` counts
//! when the job had its worker to itself. The loss of a worker on another machine never counts:
//! a crash there looks like a dropped connection, a partition or a rescheduled pod.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ipc2_common::{HEADER_LEN, ToWorker, codec};

use rustix::process::Signal;

use crate::Error;
use crate::error::{ExitCause, WorkerExit};

/// Jobs remembered at most; past this the memory is cleared rather than grown.
const MAX_REMEMBERED: usize = 4096;

#[derive(Debug)]
pub(crate) struct Quarantine {
    after: u32,
    crashes: Mutex<HashMap<u64, u32>>,
}

impl Quarantine {
    pub(crate) fn new(after: u32) -> Self {
        Self {
            after,
            crashes: Mutex::default(),
        }
    }

    fn crashes(&self) -> MutexGuard<'_, HashMap<u64, u32>> {
        self.crashes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key of the job in an encoded request frame: a hash of its body, so two sends of the
    /// same job match whatever their request ids.
    pub(crate) fn key(frame: &[u8]) -> u64 {
        let payload = frame.get(HEADER_LEN..).unwrap_or_default();
        let body = codec::decode_header::<ToWorker>(payload).map_or(payload, |(_, body)| body);
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        hasher.finish()
    }

    /// Refuses the job if it has crashed workers too often in a row.
    pub(crate) fn admit(&self, key: u64) -> Result<(), Error> {
        match self.crashes().get(&key) {
            Some(&crashes) if crashes >= self.after => Err(Error::Quarantined { crashes }),
            _ => Ok(()),
        }
    }

    /// Whether a death reported by `exit` counts against the job that saw it; `alone` if it was
    /// the only call its worker was running. See the [module docs](self).
    pub(crate) fn blames(exit: &WorkerExit, alone: bool) -> bool {
        let killed_from_outside = [Signal::KILL, Signal::TERM, Signal::INT, Signal::HUP]
            .iter()
            .any(|signal| exit.signal() == Some(signal.as_raw()));
        // A worker on another machine that is gone may as well have lost its network or been
        // moved by its orchestrator: nothing tells a crash apart.
        alone && exit.cause == ExitCause::Died && !killed_from_outside && exit.remote.is_none()
    }

    /// Records that the job took its worker down.
    pub(crate) fn crashed(&self, key: u64) {
        let mut crashes = self.crashes();
        if crashes.len() >= MAX_REMEMBERED {
            crashes.clear();
        }
        *crashes.entry(key).or_default() += 1;
    }

    /// Records that the job ran to an end without taking its worker down.
    pub(crate) fn survived(&self, key: u64) {
        self.crashes().remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: u64, job: &str) -> Vec<u8> {
        codec::encode_frame(&ToWorker::Request { id }, Some(job), 1024).unwrap()
    }

    #[test]
    fn the_same_job_matches_whatever_its_request_id() {
        assert_eq!(
            Quarantine::key(&frame(1, "a")),
            Quarantine::key(&frame(99_999, "a"))
        );
        assert_ne!(
            Quarantine::key(&frame(1, "a")),
            Quarantine::key(&frame(1, "b"))
        );
    }

    #[test]
    fn a_job_is_refused_after_crashing_k_times_in_a_row() {
        let quarantine = Quarantine::new(2);
        let key = Quarantine::key(&frame(1, "poison"));
        quarantine.crashed(key);
        assert!(quarantine.admit(key).is_ok());
        quarantine.survived(key);
        quarantine.crashed(key);
        assert!(quarantine.admit(key).is_ok(), "a survival resets the count");
        quarantine.crashed(key);
        assert!(matches!(
            quarantine.admit(key),
            Err(Error::Quarantined { crashes: 2 })
        ));
    }

    #[test]
    fn a_crash_blames_a_job_that_ran_alone_but_the_loss_of_a_remote_worker_does_not() {
        use std::os::unix::process::ExitStatusExt;
        let mut exit = WorkerExit {
            worker: 0,
            generation: 1,
            pid: 7,
            remote: None,
            status: Some(std::process::ExitStatus::from_raw(Signal::SEGV.as_raw())),
            cause: ExitCause::Died,
            uptime: std::time::Duration::from_secs(1),
            stderr_tail: String::new(),
            memory_limit: None,
            cpu_time_limit: None,
        };
        assert!(Quarantine::blames(&exit, true));
        assert!(!Quarantine::blames(&exit, false), "it shared the worker");
        exit.status = None;
        exit.remote = Some(crate::RemoteHost {
            address: "10.0.0.7:41234".parse().unwrap(),
            host_name: "node-7".into(),
        });
        assert!(!Quarantine::blames(&exit, true));
    }
}
