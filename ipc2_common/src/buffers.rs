//! Recycled buffers for large frames.
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

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

/// Frames of at least this many bytes (length prefix included) use pooled buffers.
pub(crate) const LARGE: usize = 64 * 1024;

/// The largest buffer the pool keeps; larger frames use one-off buffers.
pub(crate) const MAX_POOLED: usize = 8 * 1024 * 1024;

/// The most buffer capacity the pool keeps, in bytes.
const KEPT: usize = 16 * 1024 * 1024;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer that can hold `capacity` bytes: a recycled one if the pool has one.
pub(crate) fn take(capacity: usize) -> Vec<u8> {
    if (LARGE..=MAX_POOLED).contains(&capacity) {
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = pool.iter().position(|buf| buf.capacity() >= capacity) {
            return pool.swap_remove(at);
        }
    }
    Vec::with_capacity(capacity)
}

/// Gives `buf` back for reuse, if it is worth keeping.
pub(crate) fn give(mut buf: Vec<u8>) {
    if !(LARGE..=MAX_POOLED).contains(&buf.capacity()) {
        return;
    }
    buf.clear();
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    pool.push(buf);
    // Over the budget, the smallest buffers go first.
    while pool.iter().map(Vec::capacity).sum::<usize>() > KEPT {
        let smallest = (0..pool.len()).min_by_key(|&i| pool[i].capacity());
        if let Some(at) = smallest {
            pool.swap_remove(at);
        }
    }
}

/// `buf[from..]` as `Bytes` whose buffer goes back to the pool when the last reference is
/// dropped.
pub(crate) fn into_bytes(buf: Vec<u8>, from: usize) -> Bytes {
    Bytes::from_owner(Recycled(buf)).slice(from..)
}

/// Owns a pooled buffer lent out as `Bytes`.
struct Recycled(Vec<u8>);

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_and_small_or_huge_ones_are_not_kept() {
        let buf = take(LARGE * 3);
        let address = buf.as_ptr();
        give(buf);
        let again = take(LARGE * 2);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
        give(again);

        give(Vec::with_capacity(LARGE - 1));
        give(Vec::with_capacity(MAX_POOLED + 1));
        let pool = POOL.lock().unwrap();
        assert!(
            pool.iter()
                .all(|buf| (LARGE..=MAX_POOLED).contains(&buf.capacity()))
        );
        assert!(pool.iter().map(Vec::capacity).sum::<usize>() <= KEPT);
    }

    #[test]
    fn bytes_lent_out_return_their_buffer_when_dropped() {
        let mut buf = take(MAX_POOLED);
        buf.extend_from_slice(b"headbody");
        let address = buf.as_ptr();
        let bytes = into_bytes(buf, 4);
        assert_eq!(&bytes[..], b"body");
        drop(bytes);
        let pool = POOL.lock().unwrap();
        assert!(pool.iter().any(|buf| buf.as_ptr() == address));
    }
}
