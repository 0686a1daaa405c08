//! Cancellation of requests the host gave up on.
//!
//! The reader gives each request a [`Flag`] as it hands the request out, and raises it when a
//! `Cancel` frame names that request. The table of flags belongs to the reader alone, so
//! registering costs no lock; the entries of requests that have been answered are swept out
//! whenever the table has doubled since the last sweep.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ipc2_common::id_map::IdMap;
use tokio::sync::Notify;

/// Whether the host gave up on one request.
#[derive(Debug, Default)]
pub(crate) struct Flag {
    raised: AtomicBool,
    notify: Notify,
}

impl Flag {
    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Completes once the flag is raised.
    pub(crate) async fn raised(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }

    fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }
}

/// The flags of the requests handed out, by id.
#[derive(Debug)]
pub(crate) struct Flags {
    by_id: IdMap<Arc<Flag>>,
    sweep_at: usize,
}

/// The table is first swept once it holds this many entries.
const FIRST_SWEEP: usize = 64;

impl Default for Flags {
    fn default() -> Self {
        Self {
            by_id: IdMap::default(),
            sweep_at: FIRST_SWEEP,
        }
    }
}

impl Flags {
    /// A new flag for request `id`.
    pub(crate) fn register(&mut self, id: u64) -> Arc<Flag> {
        if self.by_id.len() >= self.sweep_at {
            // Only the table still holds the flag of a request that was answered.
            self.by_id.retain(|_, flag| Arc::strong_count(flag) > 1);
            self.sweep_at = (self.by_id.len() * 2).max(FIRST_SWEEP);
        }
        let flag = Arc::new(Flag::default());
        self.by_id.insert(id, flag.clone());
        flag
    }

    /// Raises the flag of request `id`, if it is still being worked on.
    pub(crate) fn cancel(&mut self, id: u64) {
        if let Some(flag) = self.by_id.remove(&id) {
            flag.raise();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancel_raises_only_its_own_flag_and_wakes_its_waiter() {
        let mut flags = Flags::default();
        let one = flags.register(1);
        let two = flags.register(2);
        let waiter = tokio::spawn({
            let one = one.clone();
            async move { one.raised().await }
        });
        flags.cancel(1);
        waiter.await.unwrap();
        assert!(one.is_raised());
        assert!(!two.is_raised());
    }

    #[test]
    fn flags_of_answered_requests_are_swept_out() {
        let mut flags = Flags::default();
        let held: Vec<_> = (0..10).map(|id| flags.register(id)).collect();
        for id in 10..10_000 {
            drop(flags.register(id));
        }
        assert!(flags.by_id.len() < 2 * FIRST_SWEEP + held.len());
        flags.cancel(3);
        assert!(held[3].is_raised());
    }
}
