//! Many jobs through the set at once, with the number in flight bounded: Python's
//! `executor.map`, for a [`WorkerSet`].

use futures_util::{Stream, StreamExt};
use ipc2_common::Server;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::WorkerSet;
use crate::Error;

impl<S, R, W, E> WorkerSet<S, R, W, E>
where
    S: Server,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + Send + 'static,
{
    /// Runs every job of `jobs` and yields each one's outcome, in the order of `jobs`.
    ///
    /// At most the set's capacity (its workers times
    /// [`max_in_flight_per_worker`](crate::WorkerSetBuilder::max_in_flight_per_worker)) is in
    /// flight at once, and jobs are taken from `jobs` only as room frees up, so a million jobs
    /// from a lazy iterator cost the memory of a few. Each job is a [`send`](Self::send): a
    /// failure is that job's outcome, and the others go on. Dropping the stream cancels the
    /// jobs in flight.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    ///
    /// # async fn _demo(workers: ipc2::WorkerSet<tokio::net::UnixListener, u64, u64>) {
    /// let squares = workers.map(0..1_000_000u64);
    /// futures_util::pin_mut!(squares);
    /// while let Some(square) = squares.next().await {
    ///     println!("{square:?}");
    /// }
    /// # }
    /// ```
    pub fn map<I>(&self, jobs: I) -> impl Stream<Item = Result<R, Error>> + Send + '_
    where
        I: IntoIterator<Item = W>,
        I::IntoIter: Send + 'static,
    {
        futures_util::stream::iter(jobs)
            .map(move |job| self.send(job))
            .buffered(self.capacity())
    }

    /// Like [`map`](Self::map), but yields each outcome as soon as it is there, in the order
    /// the jobs finish, with the index of its job in `jobs`.
    pub fn map_unordered<I>(
        &self,
        jobs: I,
    ) -> impl Stream<Item = (usize, Result<R, Error>)> + Send + '_
    where
        I: IntoIterator<Item = W>,
        I::IntoIter: Send + 'static,
    {
        futures_util::stream::iter(jobs.into_iter().enumerate())
            .map(move |(index, job)| async move { (index, self.send(job).await) })
            .buffer_unordered(self.capacity())
    }

    /// How many jobs the set runs at once: its workers times each one's capacity (at least 1).
    fn capacity(&self) -> usize {
        let workers = self.inner.sv.scheduler.active_slots().len();
        (workers * self.inner.sv.config.max_in_flight).max(1)
    }
}
