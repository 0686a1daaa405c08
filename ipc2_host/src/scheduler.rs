//! Who runs the next job: idle capacity, the FIFO queue of waiting callers, each slot's state,
//! and the set's health.
//!
//! This module owns one rule: **every call takes one unit of a worker's capacity and gives it
//! back exactly once**. Each live worker contributes `max_in_flight` units. A caller takes one as
//! a [`Lease`] ([`Scheduler::checkout`]). [`Lease::submit`] moves the unit into the connection's
//! call; the connection only counts how calls end ([`Ended`]), and the supervisor hands those
//! counts to [`Scheduler::finish`], the one place units come back from a worker. A lease dropped
//! unused gives its unit back itself. A unit returned while callers wait goes to the
//! longest-waiting one. Because a lease gives itself back when dropped, a caller that gives up at
//! any point (a dropped future, a timeout while queued) cannot leak a worker's capacity, and a
//! caller that gave up after its request was sent still leaves that worker busy until its reply is
//! drained, so the next caller never receives a stale reply.
//!
//! The scheduler also knows each worker slot's state. When every slot is failing to start a worker,
//! queued and new callers fail at once with [`Error::NoWorkers`] instead of waiting for a worker
//! that may never come.
//!
//! Nothing here does I/O and the lock is never held across an `.await`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, oneshot};

mod lease;

pub(crate) use self::lease::{Checkout, Lease};
use crate::Error;
use crate::conn::{Conn, Ended};
use crate::stats::{Stats, WorkerState, WorkerStats};

/// The state of one worker slot.
#[derive(Debug, Clone)]
pub(crate) enum SlotState {
    /// A worker is being started (or restarted after dying).
    Starting,
    /// A slot for a worker on another machine waits for one to connect.
    Vacant,
    /// A worker is connected and serving through `conn`.
    Up(Arc<Conn>),
    /// The last attempt to start a worker failed; another follows after a back-off (a slot for
    /// workers on other machines: none came for the startup timeout; it goes on waiting).
    Failing(Arc<Error>),
    /// The slot is being removed by a resize: its worker finishes its jobs and stops.
    Ending,
    /// The slot was removed by a resize; it runs no worker.
    Retired,
    /// The set has shut down; the slot runs no worker.
    Stopped,
}

type Waiter = oneshot::Sender<Result<Lease, Error>>;

#[derive(Debug)]
pub(crate) struct Scheduler {
    state: Mutex<State>,
    queue_capacity: usize,
    idle_again: Notify,
    worker_up: Notify,
}

#[derive(Debug)]
struct State {
    idle: VecDeque<Arc<Conn>>,
    waiters: VecDeque<Waiter>,
    slots: Vec<Slot>,
    /// Why new callers are refused, once they are: [`Error::Shutdown`] or [`Error::TasksGone`].
    closed: Option<Error>,
    throttled: Option<Arc<Error>>,
}

/// One worker slot: its state, its callers waiting for it in particular, and its counters.
#[derive(Debug)]
struct Slot {
    state: SlotState,
    targeted: VecDeque<Waiter>,
    leased: usize,
    jobs_done: u64,
    jobs_failed: u64,
    /// Calls the slot's current worker (the one `Up`) has ended: what recycling counts.
    ended_by_current: u64,
    restarts: u64,
}

impl Slot {
    fn starting() -> Self {
        Self {
            state: SlotState::Starting,
            targeted: VecDeque::new(),
            leased: 0,
            jobs_done: 0,
            jobs_failed: 0,
            ended_by_current: 0,
            restarts: 0,
        }
    }
}

impl State {
    /// Whether slot `worker` was removed by a resize (or is being).
    fn is_retired(&self, worker: usize) -> bool {
        matches!(
            self.slots[worker].state,
            SlotState::Ending | SlotState::Retired | SlotState::Stopped
        )
    }

    fn unhealthy(&self) -> Option<Arc<Error>> {
        let mut last = None;
        for slot in &self.slots {
            match &slot.state {
                SlotState::Failing(err) => last = Some(err.clone()),
                SlotState::Ending | SlotState::Retired | SlotState::Stopped => {}
                _ => return None,
            }
        }
        last
    }

