//! The calls in flight on one connection, and where the reply loop leaves each one's outcome.
//!
//! A call has a slot under its request id from [`ReplySlots::insert`] until its caller takes the
//! outcome. The reply loop puts the outcome in the slot and wakes the caller
//! ([`ReplySlots::complete`]); the caller's [`Reply`] future takes it out. Both sides meet under one
//! lock in one map, so a call costs a few short critical sections and no allocation of its own,
//! where a channel per call would cost an allocation and several atomic handshakes on the hot
//! path.
//!
//! A caller that gives up (drops its [`Reply`]) leaves its slot behind, marked abandoned, until
//! the worker answers: the answer is still recognised as one the worker owed, and only then is
//! the worker's capacity for that call given back. A second answer, or one for an id the worker
//! was never sent, finds no slot waiting and is reported as a protocol violation.
//!
//! A streaming call's slot also holds the items that arrived and wait to be read, at most its
//! window of them (the worker sends no more than the host's credits allow, so more is a protocol
//! violation); its outcome, [`Outcome::End`] or any other, comes after the last item.
//!
//! The slots also hold the connection's one admission flag: open, retiring (a worker being
//! replaced takes no new call but answers those it runs) or closed ([`ReplySlots::close`]).
//!
//! When the connection ends, [`ReplySlots::close`] stops new calls, and the calls still unanswered
//! are failed once the supervisor knows how the worker ended ([`Unanswered::fail`]), or, if that
//! never happens, with [`Outcome::Gone`].

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use ipc2_common::id_map::IdMap;
use tokio::sync::Notify;

use crate::error::WorkerExit;

/// How a call on a worker ended, as delivered to its caller.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The reply frame's payload; the body starts at `body_at`. `fds` are the file descriptors
    /// it carries (see `ipc2_common::fd`), usually none.
    Reply {
        payload: Bytes,
        body_at: usize,
        fds: Vec<std::os::fd::OwnedFd>,
    },
    /// The worker failed the request, with its reason.
    Failed(String),
    /// The worker ended the stream that answers a streaming call.
    End,
    /// The worker died first; `alone` if this was the only call it was running.
    Exited { exit: Arc<WorkerExit>, alone: bool },
    /// The connection was torn down without a report on the worker: its supervisor's task is
    /// gone (the runtime that ran it has shut down).
    Gone,
}

/// The calls in flight on one connection. See the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct ReplySlots {
    state: Mutex<State>,
    /// [`OPEN`], [`RETIRING`] or [`CLOSED`]; changed only under the lock, read without it.
    phase: AtomicU8,
    /// Woken when the last unanswered call is answered.
    idle: Notify,
}

/// New calls are taken.
const OPEN: u8 = 0;
/// No new call is taken; answers to the calls in flight are.
const RETIRING: u8 = 1;
/// Nothing is taken: the connection has ended.
const CLOSED: u8 = 2;

#[derive(Debug, Default)]
struct State {
    slots: IdMap<Slot>,
    /// How many slots still wait for the worker's answer.
    unanswered: usize,
}

#[derive(Debug, Default)]
struct Slot {
    outcome: Option<Outcome>,
    waker: Option<Waker>,
    /// The caller gave up: nobody will take the outcome.
    abandoned: bool,
    /// For a streaming call, the items not yet read.
    items: Option<Items>,
}

/// The items of a streaming call that arrived and wait to be read.
#[derive(Debug)]
struct Items {
    queue: VecDeque<(Bytes, usize)>,
    /// The most that may wait: the call's window.
    window: usize,
}

/// What a streaming call has next for its reader.
#[derive(Debug)]
pub(crate) enum Next {
    /// An item: its frame's payload, where the body starts, and the file descriptors it
    /// carries (only a plain reply, taken as the one item, may carry any).
    Item {
        payload: Bytes,
        body_at: usize,
        fds: Vec<std::os::fd::OwnedFd>,
    },
    /// The stream is over, with this outcome ([`Outcome::End`] if it ended normally).
    Done(Outcome),
}

impl ReplySlots {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn phase(&self) -> u8 {
        self.phase.load(Ordering::Acquire)
    }

