//! How a call is made: [`Call`], the one interface typed service clients are generated
//! against, and the options a call takes ([`Policy`], [`TimeoutAction`], [`Calls`], [`OnAll`]).
//!
//! `#[ipc2::service]` generates client methods for anything that implements [`Call`]: a
//! [`WorkerSet`], its [`Calls`] views and its [`OnAll`] view. So every generated method also
//! exists with time limits, for one chosen worker, and for every worker at once, without
//! generating a second set of methods; what a call gives back is the view's [`Call::Output`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ipc2_common::Server;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::WorkerSet;
use super::request::decode_reply;
use crate::stream::Decode;
use crate::{Error, ReplyStream};

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
    /// For a streaming call, how long the worker may take to send each next item; past it the
    /// stream ends with [`Error::ItemTimeout`] (`timeout` bounds the whole stream).
    pub item_timeout: Option<Duration>,
}

impl Policy {
    /// A policy with `timeout` and `retries`, and no queue timeout of its own.
    pub const fn new(timeout: Option<(Duration, TimeoutAction)>, retries: u32) -> Self {
        Self {
            timeout,
            queue_timeout: None,
            retries,
            item_timeout: None,
        }
    }

    /// This policy with an item timeout, for streaming calls.
    pub const fn with_item_timeout(mut self, limit: Duration) -> Self {
        self.item_timeout = Some(limit);
        self
    }

    /// This policy with a queue timeout.
    pub const fn with_queue_timeout(mut self, limit: Duration) -> Self {
        self.queue_timeout = Some(limit);
        self
    }
}

/// Something that can run a job of type `W` on workers and turn their `R` replies into results:
/// a [`WorkerSet`] (one worker runs each call), its [`Calls`] views (the same, with options), and
/// its [`OnAll`] view (every worker runs each call).
///
/// The clients `#[ipc2::service]` generates are implemented for every `Call`, so each method
/// exists on each of these: `workers.add(1, 2)` gives `Result<u32, Error>`,
/// `workers.on_all().add(1, 2)` a `Vec` of each worker's.
pub trait Call<W, R> {
    /// What a call gives back for a method whose result is `T`: `Result<T, Error>` for one
    /// worker's answer, `Vec<(usize, Result<T, Error>)>` for every worker's, by slot id.
    type Output<T: Send + 'static>: Send;

    /// Runs `job` (under `policy`, if given) and turns each reply into the method's result with
    /// `reply`.
    fn call<T, F>(
        &self,
        job: W,
        policy: Option<Policy>,
        reply: F,
    ) -> impl Future<Output = Self::Output<T>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, Error> + Send + Sync + 'static;

    /// Sends `job` without waiting for it to run.
    fn call_oneway(&self, job: W) -> impl Future<Output = Self::Output<()>> + Send;

    /// Runs `job` (under `policy`, if given) as a streaming call ([`WorkerSet::send_stream`]),
    /// each item turned into the method's item type by `item`.
    fn call_stream<T, F>(
        &self,
        job: W,
        policy: Option<Policy>,
        item: F,
    ) -> impl Future<Output = Self::Output<ReplyStream<T>>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, Error> + Send + Sync + 'static;
}

/// Decodes each item of a stream as `R` and turns it into a `T` with `item`.
fn items<R, T, F>(item: Arc<F>) -> Decode<T>
where
    R: DeserializeOwned,
    F: Fn(R) -> Result<T, Error> + Send + Sync + 'static,
{
    Box::new(move |conn, body| item(decode_reply::<R>(conn, body)?))
}

impl<S, R, W, E> Call<W, R> for WorkerSet<S, R, W, E>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    type Output<T: Send + 'static> = Result<T, Error>;

    fn call<T, F>(
        &self,
        job: W,
        policy: Option<Policy>,
        reply: F,
    ) -> impl Future<Output = Result<T, Error>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, Error> + Send + Sync + 'static,
    {
        let outcome = self.request_with(job, None, true, policy.unwrap_or_default());
        async move { reply(outcome.await?) }
    }

    fn call_oneway(&self, job: W) -> impl Future<Output = Result<(), Error>> + Send {
        self.notify(job)
    }

    fn call_stream<T, F>(
        &self,
        job: W,
        policy: Option<Policy>,
        item: F,
    ) -> impl Future<Output = Result<ReplyStream<T>, Error>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, Error> + Send + Sync + 'static,
    {
        let policy = policy.unwrap_or_default();
        self.stream_with(job, None, policy, items(Arc::new(item)))
    }
}

/// A view of a [`WorkerSet`] whose calls each run on every worker running now, and give back
/// every worker's result by slot id. Obtained from [`WorkerSet::on_all`]:
/// `workers.on_all().set_quality(7).await` sets the quality on every worker. A worker that dies
/// running it is that worker's [`Error::WorkerExited`]; the others' results are unaffected.
#[must_use = "an OnAll view does nothing until a call is made through it"]
pub struct OnAll<'a, S, R, W, E = R> {
    set: &'a WorkerSet<S, R, W, E>,
}

