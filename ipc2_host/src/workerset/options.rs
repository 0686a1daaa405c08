//! How a call is made: [`Call`], the one interface typed service clients are generated
//! against, and the options a call takes ([`Policy`], [`TimeoutAction`], [`Calls`]).
//!
//! `#[ipc2::service]` generates client methods for anything that implements [`Call`], which is
//! both a [`WorkerSet`] and a [`Calls`] view of one. So every generated method also exists with
//! time limits and for one chosen worker, without generating a second set of methods.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use ipc2_common::Server;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::WorkerSet;
use crate::Error;

/// What a timed-out job does to the worker running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutAction {
    /// Kill the worker (SIGKILL to its process group) and start a replacement. For runaway jobs.
    Restart,
    /// Only fail the job, and tell the worker it was cancelled. A worker serving a
    /// `#[ipc2::service]` drops the handler's future and answers at once; a raw worker sees
    /// `ReplySender::is_cancelled` and should answer soon. Until the worker answers it takes no
    /// other job, so a handler that ignores cancellation keeps its worker busy.
    Error,
}

/// How a call is run: how long it may run and wait, and how often it is retried after a worker
/// crash. Unset limits fall back to the set's
/// ([`WorkerSetBuilder::default_timeout`](crate::WorkerSetBuilder::default_timeout),
/// [`WorkerSetBuilder::queue_timeout`](crate::WorkerSetBuilder::queue_timeout)).
///
/// `#[ipc2::service]` builds one from a method's `#[ipc2(timeout = "...", on_timeout = "...",
/// idempotent, retries = N)]` options.
///
/// ```
/// use std::time::Duration;
/// use ipc2::host::{Policy, TimeoutAction};
///
/// let policy = Policy::new(Some((Duration::from_secs(2), TimeoutAction::Restart)), 0)
///     .with_queue_timeout(Duration::from_secs(30));
/// assert_eq!(policy.queue_timeout, Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Policy {
    /// How long each attempt may run on a worker, counted from when it is written to the
    /// worker, and what an attempt that runs longer does to its worker.
    pub timeout: Option<(Duration, TimeoutAction)>,
    /// How long the call may wait for a free worker; past it, the call fails with
    /// [`Error::QueueTimeout`] without having been sent.
    pub queue_timeout: Option<Duration>,
    /// How many times the call is sent again after the worker running it died. Only for jobs
    /// that are safe to run twice: the crashed attempt may have had effects.
    pub retries: u32,
}

impl Policy {
    /// A policy with `timeout` and `retries`, and no queue timeout of its own.
    pub const fn new(timeout: Option<(Duration, TimeoutAction)>, retries: u32) -> Self {
        Self {
            timeout,
            queue_timeout: None,
            retries,
        }
    }

    /// This policy with a queue timeout.
    pub const fn with_queue_timeout(mut self, limit: Duration) -> Self {
        self.queue_timeout = Some(limit);
        self
    }
}

/// Something that can run a job of type `W` on a worker and return its `R`.
pub trait Call<W, R> {
    /// Runs `job` and waits for its reply.
    fn call(&self, job: W) -> impl Future<Output = Result<R, Error>> + Send;
    /// Runs `job` under `policy` and waits for its reply.
    fn call_with(&self, job: W, policy: Policy) -> impl Future<Output = Result<R, Error>> + Send;
    /// Sends `job` without waiting for a reply.
    fn call_oneway(&self, job: W) -> impl Future<Output = Result<(), Error>> + Send;
}

impl<S, R, W> Call<W, R> for WorkerSet<S, R, W>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    fn call(&self, job: W) -> impl Future<Output = Result<R, Error>> + Send {
        self.send(job)
    }

    fn call_with(&self, job: W, policy: Policy) -> impl Future<Output = Result<R, Error>> + Send {
        self.request_with(job, None, true, policy)
    }

    fn call_oneway(&self, job: W) -> impl Future<Output = Result<(), Error>> + Send {
        self.notify(job)
    }
}

/// A view of a [`WorkerSet`] whose calls have options of their own: time limits, and one worker
/// they all go to. Obtained from [`WorkerSet::with_timeout`], [`WorkerSet::with_queue_timeout`]
/// or [`WorkerSet::on`]; the options chain:
/// `workers.on(2).with_timeout(Duration::from_secs(1), TimeoutAction::Restart).add(1, 2)`.
#[must_use = "a Calls view does nothing until a call is made through it"]
pub struct Calls<'a, S, R, W> {
    set: &'a WorkerSet<S, R, W>,
    timeout: Option<(Duration, TimeoutAction)>,
    queue_timeout: Option<Duration>,
    worker: Option<usize>,
}

/// The name [`Calls`] had while time limits were its only options.
pub type WithTimeout<'a, S, R, W> = Calls<'a, S, R, W>;

impl<'a, S, R, W> Calls<'a, S, R, W> {
    pub(crate) fn new(set: &'a WorkerSet<S, R, W>) -> Self {
        Self {
            set,
            timeout: None,
            queue_timeout: None,
            worker: None,
        }
    }

    /// This view, with every call sent to the worker in slot `worker`, like
    /// [`WorkerSet::send_to`]; one-way calls too.
    pub fn on(mut self, worker: usize) -> Self {
        self.worker = Some(worker);
        self
    }

    /// This view, with calls that may run for at most `timeout` on a worker; see
    /// [`WorkerSet::send_timeout`].
    pub fn with_timeout(mut self, timeout: Duration, action: TimeoutAction) -> Self {
        self.timeout = Some((timeout, action));
        self
    }

    /// This view, with calls that may wait for at most `limit` for a free worker.
    pub fn with_queue_timeout(mut self, limit: Duration) -> Self {
        self.queue_timeout = Some(limit);
        self
    }

    /// `policy` with this view's limits in place of its own.
    fn apply(&self, policy: Policy) -> Policy {
        Policy {
            timeout: self.timeout.or(policy.timeout),
            queue_timeout: self.queue_timeout.or(policy.queue_timeout),
            retries: policy.retries,
        }
    }
}

impl<S, R, W> Call<W, R> for Calls<'_, S, R, W>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    fn call(&self, job: W) -> impl Future<Output = Result<R, Error>> + Send {
        self.set
            .request_with(job, self.worker, true, self.apply(Policy::default()))
    }

    /// The view's limits replace the policy's.
    fn call_with(&self, job: W, policy: Policy) -> impl Future<Output = Result<R, Error>> + Send {
        self.set
            .request_with(job, self.worker, true, self.apply(policy))
    }

    fn call_oneway(&self, job: W) -> impl Future<Output = Result<(), Error>> + Send {
        self.set.notify_on(self.worker, job)
    }
}

impl<S, R, W> fmt::Debug for Calls<'_, S, R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calls")
            .field("timeout", &self.timeout)
            .field("queue_timeout", &self.queue_timeout)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}
