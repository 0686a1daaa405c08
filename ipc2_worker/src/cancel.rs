//! Cancellation of requests the host gave up on.
//!
//! Cancelling is rare and answering is not, so a request costs nothing here until the host
//! cancels something: the reader records the id of each `Cancel` frame in a shared set, and a
//! request's [`ReplySender`](crate::ReplySender) looks its own id up only when asked whether it
//! was cancelled, and removes it when it answers. A `Cancel` can cross the answer on the wire,
//! leaving an id nobody will remove; the set therefore keeps at most [`MAX_CANCELLED`] ids and
//! forgets the oldest first.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// The most cancelled ids remembered.
const MAX_CANCELLED: usize = 4096;

/// The ids of the requests the host has cancelled and nobody has answered yet.
#[derive(Debug, Default)]
pub(crate) struct Cancels {
    ids: Mutex<BTreeSet<u64>>,
    /// How many ids the set holds, readable without the lock.
    len: AtomicUsize,
    notify: Notify,
}

impl Cancels {
    fn ids(&self) -> MutexGuard<'_, BTreeSet<u64>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that the host cancelled request `id`, and wakes whoever waits on a cancellation.
    pub(crate) fn cancel(&self, id: u64) {
        let mut ids = self.ids();
        ids.insert(id);
        if ids.len() > MAX_CANCELLED {
            ids.pop_first();
        }
        self.len.store(ids.len(), Ordering::Release);
        drop(ids);
        self.notify.notify_waiters();
    }

    /// Whether request `id` was cancelled.
    pub(crate) fn is_cancelled(&self, id: u64) -> bool {
        self.len.load(Ordering::Acquire) > 0 && self.ids().contains(&id)
    }

    /// Completes once request `id` is cancelled.
    pub(crate) async fn cancelled(&self, id: u64) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled(id) {
                return;
            }
            notified.await;
        }
    }

    /// Forgets request `id`, which has been answered.
    pub(crate) fn answered(&self, id: u64) {
        if self.len.load(Ordering::Acquire) > 0 {
            let mut ids = self.ids();
            ids.remove(&id);
            self.len.store(ids.len(), Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_cancel_reaches_only_its_own_request_and_wakes_its_waiter() {
        let cancels = Arc::new(Cancels::default());
        let waiter = tokio::spawn({
            let cancels = cancels.clone();
            async move { cancels.cancelled(1).await }
        });
        cancels.cancel(1);
        waiter.await.unwrap();
        assert!(cancels.is_cancelled(1));
        assert!(!cancels.is_cancelled(2));
        cancels.answered(1);
        assert!(!cancels.is_cancelled(1));
    }

    #[test]
    fn cancels_nobody_answers_are_forgotten_oldest_first() {
        let cancels = Cancels::default();
        for id in 0..2 * MAX_CANCELLED as u64 {
            cancels.cancel(id);
        }
        assert_eq!(cancels.ids().len(), MAX_CANCELLED);
        assert!(!cancels.is_cancelled(0));
        assert!(cancels.is_cancelled(2 * MAX_CANCELLED as u64 - 1));
    }
}