    /// Whether new calls are taken.
    pub(crate) fn is_open(&self) -> bool {
        self.phase() == OPEN
    }

    /// How many calls wait for the worker's answer (abandoned ones included).
    pub(crate) fn in_flight(&self) -> usize {
        self.state().unanswered
    }

    /// Takes no new call from now on, but still the answers to those in flight.
    pub(crate) fn retire(&self) {
        let _state = self.state();
        if self.phase() == OPEN {
            self.phase.store(RETIRING, Ordering::Release);
        }
    }

    /// Opens a slot for call `id`. False once the connection takes no new calls.
    pub(crate) fn insert(&self, id: u64) -> bool {
        self.insert_slot(id, Slot::default())
    }

    /// Opens a slot for streaming call `id`, which may hold `window` unread items.
    pub(crate) fn insert_stream(&self, id: u64, window: usize) -> bool {
        let items = Items {
            queue: VecDeque::new(),
            window,
        };
        self.insert_slot(
            id,
            Slot {
                items: Some(items),
                ..Slot::default()
            },
        )
    }

    fn insert_slot(&self, id: u64, slot: Slot) -> bool {
        let mut state = self.state();
        if self.phase() != OPEN {
            return false;
        }
        state.slots.insert(id, slot);
        state.unanswered += 1;
        true
    }