impl<'a, S, R, W, E> OnAll<'a, S, R, W, E> {
    pub(crate) fn new(set: &'a WorkerSet<S, R, W, E>) -> Self {
        Self { set }
    }
}

impl<S, R, W, E> Call<W, R> for OnAll<'_, S, R, W, E>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    type Output<T: Send + 'static> = Vec<(usize, Result<T, Error>)>;

    fn call<T, F>(
        &self,
        job: W,
        policy: Option<Policy>,
        reply: F,
    ) -> impl Future<Output = Self::Output<T>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, Error> + Send + Sync + 'static,
    {
        let outcomes = self.set.broadcast_with(job, policy.unwrap_or_default());
        async move {
            let outcomes = outcomes.await;
            outcomes
                .into_iter()
                .map(|(worker, outcome)| (worker, outcome.and_then(&reply)))
                .collect()
        }
    }

    fn call_oneway(&self, job: W) -> impl Future<Output = Self::Output<()>> + Send {
        self.set.notify_all(job)
    }

    fn call_stream<T, F>(
        &self,
        job: W,
        policy: Option<Policy>,
        item: F,
    ) -> impl Future<Output = Self::Output<ReplyStream<T>>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, Error> + Send + Sync + 'static,
    {
        let item = Arc::new(item);
        self.set
            .broadcast_stream(job, policy.unwrap_or_default(), move || items(item.clone()))
    }
}

impl<S, R, W, E> fmt::Debug for OnAll<'_, S, R, W, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnAll").finish_non_exhaustive()
    }
}

/// A view of a [`WorkerSet`] whose calls have options of their own: time limits, and one worker
/// they all go to. Obtained from [`WorkerSet::with_timeout`], [`WorkerSet::with_queue_timeout`]
/// or [`WorkerSet::on`]; the options chain:
/// `workers.on(2).with_timeout(Duration::from_secs(1), TimeoutAction::Restart).add(1, 2)`.
#[must_use = "a Calls view does nothing until a call is made through it"]
pub struct Calls<'a, S, R, W, E = R> {
    set: &'a WorkerSet<S, R, W, E>,
    timeout: Option<(Duration, TimeoutAction)>,
    queue_timeout: Option<Duration>,
    item_timeout: Option<Duration>,
    worker: Option<usize>,
}

/// The name [`Calls`] had while time limits were its only options.
pub type WithTimeout<'a, S, R, W, E = R> = Calls<'a, S, R, W, E>;

impl<'a, S, R, W, E> Calls<'a, S, R, W, E> {
    pub(crate) fn new(set: &'a WorkerSet<S, R, W, E>) -> Self {
        Self {
            set,
            timeout: None,
            queue_timeout: None,
            item_timeout: None,
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

    /// This view, with streaming calls whose worker may take at most `limit` to send each next
    /// item; see [`Policy::item_timeout`].
    pub fn with_item_timeout(mut self, limit: Duration) -> Self {
        self.item_timeout = Some(limit);
        self
    }

    /// `policy` with this view's limits in place of its own.
    fn apply(&self, policy: Policy) -> Policy {
        Policy {
            timeout: self.timeout.or(policy.timeout),
            queue_timeout: self.queue_timeout.or(policy.queue_timeout),
            retries: policy.retries,
            item_timeout: self.item_timeout.or(policy.item_timeout),
        }
    }
}

impl<S, R, W, E> Calls<'_, S, R, W, E>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    /// [`WorkerSet::send_stream`] with this view's options.
    pub async fn send_stream(&self, job: W) -> Result<ReplyStream<R>, Error> {
        let policy = self.apply(Policy::default());
        self.set
            .stream_with(job, self.worker, policy, Box::new(decode_reply::<R>))
            .await
    }
}

impl<S, R, W, E> Call<W, R> for Calls<'_, S, R, W, E>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    type Output<T: Send + 'static> = Result<T, Error>;

    /// The view's limits replace the policy's.
    fn call<T, F>(
        &self,
        job: W,
        policy: Option<Policy>,
        reply: F,
    ) -> impl Future<Output = Result<T, Error>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, Error> + Send + Sync + 'static,
    {
        let policy = self.apply(policy.unwrap_or_default());
        let outcome = self.set.request_with(job, self.worker, true, policy);
        async move { reply(outcome.await?) }
    }

    fn call_oneway(&self, job: W) -> impl Future<Output = Result<(), Error>> + Send {
        self.set.notify_on(self.worker, job)
    }

    /// The view's limits replace the policy's.
    fn call_stream<T, F>(
        &self,
        job: W,
        policy: Option<Policy>,
        item: F,
    ) -> impl Future<Output = Result<ReplyStream<T>, Error>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, Error> + Send + Sync + 'static,
    {
        let policy = self.apply(policy.unwrap_or_default());
        self.set
            .stream_with(job, self.worker, policy, items(Arc::new(item)))
    }
}

impl<S, R, W, E> fmt::Debug for Calls<'_, S, R, W, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calls")
            .field("timeout", &self.timeout)
            .field("queue_timeout", &self.queue_timeout)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}
