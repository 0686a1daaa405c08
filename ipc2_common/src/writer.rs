//! The task body that moves encoded frames from a queue onto a connection.
//!
//! Both sides send through one of these per connection: callers encode their frame on their own
//! task and queue it, and this loop writes it. When several small frames are already queued they
//! are copied into one buffer and written with one call, so a busy connection costs far fewer
//! syscalls than frames; a lone frame, or a large one, is written as it is, without a copy, and a
//! large frame's buffer then goes back to the pool it came from ([`crate::buffers`]).

use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::buffers;

/// Frames are gathered into one write until the batch reaches this size; a frame this large is
/// written on its own.
const MAX_BATCH: usize = buffers::LARGE;

/// Writes every frame received on `frames` to `io`, in order, until every sender is dropped; then
/// shuts the write side down so the peer sees end-of-stream.
pub async fn write_frames<W: AsyncWrite + Unpin>(
    mut frames: UnboundedReceiver<Vec<u8>>,
    mut io: W,
) -> io::Result<()> {
    let mut batch = Vec::new();
    while let Some(first) = frames.recv().await {
        let mut next = Some(first);
        while let Some(frame) = next {
            next = frames.try_recv().ok();
            if frame.len() >= MAX_BATCH {
                if !batch.is_empty() {
                    io.write_all(&batch).await?;
                    batch.clear();
                }
                io.write_all(&frame).await?;
                buffers::give(frame);
            } else if batch.is_empty() && next.is_none() {
                io.write_all(&frame).await?;
            } else {
                batch.extend_from_slice(&frame);
                if batch.len() >= MAX_BATCH {
                    io.write_all(&batch).await?;
                    batch.clear();
                }
            }
        }
        if !batch.is_empty() {
            io.write_all(&batch).await?;
            batch.clear();
        }
        io.flush().await?;
    }
    io.shutdown().await
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::sync::mpsc;

    use super::*;

    #[tokio::test]
    async fn queued_frames_arrive_in_order_then_end_of_stream() {
        let (tx, rx) = mpsc::unbounded_channel();
        let (a, mut b) = tokio::io::duplex(16);
        // Small frames batched, and large ones (every tenth) written between them.
        let len = |i: u8| {
            if i % 10 == 9 {
                MAX_BATCH + usize::from(i)
            } else {
                usize::from(i)
            }
        };
        for i in 0..100u8 {
            tx.send(vec![i; len(i)]).unwrap();
        }
        drop(tx);
        let writer = tokio::spawn(write_frames(rx, a));
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap().unwrap();
        let want: Vec<u8> = (0..100u8).flat_map(|i| vec![i; len(i)]).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_closed_peer_is_an_error_not_a_hang() {
        let (tx, rx) = mpsc::unbounded_channel();
        let (a, b) = tokio::io::duplex(16);
        drop(b);
        tx.send(vec![1; 64]).unwrap();
        assert!(write_frames(rx, a).await.is_err());
    }
}