    /// Queues an item of streaming call `id` for its reader. False if no streaming call `id`
    /// is running here, or it already holds its window of unread items.
    pub(crate) fn push_item(&self, id: u64, payload: Bytes, body_at: usize) -> bool {
        let waker = {
            let mut state = self.state();
            let Some(slot) = state.slots.get_mut(&id).filter(|s| s.outcome.is_none()) else {
                return false;
            };
            let abandoned = slot.abandoned;
            let Some(items) = slot.items.as_mut() else {
                return false;
            };
            if items.queue.len() >= items.window {
                return false;
            }
            if abandoned {
                return true;
            }
            items.queue.push_back((payload, body_at));
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The next item of streaming call `id`, or its outcome once every item has been read.
    pub(crate) fn poll_next(&self, id: u64, cx: &mut Context<'_>) -> Poll<Next> {
        let mut state = self.state();
        let Entry::Occupied(mut entry) = state.slots.entry(id) else {
            return Poll::Ready(Next::Done(Outcome::Gone));
        };
        let slot = entry.get_mut();
        if let Some((payload, body_at)) = slot.items.as_mut().and_then(|i| i.queue.pop_front()) {
            return Poll::Ready(Next::Item {
                payload,
                body_at,
                fds: Vec::new(),
            });
        }
        match slot.outcome.take() {
            // A plain reply to a streaming call is a stream of that one item.
            Some(Outcome::Reply {
                payload,
                body_at,
                fds,
            }) => {
                slot.outcome = Some(Outcome::End);
                Poll::Ready(Next::Item {
                    payload,
                    body_at,
                    fds,
                })
            }
            Some(outcome) => {
                entry.remove();
                Poll::Ready(Next::Done(outcome))
            }
            None => {
                match &mut slot.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    waker => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }

    /// How many items of streaming call `id` wait to be read.
    pub(crate) fn buffered(&self, id: u64) -> usize {
        self.state()
            .slots
            .get(&id)
            .and_then(|slot| slot.items.as_ref())
            .map_or(0, |items| items.queue.len())
    }

    /// The outcome of call `id`, for a caller that has just [`insert`](Self::insert)ed it.
    pub(crate) fn reply(&self, id: u64) -> Reply<'_> {
        Reply {
            calls: self,
            id,
            done: false,
        }
    }

    /// Delivers the outcome of call `id` and wakes its caller. False if no call `id` is waiting
    /// for an answer here.
    pub(crate) fn complete(&self, id: u64, outcome: Outcome) -> bool {
        let (waker, now_idle) = {
            let mut state = self.state();
            if self.phase() == CLOSED {
                return false;
            }
            let Some(slot) = state.slots.get_mut(&id).filter(|s| s.outcome.is_none()) else {
                return false;
            };
            // Only a stream ends with `End`.
            if matches!(outcome, Outcome::End) && slot.items.is_none() {
                return false;
            }
            let waker = if slot.abandoned {
                state.slots.remove(&id);
                None
            } else {
                slot.outcome = Some(outcome);
                slot.waker.take()
            };
            state.unanswered -= 1;
            (waker, state.unanswered == 0)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        if now_idle {
            self.idle.notify_waiters();
        }
        true
    }

    fn poll_outcome(&self, id: u64, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut state = self.state();
        let Entry::Occupied(mut slot) = state.slots.entry(id) else {
            return Poll::Ready(Outcome::Gone);
        };
        if slot.get().outcome.is_some() {
            return Poll::Ready(slot.remove().outcome.unwrap_or(Outcome::Gone));
        }
        match &mut slot.get_mut().waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The caller of `id` gave up: its outcome (and a stream's items), now or later, go
    /// nowhere.
    pub(crate) fn abandon(&self, id: u64) {
        let mut state = self.state();
        if let Some(slot) = state.slots.get_mut(&id) {
            if slot.outcome.is_some() {
                state.slots.remove(&id);
            } else {
                slot.abandoned = true;
                slot.waker = None;
                if let Some(items) = &mut slot.items {
                    items.queue.clear();
                }
            }
        }
    }

    /// Completes once no call waits for the worker's answer (or the connection is closed).
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            {
                let state = self.state();
                if self.phase() == CLOSED || state.unanswered == 0 {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Takes no new calls from now on, and returns the ones still waiting for an answer, to be
    /// failed once it is known how the worker ended.
    pub(crate) fn close(&self) -> Unanswered<'_> {
        let state = self.state();
        self.phase.store(CLOSED, Ordering::Release);
        Unanswered {
            calls: self,
            count: state.unanswered,
            failed: false,
        }
    }

    /// Ends every unanswered call with `outcome()`.
    fn fail_unanswered(&self, outcome: impl Fn() -> Outcome) {
        let mut wakers = Vec::new();
        {
            let mut state = self.state();
            state.slots.retain(|_, slot| {
                if slot.outcome.is_some() {
                    return true;
                }
                if slot.abandoned {
                    return false;
                }
                slot.outcome = Some(outcome());
                wakers.extend(slot.waker.take());
                true
            });
            state.unanswered = 0;
        }
        wakers.into_iter().for_each(Waker::wake);
        self.idle.notify_waiters();
    }
}

/// The calls a closed connection left unanswered. Fail them with [`fail`](Self::fail); dropped
/// without that, they end with [`Outcome::Gone`], so no caller waits forever.
#[derive(Debug)]
#[must_use = "unanswered calls must be failed"]
pub(crate) struct Unanswered<'a> {
    calls: &'a ReplySlots,
    count: usize,
    failed: bool,
}

impl Unanswered<'_> {
    /// How many calls were left unanswered (abandoned ones included).
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Ends each unanswered call with `Outcome::Exited` carrying `exit`.
    pub(crate) fn fail(mut self, exit: &Arc<WorkerExit>) {
        self.failed = true;
        let alone = self.count == 1;
        self.calls.fail_unanswered(|| Outcome::Exited {
            exit: exit.clone(),
            alone,
        });
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.failed {
            self.calls.fail_unanswered(|| Outcome::Gone);
        }
    }
}

/// The outcome of one call, once there is one. Dropping it first abandons the call (see the
/// [module docs](self)).
#[derive(Debug)]
#[must_use = "a Reply does nothing unless awaited"]
pub(crate) struct Reply<'a> {
    calls: &'a ReplySlots,
    id: u64,
    done: bool,
}

impl Future for Reply<'_> {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        let outcome = this.calls.poll_outcome(this.id, cx);
        this.done = outcome.is_ready();
        outcome
    }
}

impl Drop for Reply<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.calls.abandon(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    fn reply(text: &str) -> Outcome {
        Outcome::Failed(text.into())
    }

    fn failed(outcome: Outcome) -> String {
        match outcome {
            Outcome::Failed(text) => text,
            other => panic!("not a failure: {other:?}"),
        }
    }

    #[tokio::test]
    async fn each_caller_gets_its_own_outcome_in_any_order() {
        let calls = ReplySlots::default();
        assert!(calls.insert(1) && calls.insert(2));
        let (one, two) = (calls.reply(1), calls.reply(2));
        assert!(calls.complete(2, reply("two")));
        assert!(calls.complete(1, reply("one")));
        assert_eq!(failed(two.await), "two");
        assert_eq!(failed(one.await), "one");
        assert!(calls.state().slots.is_empty());
    }

    #[tokio::test]
    async fn a_waiting_caller_is_woken_by_its_outcome() {
        let calls = Arc::new(ReplySlots::default());
        assert!(calls.insert(7));
        let waiter = tokio::spawn({
            let calls = calls.clone();
            async move { failed(calls.reply(7).await) }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        assert!(calls.complete(7, reply("seven")));
        assert_eq!(waiter.await.unwrap(), "seven");
    }

    #[tokio::test]
    async fn unknown_and_second_answers_are_refused() {
        let calls = ReplySlots::default();
        assert!(!calls.complete(1, reply("never asked")));
        assert!(calls.insert(1));
        let pending = calls.reply(1);
        assert!(calls.complete(1, reply("first")));
        assert!(
            !calls.complete(1, reply("second")),
            "answered, not yet taken"
        );
        assert_eq!(failed(pending.await), "first");
        assert!(!calls.complete(1, reply("third")), "answered and taken");
    }

    #[tokio::test]
    async fn an_abandoned_call_still_expects_its_answer_and_then_is_gone() {
        let calls = ReplySlots::default();
        assert!(calls.insert(3));
        let mut pending = Box::pin(calls.reply(3));
        assert!(
            poll_fn(|cx| Poll::Ready(pending.as_mut().poll(cx).is_pending())).await,
            "no outcome yet"
        );
        drop(pending);
        assert_eq!(calls.state().unanswered, 1, "the worker still runs it");
        assert!(calls.complete(3, reply("late")));
        assert!(calls.state().slots.is_empty());
        assert!(!calls.complete(3, reply("again")));
    }

    #[tokio::test]
    async fn idle_waits_for_the_last_answer_not_for_the_caller() {
        let calls = Arc::new(ReplySlots::default());
        assert!(calls.insert(1) && calls.insert(2));
        let idle = tokio::spawn({
            let calls = calls.clone();
            async move { calls.idle().await }
        });
        calls.complete(1, reply("one"));
        tokio::task::yield_now().await;
        assert!(!idle.is_finished());
        calls.complete(2, reply("two"));
        idle.await.unwrap();
        // Answered but not yet taken does not count as running.
        assert_eq!(calls.state().slots.len(), 2);
    }

    #[tokio::test]
    async fn closing_fails_the_unanswered_and_keeps_the_answered() {
        let calls = ReplySlots::default();
        for id in 1..=3 {
            assert!(calls.insert(id));
        }
        let (one, two) = (calls.reply(1), calls.reply(2));
        drop(calls.reply(3));
        calls.complete(1, reply("one"));
        let unanswered = calls.close();
        assert_eq!(unanswered.count(), 2);
        assert!(!calls.insert(4), "closed");
        assert!(!calls.complete(2, reply("too late")));
        drop(unanswered);
        assert_eq!(failed(one.await), "one");
        assert!(matches!(two.await, Outcome::Gone));
        assert!(calls.state().slots.is_empty());
        calls.idle().await;
    }

    #[tokio::test]
    async fn a_retiring_connection_takes_no_new_call_but_answers_its_own() {
        let calls = ReplySlots::default();
        assert!(calls.insert(1));
        let one = calls.reply(1);
        calls.retire();
        assert!(!calls.is_open());
        assert!(!calls.insert(2), "retiring: no new call");
        assert!(
            calls.complete(1, reply("one")),
            "but the call in flight is answered"
        );
        assert_eq!(failed(one.await), "one");
        calls.idle().await;
    }
}
