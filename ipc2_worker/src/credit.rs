//! Flow control of streaming answers: how many more items each stream may send.
//!
//! The reader opens an entry for each streaming request as it arrives (`Stream` frames are told
//! apart from plain requests on the wire); the host grants items with `Credit` frames (its window
//! right after the request, then more as its caller reads), and a stream's sender takes one per
//! item, waiting while it has none: a worker producing faster than its host reads is held back,
//! and the host's memory stays bounded by the window. The entry goes when the request is answered,
//! so the table holds only the streams running; a grant that crosses a stream's end on the wire
//! finds no entry and is dropped.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// The credit of each streaming request running.
#[derive(Debug, Default)]
pub(crate) struct Credits {
    left: Mutex<HashMap<u64, u64>>,
    notify: Notify,
}

impl Credits {
    fn left(&self) -> MutexGuard<'_, HashMap<u64, u64>> {
        self.left.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Streaming request `id` has arrived; it may send nothing until granted.
    pub(crate) fn open(&self, id: u64) {
        self.left().insert(id, 0);
    }

    /// The host allows request `id` `n` more items.
    pub(crate) fn grant(&self, id: u64, n: u32) {
        if let Some(credit) = self.left().get_mut(&id) {
            *credit = credit.saturating_add(u64::from(n));
        } else {
            return;
        }
        self.notify.notify_waiters();
    }

    /// Takes one item's credit of request `id`, waiting until there is one.
    pub(crate) async fn take(&self, id: u64) {
        loop {
            let notified = self.notify.notified();
            if self.try_take(id) {
                return;
            }
            notified.await;
        }
    }

    fn try_take(&self, id: u64) -> bool {
        match self.left().get_mut(&id) {
            Some(credit) if *credit > 0 => {
                *credit -= 1;
                true
            }
            _ => false,
        }
    }

    /// Forgets request `id`, which has been answered.
    pub(crate) fn ended(&self, id: u64) {
        self.left().remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_stream_sends_only_what_it_was_granted() {
        let credits = Arc::new(Credits::default());
        credits.open(1);
        credits.open(2);
        credits.grant(1, 2);
        credits.take(1).await;
        credits.take(1).await;
        let third = tokio::spawn({
            let credits = credits.clone();
            async move { credits.take(1).await }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished(), "no credit left");
        credits.grant(2, 5);
        tokio::task::yield_now().await;
        assert!(
            !third.is_finished(),
            "another stream's credit is not its own"
        );
        credits.grant(1, 1);
        third.await.unwrap();
    }

    #[test]
    fn grants_for_streams_not_running_are_dropped() {
        let credits = Credits::default();
        credits.grant(7, 10);
        assert!(!credits.try_take(7), "never opened");
        credits.open(8);
        credits.grant(8, 1);
        credits.ended(8);
        credits.grant(8, 1);
        assert!(!credits.try_take(8), "ended");
        assert!(credits.left().is_empty());
    }
}