    fn lease_out(&mut self, conn: &Conn) {
        self.slots[conn.id.slot].leased += 1;
    }

    fn lease_back(&mut self, conn: &Conn, units: usize) {
        self.slots[conn.id.slot].leased -= units;
    }

    /// Units held by callers and calls in flight, over every slot.
    fn leased(&self) -> usize {
        self.slots.iter().map(|s| s.leased).sum()
    }

    /// Fails every waiting caller, general and targeted, with `err`.
    fn fail_waiters(&mut self, err: &Error) {
        let targeted = self.slots.iter_mut().flat_map(|s| s.targeted.drain(..));
        for waiter in self.waiters.drain(..).chain(targeted) {
            let _ = waiter.send(Err(err.clone()));
        }
    }

    /// How many callers wait, forgetting those who gave up (a dropped future, a deadline).
    fn waiting(&mut self) -> usize {
        self.waiters.retain(|w| !w.is_closed());
        for slot in &mut self.slots {
            slot.targeted.retain(|w| !w.is_closed());
        }
        self.waiters.len() + self.slots.iter().map(|s| s.targeted.len()).sum::<usize>()
    }
}

impl Scheduler {
    pub(crate) fn new(slots: usize, queue_capacity: usize) -> Self {
        let slots = (0..slots).map(|_| Slot::starting()).collect();
        Self {
            state: Mutex::new(State {
                idle: VecDeque::new(),
                waiters: VecDeque::new(),
                slots,
                closed: None,
                throttled: None,
            }),
            queue_capacity,
            idle_again: Notify::new(),
            worker_up: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a unit of capacity of any worker (`worker` `None`) or of one worker, or, while none
    /// is free, a place in the FIFO queue for one. With `queue` false, fails with [`Error::Busy`]
    /// instead of joining a queue that already holds `queue_capacity` callers.
    pub(crate) fn try_checkout(
        self: &Arc<Self>,
        worker: Option<usize>,
        queue: bool,
    ) -> Result<Checkout, Error> {
        let waiting = {
            let mut state = self.state();
            if let Some(err) = &state.closed {
                return Err(err.clone());
            }
            if let Some(err) = &state.throttled {
                return Err(Error::clone(err));
            }
            let count = state.slots.len();
            if worker.is_some_and(|worker| worker >= count || state.is_retired(worker)) {
                return Err(Error::NoSuchWorker {
                    worker: worker.unwrap_or_default(),
                    count,
                });
            }
            let free = match worker {
                None => state.idle.pop_front(),
                Some(worker) => {
                    let at = state.idle.iter().position(|c| c.id.slot == worker);
                    at.and_then(|at| state.idle.remove(at))
                }
            };
            if let Some(conn) = free {
                state.lease_out(&conn);
                return Ok(Checkout::Now(Lease::new(conn, self)));
            }
            let failing = match worker {
                None => state.unhealthy(),
                Some(worker) => match &state.slots[worker].state {
                    SlotState::Failing(err) => Some(err.clone()),
                    _ => None,
                },
            };
            if let Some(err) = failing {
                return Err(Error::NoWorkers(err));
            }
            if !queue && state.waiting() >= self.queue_capacity {
                return Err(Error::Busy {
                    capacity: self.queue_capacity,
                });
            }
            let (tx, rx) = oneshot::channel();
            match worker {
                None => state.waiters.push_back(tx),
                Some(worker) => state.slots[worker].targeted.push_back(tx),
            }
            rx
        };
        Ok(Checkout::Queued(waiting))
    }

    /// [`try_checkout`](Self::try_checkout), waiting for the unit if queued.
    pub(crate) async fn checkout(
        self: &Arc<Self>,
        worker: Option<usize>,
        queue: bool,
    ) -> Result<Lease, Error> {
        match self.try_checkout(worker, queue)? {
            Checkout::Now(lease) => Ok(lease),
            Checkout::Queued(waiting) => waiting.await.unwrap_or(Err(Error::Shutdown)),
        }
    }

    /// Calls on `conn` ended: counts them and gives their units of capacity back.
    pub(crate) fn finish(self: &Arc<Self>, conn: &Arc<Conn>, ended: Ended) {
        let units = ended.units() as usize;
        if units > 0 {
            self.give_back(conn, ended, units);
        }
    }

    /// How many calls `conn` has ended while it was its slot's current worker.
    pub(crate) fn ended_by(&self, conn: &Arc<Conn>) -> u64 {
        let state = self.state();
        let slot = &state.slots[conn.id.slot];
        match &slot.state {
            SlotState::Up(up) if Arc::ptr_eq(up, conn) => slot.ended_by_current,
            _ => 0,
        }
    }

    /// Gives `units` of `conn`'s capacity back, counting the calls that `ended` with them: each
    /// to the longest waiter for that worker, else the longest general waiter, else the idle
    /// list. Units of a closed connection just disappear.
    pub(super) fn give_back(self: &Arc<Self>, conn: &Arc<Conn>, ended: Ended, units: usize) {
        let mut state = self.state();
        let slot = &mut state.slots[conn.id.slot];
        slot.jobs_done += ended.answered;
        slot.jobs_failed += ended.failed;
        if matches!(&slot.state, SlotState::Up(up) if Arc::ptr_eq(up, conn)) {
            slot.ended_by_current += ended.units();
        }
        state.lease_back(conn, units);
        if conn.is_open() {
            for _ in 0..units {
                self.hand_out(&mut state, conn.clone());
            }
        }
        self.notify_if_drained(&mut state);
    }

    fn hand_out(self: &Arc<Self>, state: &mut State, conn: Arc<Conn>) {
        let worker = conn.id.slot;
        if state.slots[worker].targeted.is_empty() && state.waiters.is_empty() {
            state.idle.push_back(conn);
            return;
        }
        state.lease_out(&conn);
        let mut lease = Lease::new(conn, self);
        while let Some(waiter) = state.slots[worker]
            .targeted
            .pop_front()
            .or_else(|| state.waiters.pop_front())
        {
            match waiter.send(Ok(lease)) {
                Ok(()) => return,
                // That caller gave up; try the next one.
                Err(Ok(back)) => lease = back,
                Err(Err(_)) => unreachable!("only leases are offered"),
            }
        }
        let conn = lease.disarm();
        state.lease_back(&conn, 1);
        state.idle.push_back(conn);
    }

    /// Adds a newly connected worker with `capacity` units and marks its slot up. A clean start
    /// ends a [`throttle`](Self::throttle).
    pub(crate) fn add(self: &Arc<Self>, conn: &Arc<Conn>, capacity: usize) {
        let mut state = self.state();
        state.throttled = None;
        let slot = &mut state.slots[conn.id.slot];
        slot.state = SlotState::Up(conn.clone());
        slot.ended_by_current = 0;
        for _ in 0..capacity {
            self.hand_out(&mut state, conn.clone());
        }
        self.worker_up.notify_waiters();
    }

    /// Completes after the next [`add`](Self::add).
    pub(crate) fn worker_up(&self) -> tokio::sync::futures::Notified<'_> {
        self.worker_up.notified()
    }

    /// Removes a closed connection's idle units.
    pub(crate) fn remove(&self, conn: &Arc<Conn>) {
        self.state().idle.retain(|c| !Arc::ptr_eq(c, conn));
    }

    /// Records a slot's new state. A failing slot fails the callers waiting for it in
    /// particular (a removed one too), and if every slot is failing, every waiting caller.
    pub(crate) fn set_slot(&self, worker: usize, slot: SlotState) {
        let mut state = self.state();
        let count = state.slots.len();
        let refusal = match &slot {
            SlotState::Failing(err) => Some(Error::NoWorkers(err.clone())),
            SlotState::Ending | SlotState::Retired => Some(Error::NoSuchWorker { worker, count }),
            SlotState::Stopped => Some(Error::Shutdown),
            SlotState::Starting | SlotState::Vacant | SlotState::Up(_) => None,
        };
        if let Some(refusal) = refusal {
            for waiter in state.slots[worker].targeted.drain(..) {
                let _ = waiter.send(Err(refusal.clone()));
            }
        }
        state.slots[worker].state = slot;
        if let Some(err) = state.unhealthy() {
            state.fail_waiters(&Error::NoWorkers(err));
        }
        self.notify_if_drained(&mut state);
    }

    fn notify_if_drained(&self, state: &mut State) {
        if state.leased() == 0 && state.waiting() == 0 {
            self.idle_again.notify_waiters();
        }
    }

    /// Slots for `count` more workers: retired ones first, then new ones. Returns their ids,
    /// each now starting.
    pub(crate) fn grow(&self, count: usize) -> Vec<usize> {
        let mut state = self.state();
        let mut ids: Vec<usize> = state
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| matches!(slot.state, SlotState::Retired))
            .map(|(id, _)| id)
            .take(count)
            .collect();
        for id in &ids {
            state.slots[*id].state = SlotState::Starting;
        }
        while ids.len() < count {
            ids.push(state.slots.len());
            state.slots.push(Slot::starting());
        }
        ids
    }

