//! Messages workers send unasked: queued by the reply loops, read through
//! [`WorkerSet::events`](crate::WorkerSet::events).
//!
//! The queue is bounded so a chatty worker cannot grow the host's memory without limit: when it
//! is full (nobody reads the events, or not fast enough) further events are dropped and counted,
//! and replies are never held up.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use ipc2_common::codec;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::Error;

/// An event as read off the wire, decoded by its reader.
#[derive(Debug)]
pub(crate) struct RawEvent {
    pub(crate) worker: usize,
    pub(crate) payload: Bytes,
    pub(crate) body_at: usize,
}

#[derive(Debug)]
pub(crate) struct EventQueue {
    tx: mpsc::Sender<RawEvent>,
    rx: Mutex<Option<mpsc::Receiver<RawEvent>>>,
    dropped: AtomicU64,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues an event, or drops and counts it if the queue is full.
    pub(crate) fn push(&self, event: RawEvent) {
        if self.tx.try_send(event).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!("ipc2: the worker event queue is full; {dropped} events dropped");
            }
        }
    }

    /// The reading end, the first time it is asked for.
    pub(crate) fn take(&self) -> Option<mpsc::Receiver<RawEvent>> {
        self.rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// How many events were dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One message a worker sent unasked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerEvent<R> {
    /// The slot id of the worker that sent it.
    pub worker: usize,
    /// The message.
    pub event: R,
}

/// The stream of [`WorkerEvent`]s of a set. Obtained once from
/// [`WorkerSet::events`](crate::WorkerSet::events).
pub struct Events<R> {
    rx: mpsc::Receiver<RawEvent>,
    _types: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Events<R> {
    pub(crate) fn new(rx: mpsc::Receiver<RawEvent>) -> Self {
        Self {
            rx,
            _types: PhantomData,
        }
    }

    /// Waits for the next event. `None` once the set has been dropped and its tasks have
    /// ended. An event that does not decode as
    /// `R` is an [`Error::BadEvent`] naming its worker (the stream goes on).
    pub async fn recv(&mut self) -> Option<Result<WorkerEvent<R>, Error>> {
        let raw = self.rx.recv().await?;
        let body = &raw.payload[raw.body_at..];
        Some(
            codec::decode_body::<R>(body)
                .map(|event| WorkerEvent {
                    worker: raw.worker,
                    event,
                })
                .map_err(|source| Error::BadEvent {
                    worker: raw.worker,
                    expected: type_name::<R>(),
                    source: Arc::new(source),
                }),
        )
    }
}

impl<R> fmt::Debug for Events<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}
