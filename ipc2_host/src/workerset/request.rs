//! The call path: encoding a job once, admission (quarantine, the queue and its timeout, a free
//! worker), the time limit on running, cancellation when a caller gives up, and retries of
//! idempotent calls.

use std::any::type_name;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ipc2_common::codec::{self, Encoded};
use ipc2_common::{Server, ToWorker};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::{Calls, OnAll, Policy, TimeoutAction, WorkerSet};
use crate::Error;
use crate::conn::{Conn, Outcome};
use crate::error::ExitCause;
use crate::scheduler::Checkout;
use crate::stream::{Decode, ReplyStream};
use crate::supervisor::Quarantine;

impl<S, R, W, E> WorkerSet<S, R, W, E>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    /// Sends `job` to a worker and waits for its reply.
    ///
    /// The job goes to an idle worker, or waits in the FIFO queue until one is free (`send` is
    /// never refused for a full queue; see [`try_send`](Self::try_send)). Fails with
    /// [`Error::WorkerExited`] if the worker dies before answering (the job is not retried: it may
    /// have had effects), [`Error::Remote`] if the worker fails it, [`Error::NoWorkers`] at once
    /// while no worker can be started, and [`Error::Shutdown`] after [`shutdown`](Self::shutdown).
    /// The set's [`default_timeout`](crate::WorkerSetBuilder::default_timeout) and
    /// [`queue_timeout`](crate::WorkerSetBuilder::queue_timeout) apply, if it has them.
    ///
    /// Dropping the returned future at any point is safe: a job still queued is never sent, and
    /// a job already sent is cancelled on the worker (see [`TimeoutAction::Error`]) and keeps
    /// that worker busy until it answers, so no one else gets its reply.
    pub async fn send(&self, job: W) -> Result<R, Error> {
        self.request_with(job, None, true, Policy::default()).await
    }

    /// Like [`send`](Self::send), but fails at once with [`Error::Busy`] when every worker is busy
    /// and the queue already holds its capacity (see [`WorkerSetBuilder::queue_capacity`](crate::WorkerSetBuilder::queue_capacity)).
    pub async fn try_send(&self, job: W) -> Result<R, Error> {
        self.request_with(job, None, false, Policy::default()).await
    }

    /// Like [`send`](Self::send), but the job may run for at most `timeout` on its worker,
    /// counted from when it is written to the worker: time spent waiting in the queue does not
    /// count (bound that with [`WorkerSetBuilder::queue_timeout`](crate::WorkerSetBuilder::queue_timeout)
    /// or [`with_queue_timeout`](Self::with_queue_timeout)). Past the limit the job fails with
    /// [`Error::Timeout`], and `action` says what happens to the worker running it.
    pub async fn send_timeout(
        &self,
        job: W,
        timeout: Duration,
        action: TimeoutAction,
    ) -> Result<R, Error> {
        let policy = Policy::new(Some((timeout, action)), 0);
        self.request_with(job, None, true, policy).await
    }

    /// A view of this set whose calls all use [`send_timeout`](Self::send_timeout) with
    /// `timeout` and `action`; mostly useful with the clients `#[ipc2::service]` generates:
    /// `workers.with_timeout(Duration::from_secs(1), TimeoutAction::Restart).add(1, 2)`.
    pub fn with_timeout(&self, timeout: Duration, action: TimeoutAction) -> Calls<'_, S, R, W, E> {
        Calls::new(self).with_timeout(timeout, action)
    }

    /// A view of this set whose calls wait at most `limit` for a free worker, then fail with
    /// [`Error::QueueTimeout`] unsent: `workers.with_queue_timeout(Duration::from_secs(5)).add(1, 2)`.
    pub fn with_queue_timeout(&self, limit: Duration) -> Calls<'_, S, R, W, E> {
        Calls::new(self).with_queue_timeout(limit)
    }

    /// A view of this set whose streaming calls may wait at most `limit` for each next item:
    /// `workers.with_item_timeout(Duration::from_secs(1)).send_stream(job)`.
    pub fn with_item_timeout(&self, limit: Duration) -> Calls<'_, S, R, W, E> {
        Calls::new(self).with_item_timeout(limit)
    }

    /// A view of this set whose calls all go to the worker in slot `worker`: for the clients
    /// `#[ipc2::service]` generates, `workers.on(2).reload().await` runs `reload` on worker 2
    /// (one-way methods too). Fails like [`send_to`](Self::send_to) for a slot the set lacks.
    pub fn on(&self, worker: usize) -> Calls<'_, S, R, W, E> {
        Calls::new(self).on(worker)
    }

    /// Sends `job` to a worker without waiting for an answer (the worker sees a
    /// `Job::Unidirectional`). Returns once the job is queued on a worker's connection; it is
    /// lost if that worker dies before reading it.
    pub async fn notify(&self, job: W) -> Result<(), Error> {
        self.notify_on(None, job).await
    }

    /// [`notify`](Self::notify) to every worker running now, the job encoded once.
    pub(crate) async fn notify_all(&self, job: W) -> Vec<(usize, Result<(), Error>)> {
        let workers = self.workers();
        let frame = match self.encode(&ToWorker::Notify, &job) {
            Ok(frame) => frame,
            Err(err) => return workers.iter().map(|w| (w.id, Err(err.clone()))).collect(),
        };
        drop(job);
        let sends = workers.into_iter().map(|worker| {
            let frame = frame
                .try_clone()
                .map_err(|err| Error::Encode(Arc::new(err)));
            async move {
                let sent = match frame {
                    Ok(frame) => self.send_oneway_to(Some(worker.id), frame).await,
                    Err(err) => Err(err),
                };
                (worker.id, sent)
            }
        });
        futures_util::future::join_all(sends).await
    }

    /// [`notify`](Self::notify), to the worker in slot `worker` if there is one.
    pub(crate) async fn notify_on(&self, worker: Option<usize>, job: W) -> Result<(), Error> {
        let frame = self.encode(&ToWorker::Notify, &job)?;
        drop(job);
        self.send_oneway_to(worker, frame).await
    }

    /// Queues the one-way `frame` on a worker's connection (`worker`'s, if given).
    async fn send_oneway_to(&self, worker: Option<usize>, mut frame: Encoded) -> Result<(), Error> {
        loop {
            let lease = self.inner.sv.scheduler.checkout(worker, true).await?;
            match lease.conn().send_oneway(frame) {
                Ok(()) => return Ok(()),
                Err(back) => frame = back,
            }
        }
    }

    /// Like [`send`](Self::send), under `policy`: time limits for each attempt and a number of
    /// retries after a worker crash (for jobs that are safe to run twice).
    pub async fn send_with(&self, job: W, policy: Policy) -> Result<R, Error> {
        self.request_with(job, None, true, policy).await
    }

    /// Like [`send`](Self::send), but to the worker in slot `worker` (see
    /// [`workers`](Self::workers)). Waits while that worker is busy or being restarted; fails
    /// with [`Error::NoSuchWorker`] for a slot the set does not have.
    pub async fn send_to(&self, worker: usize, job: W) -> Result<R, Error> {
        self.request_with(job, Some(worker), true, Policy::default())
            .await
    }

    /// Sends `job` to every worker running now and returns each one's outcome, by slot id.
    /// The job is encoded once and the same bytes go to every worker (so `W` need not be
    /// `Clone`); each copy waits for its worker like [`send_to`](Self::send_to).
    ///
    /// ```no_run
    /// # async fn _demo(workers: ipc2::host::WorkerSet<tokio::net::UnixListener, u64, String>) {
    /// for (worker, outcome) in workers.broadcast("reload-config".to_owned()).await {
    ///     println!("worker {worker}: {outcome:?}");
    /// }
    /// # }
    /// ```
    pub async fn broadcast(&self, job: W) -> Vec<(usize, Result<R, Error>)> {
        self.broadcast_with(job, Policy::default()).await
    }

    /// A view of this set whose calls each run on every worker running now: for the clients
    /// `#[ipc2::service]` generates, `workers.on_all().set_quality(7).await` gives each worker's
    /// result by slot id (one-way methods are sent to each). See [`OnAll`].
    pub fn on_all(&self) -> OnAll<'_, S, R, W, E> {
        OnAll::new(self)
    }

    /// [`broadcast`](Self::broadcast), each copy under `policy` (its time limits, and its
    /// retries on that copy's worker).
    pub(crate) async fn broadcast_with(
        &self,
        job: W,
        policy: Policy,
    ) -> Vec<(usize, Result<R, Error>)> {
        let workers = self.workers();
        let frame = match self.encode(&ToWorker::Request { id: 0 }, &job) {
            Ok(frame) => frame,
            Err(err) => return workers.iter().map(|w| (w.id, Err(err.clone()))).collect(),
        };
        drop(job);
        let calls = workers.into_iter().map(|worker| {
            let id = self.inner.next_id();
            let frame = frame
                .reframe(&ToWorker::Request { id }, self.max_frame_len())
                .map_err(|err| Error::Encode(Arc::new(err)));
            async move {
                let outcome = match frame {
                    Ok(frame) => {
                        self.request_frame(id, frame, Some(worker.id), true, policy)
                            .await
                    }
                    Err(err) => Err(err),
                };
                (worker.id, outcome)
            }
        });
        futures_util::future::join_all(calls).await
    }

    /// Runs `job` under `policy`: each attempt with the policy's time limits, and after a worker
    /// crash (and only then) up to `policy.retries` more attempts on a fresh request id.
    pub(crate) async fn request_with(
        &self,
        job: W,
        target: Option<usize>,
        queue: bool,
        policy: Policy,
    ) -> Result<R, Error> {
        let id = self.inner.next_id();
        let frame = self.encode(&ToWorker::Request { id }, &job)?;
        drop(job);
        self.request_frame(id, frame, target, queue, policy).await
    }

    /// [`request_with`](Self::request_with) for a job already encoded as request `id`.
    async fn request_frame(
        &self,
        mut id: u64,
        mut frame: Encoded,
        target: Option<usize>,
        queue: bool,
        policy: Policy,
    ) -> Result<R, Error> {
        let mut retries = policy.retries;
        loop {
            // Only a call that may be retried keeps a copy of its frame.
            let spare = match retries {
                0 => None,
                _ => Some(
                    frame
                        .try_clone()
                        .map_err(|err| Error::Encode(Arc::new(err)))?,
                ),
            };
            match (self.attempt(id, frame, target, queue, policy).await, spare) {
                (Err(Error::WorkerExited(exit)), Some(spare)) => {
                    retries -= 1;
                    tracing::debug!("ipc2: retrying an idempotent job after: {exit}");
                    id = self.inner.next_id();
                    frame = spare
                        .reframe(&ToWorker::Request { id }, self.max_frame_len())
                        .map_err(|err| Error::Encode(Arc::new(err)))?;
                }
                (outcome, _) => return outcome,
            }
        }
    }

    /// One attempt at request `id`, whose encoded frame is `frame`: it waits for a worker for at
    /// most the queue timeout, and then runs for at most the time limit.
    async fn attempt(
        &self,
        id: u64,
        frame: Encoded,
        target: Option<usize>,
        queue: bool,
        policy: Policy,
    ) -> Result<R, Error> {
        let config = &self.inner.sv.config;
        let limit = policy.timeout.or(config.default_timeout);
        let queue_limit = policy.queue_timeout.or(config.queue_timeout);
        let quarantine = self
            .inner
            .quarantine
            .as_ref()
            .map(|quarantine| (quarantine, Quarantine::key(&frame.frame)));
        if let Some((quarantine, key)) = quarantine {
            quarantine.admit(key)?;
        }
        // The clock is read for the debug event only: on a busy set it is a measurable cost.
        let timed = tracing::enabled!(tracing::Level::DEBUG);
        let queued_at = timed.then(Instant::now);
        let conn = self
            .admit(id, frame, target, queue, queue_limit, None)
            .await?;
        let reply = conn.reply(id);
        // The time limit counts from here, where the job is on its way to the worker.
        let sent = limit.map(|_| Instant::now());
        let sent_at = timed.then(Instant::now);
        // From here on the request is on the worker: if this future is dropped, or times out
        // without a restart, the worker is told so it can stop working on it.
        let mut cancel = CancelOnDrop {
            conn: &conn,
            id,
            armed: true,
        };
        let replied = match (limit, sent) {
            (Some((timeout, _)), Some(sent)) => within(Some(sent + timeout), reply).await,
            _ => Some(reply.await),
        };
        let outcome = match replied {
            Some(outcome) => {
                cancel.armed = false;
                outcome
            }
            None => {
                let (limit, action) = limit.unwrap_or((Duration::ZERO, TimeoutAction::Error));
                if action == TimeoutAction::Restart {
                    cancel.armed = false;
                    // A runaway that had its worker to itself is what got the worker killed.
                    let alone = conn.in_flight() == 1;
                    conn.kill(ExitCause::Timeout);
                    if let Some((quarantine, key)) = quarantine.filter(|_| alone) {
                        quarantine.crashed(key);
                    }
                }
                return Err(Error::Timeout {
                    worker: conn.id.slot,
                    limit,
                    ran_for: sent.map_or(Duration::ZERO, |sent| sent.elapsed()),
                    action,
                });
            }
        };
        if let Some((quarantine, key)) = quarantine {
            match &outcome {
                Outcome::Exited { exit, alone } if Quarantine::blames(exit, *alone) => {
                    quarantine.crashed(key)
                }
                Outcome::Exited { .. } => {}
                _ => quarantine.survived(key),
            }
        }
        let answered = matches!(outcome, Outcome::Reply { .. });
        if let (Some(queued_at), Some(sent_at)) = (queued_at, sent_at) {
            tracing::debug!(
                id,
                worker = conn.id.slot,
                queue_wait = ?sent_at - queued_at,
                run_time = ?sent_at.elapsed(),
                answered,
                "ipc2 job done"
            );
        }
        match outcome {
            Outcome::Reply {
                payload,
                body_at,
                fds,
            } => ipc2_common::fd::receiving(fds, || decode_reply(&conn, &payload[body_at..])),
            Outcome::Failed(reason) => Err(Error::Remote { reason }),
            Outcome::Exited { exit, .. } => Err(Error::WorkerExited(exit)),
            Outcome::Gone => Err(Error::TasksGone),
            // Not reached: a slot that is not a stream's refuses `End`, which makes the worker
            // a protocol violator instead.
            Outcome::End => Err(Error::TasksGone),
        }
    }

    /// Waits for a worker for at most `queue_limit` and sends it request `id` (a streaming call
    /// with a window of `window` items, if given); returns the connection the call runs on.
    async fn admit(
        &self,
        id: u64,
        mut frame: Encoded,
        target: Option<usize>,
        queue: bool,
        queue_limit: Option<Duration>,
        window: Option<u32>,
    ) -> Result<Arc<Conn>, Error> {
        // One wait, however often the call is handed a worker that turns out to be closing.
        let queued_since = Instant::now();
        let queue_deadline = queue_limit.map(|limit| queued_since + limit);
        loop {
            let lease = match self.inner.sv.scheduler.try_checkout(target, queue)? {
                Checkout::Now(lease) => lease,
                Checkout::Queued(waiting) => within(queue_deadline, waiting)
                    .await
                    .ok_or_else(|| Error::QueueTimeout {
                        waited: queued_since.elapsed(),
                    })?
                    .unwrap_or(Err(Error::Shutdown))?,
            };
            let submitted = match window {
                None => lease.submit(id, frame),
                Some(window) => lease.submit_stream(id, frame, window),
            };
            match submitted {
                Ok(conn) => return Ok(conn),
                // That worker is closing; nothing was sent, so try another.
                Err(back) => frame = back,
            }
        }
    }

    /// Sends `job` to a worker that answers it with a stream of replies, and returns the stream
    /// once the job is on its way (after waiting for a free worker, as [`send`](Self::send)
    /// does). The worker answers with `ReplySender::into_stream`;
    /// a worker that answers with one reply gives a stream of that one item.
    ///
    /// The stream holds its worker's place until it ends, like any call, so a set runs at most
    /// its capacity of streams at once. At most the builder's
    /// [`stream_window`](crate::WorkerSetBuilder::stream_window) items are buffered: the worker
    /// waits while its reader is behind. The set's
    /// [`default_timeout`](crate::WorkerSetBuilder::default_timeout) bounds the whole stream.
    /// Dropping the stream cancels the call on the worker.
    pub async fn send_stream(&self, job: W) -> Result<ReplyStream<R>, Error> {
        self.stream_with(job, None, Policy::default(), Box::new(decode_reply::<R>))
            .await
    }

    /// [`send_stream`](Self::send_stream) to worker `target` if given, under `policy`, each item
    /// made by `decode`.
    pub(crate) async fn stream_with<T>(
        &self,
        job: W,
        target: Option<usize>,
        policy: Policy,
        decode: Decode<T>,
    ) -> Result<ReplyStream<T>, Error> {
        let id = self.inner.next_id();
        let frame = self.encode(&ToWorker::Stream { id }, &job)?;
        drop(job);
        self.stream_frame(id, frame, target, policy, decode).await
    }

    /// A streaming call on every worker running now, the job encoded once; each stream's
    /// items made by a `decode` of its own.
    pub(crate) async fn broadcast_stream<T>(
        &self,
        job: W,
        policy: Policy,
        decode: impl Fn() -> Decode<T>,
    ) -> Vec<(usize, Result<ReplyStream<T>, Error>)> {
        let workers = self.workers();
        let frame = match self.encode(&ToWorker::Stream { id: 0 }, &job) {
            Ok(frame) => frame,
            Err(err) => return workers.iter().map(|w| (w.id, Err(err.clone()))).collect(),
        };
        drop(job);
        let streams = workers.into_iter().map(|worker| {
            let id = self.inner.next_id();
            let frame = frame
                .reframe(&ToWorker::Stream { id }, self.max_frame_len())
                .map_err(|err| Error::Encode(Arc::new(err)));
            let decode = decode();
            async move {
                let stream = match frame {
                    Ok(frame) => {
                        self.stream_frame(id, frame, Some(worker.id), policy, decode)
                            .await
                    }
                    Err(err) => Err(err),
                };
                (worker.id, stream)
            }
        });
        futures_util::future::join_all(streams).await
    }

    /// [`stream_with`](Self::stream_with) for a job already encoded as request `id`.
    async fn stream_frame<T>(
        &self,
        id: u64,
        frame: Encoded,
        target: Option<usize>,
        policy: Policy,
        decode: Decode<T>,
    ) -> Result<ReplyStream<T>, Error> {
        let config = &self.inner.sv.config;
        let limit = policy.timeout.or(config.default_timeout);
        let queue_limit = policy.queue_timeout.or(config.queue_timeout);
        let window = config.stream_window;
        let conn = self
            .admit(id, frame, target, true, queue_limit, Some(window))
            .await?;
        Ok(ReplyStream::new(
            conn,
            id,
            window,
            (limit, policy.item_timeout),
            decode,
        ))
    }

    /// Encodes `job` under `header`, with the file descriptors it carries; fails if it
    /// carries any and the set's transport cannot pass them.
    fn encode(&self, header: &ToWorker, job: &W) -> Result<Encoded, Error> {
        let encoded = codec::encode(header, Some(job), self.max_frame_len())
            .map_err(|err| Error::Encode(Arc::new(err)))?;
        if !encoded.fds.is_empty() && !S::PASSES_FDS {
            let count = encoded.fds.len();
            return Err(Error::Encode(Arc::new(ipc2_common::Error::CannotPassFds {
                count,
            })));
        }
        Ok(encoded)
    }

    fn max_frame_len(&self) -> usize {
        self.inner.sv.config.max_frame_len
    }
}

/// Decodes a reply (or a stream item) of type `R`. One that does not decode is a protocol
/// violation: its worker is killed and replaced.
pub(crate) fn decode_reply<R: DeserializeOwned>(conn: &Conn, body: &[u8]) -> Result<R, Error> {
    codec::decode_body::<R>(body).map_err(|source| {
        let expected = type_name::<R>();
        conn.kill(ExitCause::ProtocolViolation(format!(
            "its reply is not a valid {expected}"
        )));
        Error::Decode {
            worker: conn.id.slot,
            expected,
            source: Arc::new(source),
        }
    })
}

/// Sends `Cancel` for request `id` when dropped while armed.
struct CancelOnDrop<'a> {
    conn: &'a Conn,
    id: u64,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.conn.cancel(self.id);
        }
    }
}

/// Runs `future` until `deadline`, if there is one; `None` if the deadline came first.
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        None => Some(future.await),
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
    }
}
