//! Recycled buffers: for large frames, and for small ones on their way into an outbox.
//!
//! A large frame needs a large buffer on each side: one to encode it into and one to receive it
//! into. Freshly allocated, such a buffer is fresh memory from the operating system, and every
//! one of its pages faults on first write; for a 1 MiB frame that costs more than copying the
//! data. So frames of at least [`LARGE`] bytes are encoded and received into buffers taken from
//! this process-wide pool, and their buffers come back once written, or once the received frame
//! is dropped.
//!
//! The pool keeps at most [`KEPT`] bytes of buffers, and no buffer over [`MAX_POOLED`]: a burst
//! of huge frames does not pin their memory afterwards.
//!
//! A small frame is encoded into a buffer of its own and then copied into its connection's
//! outbox (so that no user `Serialize` code runs under the outbox's lock). That buffer is kept
//! for the thread's next small frame ([`take_small`], [`give_small`]): a request costs no
//! allocation for it.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

/// Frames of at least this many bytes (length prefix included) use pooled buffers.
pub(crate) const LARGE: usize = 64 * 1024;

/// The largest buffer the pool keeps; larger frames use one-off buffers.
pub(crate) const MAX_POOLED: usize = 8 * 1024 * 1024;

/// The most buffer capacity the pool keeps, in bytes.
const KEPT: usize = 16 * 1024 * 1024;

/// The process-wide pool.
static POOL: Pool = Pool::new();

thread_local! {
    /// The small-frame buffer this thread gave back last, if any.
    static SMALL: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// An empty buffer for a small frame of `len` bytes: the one this thread gave back last, if it
/// has one.
pub(crate) fn take_small(len: usize) -> Vec<u8> {
    let mut buf = SMALL.take();
    buf.reserve(len);
    buf
}

/// Keeps `buf`, a small frame's buffer that is done with, for this thread's next small frame. A
/// buffer that grew past a small frame's size is not kept.
pub(crate) fn give_small(mut buf: Vec<u8>) {
    if buf.capacity() <= LARGE {
        buf.clear();
        SMALL.set(buf);
    }
}

/// An empty buffer that can hold `capacity` bytes: a recycled one if the pool has one.
pub(crate) fn take(capacity: usize) -> Vec<u8> {
    POOL.take(capacity)
}

/// Gives `buf` back for reuse, if it is worth keeping.
pub(crate) fn give(buf: Vec<u8>) {
    POOL.give(buf);
}

/// `buf[from..]` as `Bytes` whose buffer goes back to the pool when the last reference is
/// dropped.
pub(crate) fn into_bytes(buf: Vec<u8>, from: usize) -> Bytes {
    POOL.lend(buf, from)
}

/// Large buffers kept for reuse. One instance, [`POOL`], serves the process; tests make their
/// own.
struct Pool(Mutex<Vec<Vec<u8>>>);

impl Pool {
    const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    fn buffers(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, capacity: usize) -> Vec<u8> {
        if (LARGE..=MAX_POOLED).contains(&capacity) {
            let mut pool = self.buffers();
            if let Some(at) = pool.iter().position(|buf| buf.capacity() >= capacity) {
                return pool.swap_remove(at);
            }
        }
        Vec::with_capacity(capacity)
    }

    fn give(&self, mut buf: Vec<u8>) {
        if !(LARGE..=MAX_POOLED).contains(&buf.capacity()) {
            return;
        }
        buf.clear();
        let mut pool = self.buffers();
        pool.push(buf);
        // Over the budget, the smallest buffers go first.
        while pool.iter().map(Vec::capacity).sum::<usize>() > KEPT {
            let smallest = (0..pool.len()).min_by_key(|&i| pool[i].capacity());
            if let Some(at) = smallest {
                pool.swap_remove(at);
            }
        }
    }

    fn lend(&'static self, buf: Vec<u8>, from: usize) -> Bytes {
        Bytes::from_owner(Recycled(buf, self)).slice(from..)
    }
}

/// Owns a pooled buffer lent out as `Bytes`.
struct Recycled(Vec<u8>, &'static Pool);

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        self.1.give(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_and_small_or_huge_ones_are_not_kept() {
        let pool = Pool::new();
        let buf = pool.take(LARGE * 3);
        let address = buf.as_ptr();
        pool.give(buf);
        let again = pool.take(LARGE * 2);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
        pool.give(again);

        pool.give(Vec::with_capacity(LARGE - 1));
        pool.give(Vec::with_capacity(MAX_POOLED + 1));
        let pool = pool.buffers();
        assert!(
            pool.iter()
                .all(|buf| (LARGE..=MAX_POOLED).contains(&buf.capacity()))
        );
        assert!(pool.iter().map(Vec::capacity).sum::<usize>() <= KEPT);
    }

    #[test]
    fn a_small_buffer_given_back_is_taken_again_empty_and_a_big_one_is_not_kept() {
        let mut buf = take_small(5);
        buf.extend_from_slice(b"frame");
        let address = buf.as_ptr();
        give_small(buf);
        let again = take_small(5);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
        give_small(Vec::with_capacity(LARGE + 1));
        assert!(take_small(0).capacity() <= LARGE);
    }

    #[test]
    fn bytes_lent_out_return_their_buffer_when_dropped() {
        static OWN: Pool = Pool::new();
        let mut buf = OWN.take(MAX_POOLED);
        buf.extend_from_slice(b"headbody");
        let address = buf.as_ptr();
        let bytes = OWN.lend(buf, 4);
        assert_eq!(&bytes[..], b"body");
        drop(bytes);
        let pool = OWN.buffers();
        assert!(pool.iter().any(|buf| buf.as_ptr() == address));
    }
}
