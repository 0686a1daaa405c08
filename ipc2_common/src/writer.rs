//! The task body that moves encoded frames from a queue onto a connection.
//!
//! Both sides send through one of these per connection: callers encode their frame on their own
//! task and queue it, and this loop writes it. When several frames are already queued they are
//! copied into one buffer and written with one call, so a busy connection costs far fewer
//! syscalls than frames; a lone frame is written as it is, without a copy.

use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

/// Frames are gathered into one write until the batch reaches this size.
const MAX_BATCH: usize = 64 * 1024;

/// Writes every frame received on `frames` to `io`, in order, until every sender is dropped; then
/// shuts the write side down so the peer sees end-of-stream.
pub async fn write_frames<W: AsyncWrite + Unpin>(
    mut frames: UnboundedReceiver<Vec<u8>>,
    mut io: W,
) -> io::Result<()> {
    let mut batch = Vec::new();
    while let Some(first) = frames.recv().await {
        match frames.try_recv() {
            Err(_) => io.write_all(&first).await?,
            Ok(second) => {
                batch.clear();
                batch.extend_from_slice(&first);
                batch.extend_from_slice(&second);
                while batch.len() < MAX_BATCH {
                    match frames.try_recv() {
                        Ok(next) => batch.extend_from_slice(&next),
                        Err(_) => break,
                    }
                }
                io.write_all(&batch).await?;
            }
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
        for i in 0..100u8 {
            tx.send(vec![i; i as usize]).unwrap();
        }
        drop(tx);
        let writer = tokio::spawn(write_frames(rx, a));
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap().unwrap();
        let want: Vec<u8> = (0..100u8).flat_map(|i| vec![i; i as usize]).collect();
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
