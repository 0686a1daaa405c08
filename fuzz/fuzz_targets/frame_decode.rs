//! Raw bytes from a peer into `FrameCodec` (RELIABILITY.md rows 1-6 and 40).
//!
//! Input: first byte = where the stream is split into two reads, the rest = the stream.
//! Properties:
//! - decoding never panics;
//! - every frame is at most `MAX` bytes, and the frames plus their 4-byte headers never add up
//!   to more than the stream;
//! - the read buffer never grows far past what was received or what one `MAX` frame needs
//!   (no reservation from an unchecked length prefix);
//! - an error is `FrameTooLarge` only for a header above `MAX`, and `UnexpectedEof` only at EOF
//!   with bytes left over;
//! - splitting the stream into two reads yields the same frames and the same ending as one read.
#![no_main]

use bytes::{Bytes, BytesMut};
use ipc2_common::{Error, FrameCodec, HEADER_LEN};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// Small, so that the oversize paths are reached.
const MAX: usize = 4096;

#[derive(Debug, PartialEq, Eq)]
enum End {
    /// `decode_eof` returned `None`: the stream ended between frames.
    Clean,
    TooLarge {
        len: u64,
    },
    UnexpectedEof {
        received: usize,
        expected: usize,
    },
}

fn run(stream: &[u8], split: usize) -> (Vec<Vec<u8>>, End) {
    let mut codec = FrameCodec::new(MAX);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut received = 0;

    let check = |frame: Bytes, frames: &mut Vec<Vec<u8>>| {
        assert!(frame.len() <= MAX, "frame of {} > max {MAX}", frame.len());
        frames.push(frame.to_vec());
        let used: usize = frames.iter().map(|f| f.len() + HEADER_LEN).sum();
        assert!(
            used <= stream.len(),
            "frames use {used} of a {}-byte stream",
            stream.len()
        );
    };
    let check_buf = |buf: &BytesMut, received: usize| {
        // BytesMut::reserve may double, so allow a factor of 2 and some slack; a reservation
        // from an unchecked u32 length would be orders of magnitude larger.
        let bound = 2 * (received + HEADER_LEN + MAX) + 64;
        assert!(
            buf.capacity() <= bound,
            "buffer capacity {} > {bound}",
            buf.capacity()
        );
    };
    let end_of = |err: Error, frames: &[Vec<u8>], buf: &BytesMut| -> End {
        match err {
            Error::FrameTooLarge { len, max } => {
                assert_eq!(max, MAX);
                assert!(len > MAX as u64, "FrameTooLarge for {len} <= {MAX}");
                assert!(buf.len() >= HEADER_LEN);
                End::TooLarge { len }
            }
            Error::UnexpectedEof { received, expected } => {
                assert!(
                    received > 0 && received < expected,
                    "{received} of {expected}"
                );
                let used: usize = frames.iter().map(|f| f.len() + HEADER_LEN).sum();
                assert_eq!(used + received, stream.len());
                End::UnexpectedEof { received, expected }
            }
            other => panic!("unexpected error from FrameCodec: {other:?}"),
        }
    };

    for chunk in [&stream[..split], &stream[split..]] {
        buf.extend_from_slice(chunk);
        received += chunk.len();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => check(frame, &mut frames),
                Ok(None) => break,
                Err(err) => {
                    let end = end_of(err, &frames, &buf);
                    return (frames, end);
                }
            }
            check_buf(&buf, received);
        }
        check_buf(&buf, received);
    }
    // EOF: FramedRead calls decode_eof until it returns None or an error.
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => check(frame, &mut frames),
            Ok(None) => {
                assert!(buf.is_empty(), "clean end with {} bytes left", buf.len());
                return (frames, End::Clean);
            }
            Err(err) => {
                let end = end_of(err, &frames, &buf);
                return (frames, end);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let split = usize::from(split) % (stream.len() + 1);
    let (frames, end) = run(stream, split);
    let (whole_frames, whole_end) = run(stream, stream.len());
    assert_eq!(frames, whole_frames, "split at {split} changed the frames");
    assert_eq!(end, whole_end, "split at {split} changed the ending");
});
