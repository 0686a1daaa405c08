//! Flow control of streaming answers: how many more items each stream may send.
//!
//! The host grants items with `Credit` frames (its window right after the request, then more as
//! its caller reads), the reader adds them here, and a stream's sender takes one per item,
//! waiting while it has none: a worker producing faster than its host reads is held back, and the
//! host's memory stays bounded by the window. A grant can cross the stream's end on the wire and
//! leave a count nobody takes; the map keeps at most [`MAX_STREAMS`] of them and forgets the oldest
//! request first.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// The most streams whose credit is remembered at once.
const MAX_STREAMS: usize = 4096;

/// The credit of each streaming request.
#[derive(Debug, Default)]
pub(crate) struct Credits {
    left: Mutex<BTreeMap<u64, u64>>,
    notify: Notify,
}

impl Credits {
    fn left(&self) -> MutexGuard<'_, BTreeMap<u64, u64>> {
        self.left.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The host allows request `id` `n` more items.
    pub(crate) fn grant(&self, id: u64, n: u32) {
        let mut left = self.left();
        let credit = left.entry(id).or_default();
        *credit = credit.saturating_add(u64::from(n));
        if left.len() > MAX_STREAMS {
            left.pop_first();
        }
        drop(left);
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

    /// Forgets request `id`, whose stream has ended.
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
    fn grants_nobody_takes_are_forgotten_oldest_first() {
        let credits = Credits::default();
        for id in 0..2 * MAX_STREAMS as u64 {
            credits.grant(id, 1);
        }
        assert_eq!(credits.left().len(), MAX_STREAMS);
        assert!(!credits.try_take(0));
        assert!(credits.try_take(2 * MAX_STREAMS as u64 - 1));
        credits.ended(2 * MAX_STREAMS as u64 - 2);
        assert!(!credits.try_take(2 * MAX_STREAMS as u64 - 2));
    }
}