    /// Counts a worker's death, for [`stats`](Self::stats).
    pub(crate) fn count_restart(&self, worker: usize) {
        self.state().slots[worker].restarts += 1;
    }

    /// Refuses every caller, queued or new, with `err` until the next worker starts cleanly.
    pub(crate) fn throttle(&self, err: Error) {
        let mut state = self.state();
        state.fail_waiters(&err);
        state.throttled = Some(Arc::new(err));
        self.notify_if_drained(&mut state);
    }

    /// The slots not removed by a resize, in order.
    pub(crate) fn active_slots(&self) -> Vec<usize> {
        let state = self.state();
        (0..state.slots.len())
            .filter(|&w| !state.is_retired(w))
            .collect()
    }

    /// The state of every slot.
    pub(crate) fn slots(&self) -> Vec<SlotState> {
        self.state().slots.iter().map(|s| s.state.clone()).collect()
    }

    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> Stats {
        let mut state = self.state();
        let queued = state.waiting();
        let workers = state
            .slots
            .iter()
            .enumerate()
            .map(|(id, slot)| {
                let conn = match &slot.state {
                    SlotState::Up(conn) => Some(conn),
                    _ => None,
                };
                let state = match (&slot.state, slot.leased) {
                    (SlotState::Starting, _) => WorkerState::Starting,
                    (SlotState::Vacant, _) => WorkerState::Vacant,
                    (SlotState::Failing(_), _) => WorkerState::Failing,
                    (SlotState::Ending | SlotState::Retired, _) => WorkerState::Retired,
                    (SlotState::Stopped, _) => WorkerState::Stopped,
                    (SlotState::Up(conn), _) if conn.is_killing() => WorkerState::Killing,
                    (SlotState::Up(_), 0) => WorkerState::Idle,
                    (SlotState::Up(_), _) => WorkerState::Busy,
                };
                WorkerStats {
                    id,
                    pid: conn.map(|c| c.id.pid),
                    remote: conn.and_then(|c| c.id.remote.clone()),
                    generation: conn.map(|c| c.id.generation),
                    state,
                    in_flight: slot.leased,
                    jobs_done: slot.jobs_done,
                    jobs_failed: slot.jobs_failed,
                    restarts: slot.restarts,
                    uptime: conn.map(|c| c.uptime()),
                    silent_for: conn.map(|c| c.silent_for()),
                }
            })
            .collect();
        Stats {
            workers,
            queued,
            in_flight: state.leased(),
        }
    }

    /// Refuses new callers; queued ones are still served.
    pub(crate) fn close(&self) {
        self.state().closed.get_or_insert(Error::Shutdown);
    }

    /// Refuses new callers and fails the queued ones: the set has stopped.
    pub(crate) fn shut(&self) {
        self.refuse_all(Error::Shutdown);
    }

    /// Refuses new callers and fails the queued ones with [`Error::TasksGone`]: a supervisor's
    /// task vanished without ending its slot (its runtime shut down), so no worker will come.
    pub(crate) fn abandon(&self) {
        self.refuse_all(Error::TasksGone);
    }

    fn refuse_all(&self, err: Error) {
        let mut state = self.state();
        let err = state.closed.get_or_insert(err).clone();
        state.fail_waiters(&err);
        self.notify_if_drained(&mut state);
    }

    /// Waits until no call is queued or in flight.
    pub(crate) async fn drained(&self) {
        loop {
            let notified = self.idle_again.notified();
            {
                let mut state = self.state();
                if state.leased() == 0 && state.waiting() == 0 {
                    return;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;
    use crate::conn::Identity;

    fn conn(worker: usize) -> Arc<Conn> {
        let (outbox, _) = ipc2_common::outbox::queued();
        let (kill, _) = mpsc::unbounded_channel();
        let id = Identity {
            slot: worker,
            generation: 1,
            pid: 100 + worker as u32,
            remote: None,
        };
        Arc::new(Conn::new(id, outbox, kill, Arc::default(), None))
    }

    fn pool(slots: usize, capacity: usize) -> Arc<Scheduler> {
        Arc::new(Scheduler::new(slots, capacity))
    }

    #[tokio::test]
    async fn dropped_lease_returns_its_unit() {
        let pool = pool(1, 4);
        pool.add(&conn(0), 1);
        let lease = pool.checkout(None, true).await.unwrap();
        let none_free =
            tokio::time::timeout(Duration::from_millis(1), pool.checkout(None, true)).await;
        assert!(none_free.is_err());
        drop(lease);
        assert!(pool.checkout(None, false).await.is_ok());
    }

    #[tokio::test]
    async fn waiters_are_served_in_fifo_order() {
        let pool = pool(1, 8);
        let c = conn(0);
        pool.add(&c, 1);
        let first = pool.checkout(None, true).await.unwrap();
        let mut order = Vec::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..3 {
            let pool = pool.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let lease = pool.checkout(None, true).await.unwrap();
                tx.send(i).unwrap();
                drop(lease);
            });
            tokio::task::yield_now().await;
        }
        drop(first);
        for _ in 0..3 {
            order.push(rx.recv().await.unwrap());
        }
        assert_eq!(order, [0, 1, 2]);
    }

    #[tokio::test]
    async fn a_waiter_that_gave_up_does_not_swallow_the_unit() {
        let pool = pool(1, 8);
        pool.add(&conn(0), 1);
        let first = pool.checkout(None, true).await.unwrap();
        let gave_up =
            tokio::time::timeout(Duration::from_millis(1), pool.checkout(None, true)).await;
        assert!(gave_up.is_err());
        drop(first);
        let again = tokio::time::timeout(Duration::from_secs(5), pool.checkout(None, true)).await;
        assert!(again.unwrap().is_ok());
    }

    #[tokio::test]
    async fn try_checkout_is_busy_only_when_the_queue_is_full() {
        let pool = pool(1, 1);
        pool.add(&conn(0), 1);
        let _held = pool.checkout(None, true).await.unwrap();
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.checkout(None, false).await.map(drop) })
        };
        tokio::task::yield_now().await;
        assert!(matches!(
            pool.checkout(None, false).await,
            Err(Error::Busy { capacity: 1 })
        ));
        queued.abort();
    }

    #[tokio::test]
    async fn closed_connection_units_vanish() {
        let pool = pool(2, 8);
        let (a, b) = (conn(0), conn(1));
        pool.add(&a, 2);
        pool.add(&b, 1);
        let lease = pool.checkout(None, true).await.unwrap();
        assert_eq!(lease.conn().id.slot, 0);
        drop(a.close());
        pool.remove(&a);
        drop(lease);
        let next = pool.checkout(None, true).await.unwrap();
        assert_eq!(next.conn().id.slot, 1);
    }

    #[tokio::test]
    async fn all_slots_failing_fails_waiters_and_new_callers() {
        let pool = pool(2, 8);
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.checkout(None, true).await.map(drop) })
        };
        tokio::task::yield_now().await;
        let err = Arc::new(Error::Config("boom"));
        pool.set_slot(0, SlotState::Failing(err.clone()));
        assert!(!waiter.is_finished());
        pool.set_slot(1, SlotState::Failing(err));
        assert!(matches!(waiter.await.unwrap(), Err(Error::NoWorkers(_))));
        assert!(matches!(
            pool.checkout(None, true).await,
            Err(Error::NoWorkers(_))
        ));
        pool.add(&conn(1), 1);
        assert!(pool.checkout(None, true).await.is_ok());
    }

    #[tokio::test]
    async fn throttling_refuses_everyone_until_a_clean_start() {
        let pool = pool(2, 8);
        let first = conn(0);
        pool.add(&first, 1);
        let _busy = pool.checkout(None, true).await.unwrap();
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.checkout(None, true).await.map(drop) })
        };
        tokio::task::yield_now().await;
        pool.throttle(Error::Quarantined { crashes: 1 });
        assert!(matches!(
            waiter.await.unwrap(),
            Err(Error::Quarantined { .. })
        ));
        assert!(matches!(
            pool.checkout(None, true).await,
            Err(Error::Quarantined { .. })
        ));
        pool.add(&conn(1), 1);
        assert_eq!(pool.checkout(None, true).await.unwrap().conn().id.slot, 1);
    }

    #[tokio::test]
    async fn a_targeted_caller_waits_for_its_worker_and_is_served_first() {
        let pool = pool(2, 8);
        let (a, b) = (conn(0), conn(1));
        pool.add(&a, 1);
        pool.add(&b, 1);
        let held = pool.checkout(Some(1), true).await.unwrap();
        assert_eq!(held.conn().id.slot, 1);
        let targeted = {
            let pool = pool.clone();
            tokio::spawn(
                async move { pool.checkout(Some(1), true).await.map(|l| l.conn().id.slot) },
            )
        };
        let general = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let first = pool.checkout(None, true).await.unwrap();
                pool.checkout(None, true)
                    .await
                    .map(|l| (first.conn().id.slot, l.conn().id.slot))
            })
        };
        tokio::task::yield_now().await;
        drop(held);
        assert_eq!(targeted.await.unwrap().unwrap(), 1);
        assert_eq!(general.await.unwrap().unwrap(), (0, 1));
        assert!(matches!(
            pool.checkout(Some(2), true).await,
            Err(Error::NoSuchWorker {
                worker: 2,
                count: 2
            })
        ));
    }

    #[tokio::test]
    async fn stats_count_what_each_worker_holds() {
        let pool = pool(2, 8);
        pool.add(&conn(0), 2);
        let answered = pool.checkout(Some(0), true).await.unwrap();
        let conn = answered
            .submit(1, ipc2_common::codec::Encoded::plain(Vec::new()))
            .unwrap();
        pool.finish(
            &conn,
            Ended {
                answered: 1,
                failed: 0,
            },
        );
        let lease = pool.checkout(Some(0), true).await.unwrap();
        let failed = pool.checkout(Some(0), true).await.unwrap();
        failed
            .submit(2, ipc2_common::codec::Encoded::plain(Vec::new()))
            .unwrap();
        pool.finish(
            &conn,
            Ended {
                answered: 0,
                failed: 1,
            },
        );
        pool.count_restart(1);
        let stats = pool.stats();
        assert_eq!(stats.in_flight, 1);
        assert_eq!(stats.workers[0].state, WorkerState::Busy);
        assert_eq!(stats.workers[0].in_flight, 1);
        assert_eq!(
            (stats.workers[0].jobs_done, stats.workers[0].jobs_failed),
            (1, 1)
        );
        assert_eq!(stats.workers[1].state, WorkerState::Starting);
        assert_eq!(stats.workers[1].restarts, 1);
        drop(lease);
        assert_eq!(pool.stats().workers[0].state, WorkerState::Idle);
    }

    #[tokio::test]
    async fn drained_waits_for_every_lease() {
        let pool = pool(1, 8);
        pool.add(&conn(0), 1);
        let lease = pool.checkout(None, true).await.unwrap();
        let drained = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.drained().await })
        };
        tokio::task::yield_now().await;
        assert!(!drained.is_finished());
        drop(lease);
        tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .unwrap()
            .unwrap();
    }
}
