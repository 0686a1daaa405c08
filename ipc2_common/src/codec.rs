//! The one place values become bytes and bytes become values.
//!
//! Everything ipc2 sends goes through [`encode_frame`] and everything it receives through
//! [`decode_header`] and [`decode_body`], so swapping the codec is a change to this file alone.
//!
//! The codec is bincode 2 (pinned to `=2.0.1`, through its `serde` support) in its standard
//! configuration (little endian, variable-length integers). The envelope header that starts every
//! payload is written and read here directly, in the same bytes bincode produces for it (tests
//! compare the two on every boundary), because it is on every frame's path and serde's
//! machinery costs far more than its two varints. Bodies go through bincode, with two guards for
//! input from another process:
//! - every body is decoded through the `guard` adapter, which bounds how deeply a value may nest
//!   ([`MAX_DEPTH`]), bounds what the decode preallocates by the body's length, and never
//!   allocates a string or byte buffer for a length the body does not hold. So a message that
//!   fits the frame limit and is well formed always decodes, whatever its shape, and a hostile
//!   one costs at most about its own size;
//! - a body must be consumed exactly: trailing bytes are [`Error::TrailingBytes`].

mod guard;

pub use guard::MAX_DEPTH;

use std::marker::PhantomData;

use bincode::config::standard;
use bincode::enc::write::SizeWriter;
use bincode::error::DecodeError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::frame::HEADER_LEN;
use crate::{Error, Header, buffers};

/// Encodes `header` and then `body` (if any) as one frame, length prefix included.
///
/// Fails with [`Error::FrameTooLarge`] if the payload would exceed `max_frame_len`: nothing
/// oversized is ever handed to the transport, and nothing is allocated for it.
///
/// The value is measured first (bincode's size-counting writer, which copies nothing), so an
/// oversized frame is refused before anything is allocated for it. A large frame is encoded into
/// a recycled buffer (from a small pool of large buffers), which the connection's writer returns
/// once written.
pub fn encode_frame<H: Header, B: Serialize + ?Sized>(
    header: &H,
    body: Option<&B>,
    max_frame_len: usize,
) -> Result<Vec<u8>, Error> {
    let mark = crate::fd::collected();
    let total = frame_len(header, body, max_frame_len)?;
    // The descriptors the measuring pass duplicated are collected again by the encoding pass.
    crate::fd::truncate_collected(mark);
    let mut frame = if total >= buffers::LARGE {
        buffers::take(total)
    } else {
        buffers::take_small(total)
    };
    encode_frame_into(&mut frame, header, body, max_frame_len)?;
    Ok(frame)
}

/// A frame ready to send, with the file descriptors its body carries (see [`crate::fd`]).
#[derive(Debug)]
pub struct Encoded {
    /// The frame, length prefix included.
    pub frame: Vec<u8>,
    /// The descriptors, in the order the body names them; usually none.
    pub fds: Vec<std::os::fd::OwnedFd>,
}

impl Encoded {
    /// A frame whose body carries no descriptors.
    pub fn plain(frame: Vec<u8>) -> Self {
        Self {
            frame,
            fds: Vec::new(),
        }
    }

    /// [`reframe`] of this frame, with duplicates of its descriptors: the same message sent
    /// again under `header`.
    pub fn reframe<H: Header>(&self, header: &H, max_frame_len: usize) -> Result<Self, Error> {
        Ok(Self {
            frame: reframe(&self.frame, header, max_frame_len)?,
            fds: self.duplicate_fds()?,
        })
    }

    /// A copy, with duplicates of its descriptors.
    pub fn try_clone(&self) -> Result<Self, Error> {
        Ok(Self {
            frame: self.frame.clone(),
            fds: self.duplicate_fds()?,
        })
    }

    fn duplicate_fds(&self) -> Result<Vec<std::os::fd::OwnedFd>, Error> {
        self.fds
            .iter()
            .map(|fd| fd.try_clone().map_err(Error::Io))
            .collect()
    }
}

/// [`encode_frame`], collecting the descriptors the body's `#[serde(with = "ipc2::fd")]` fields
/// carry.
pub fn encode<H: Header, B: Serialize + ?Sized>(
    header: &H,
    body: Option<&B>,
    max_frame_len: usize,
) -> Result<Encoded, Error> {
    let (frame, fds) = crate::fd::collecting(|| encode_frame(header, body, max_frame_len));
    Ok(Encoded { frame: frame?, fds })
}

/// The length of the frame of `header` and `body`, length prefix included, measured without
/// encoding anything. Fails with [`Error::FrameTooLarge`] if its payload exceeds `max_frame_len`.
fn frame_len<H: Header, B: Serialize + ?Sized>(
    header: &H,
    body: Option<&B>,
    max_frame_len: usize,
) -> Result<usize, Error> {
    let mut size = SizeWriter::default();
    if let Some(body) = body {
        bincode::serde::encode_into_writer(body, &mut size, standard()).map_err(Error::Encode)?;
    }
    let len = header_len(header) + size.bytes_written;
    if len > max_frame_len || u32::try_from(len).is_err() {
        return Err(Error::FrameTooLarge {
            len: len as u64,
            max: max_frame_len,
        });
    }
    Ok(HEADER_LEN + len)
}

/// Appends the frame of `header` and `body` to `buf`. On error `buf` is left as it was.
fn encode_frame_into<H: Header, B: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    header: &H,
    body: Option<&B>,
    max_frame_len: usize,
) -> Result<(), Error> {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_LEN]);
    push_header(buf, header);
    let result = match body {
        Some(body) => bincode::serde::encode_into_std_write(body, buf, standard())
            .map(drop)
            .map_err(Error::Encode),
        None => Ok(()),
    };
    let len = buf.len() - start - HEADER_LEN;
    match result {
        Ok(()) if len <= max_frame_len && u32::try_from(len).is_ok() => {
            buf[start..start + HEADER_LEN].copy_from_slice(&(len as u32).to_le_bytes());
            Ok(())
        }
        Ok(()) => {
            buf.truncate(start);
            Err(Error::FrameTooLarge {
                len: len as u64,
                max: max_frame_len,
            })
        }
        Err(err) => {
            buf.truncate(start);
            Err(err)
        }
    }
}

/// The frame `frame` (length prefix included) with its envelope header replaced by `header` and
/// its body kept as it is: for sending the same job again under a new request id without
/// encoding the job again. Fails with [`Error::FrameTooLarge`] if the new header makes the payload
/// longer than `max_frame_len` (a request id takes 1 to 9 bytes).
pub fn reframe<H: Header>(
    frame: &[u8],
    header: &H,
    max_frame_len: usize,
) -> Result<Vec<u8>, Error> {
    let payload = frame.get(HEADER_LEN..).unwrap_or_default();
    let (_, body) = decode_header::<H>(payload)?;
    let len = header_len(header) + body.len();
    if len > max_frame_len || u32::try_from(len).is_err() {
        return Err(Error::FrameTooLarge {
            len: len as u64,
            max: max_frame_len,
        });
    }
    let mut out = Vec::with_capacity(HEADER_LEN + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    push_header(&mut out, header);
    out.extend_from_slice(body);
    Ok(out)
}

/// Decodes the envelope header at the start of a frame's payload and returns it with the rest
/// of the payload (the body).
pub fn decode_header<H: Header>(payload: &[u8]) -> Result<(H, &[u8]), Error> {
    let mut at = 0;
    let header = read_varint(payload, &mut at, false)
        .and_then(|tag| H::from_wire(tag as u32, || read_varint(payload, &mut at, true)));
    let Some(header) = header else {
        return Err(Error::Decode(DecodeError::Other(
            "malformed or unknown envelope header",
        )));
    };
    Ok((header, &payload[at..]))
}

/// Appends `header` in bincode's standard encoding: its variant index and then its request id,
/// if it has one, each a varint.
fn push_header<H: Header>(buf: &mut Vec<u8>, header: &H) {
    let (tag, id) = header.to_wire();
    push_varint(buf, u64::from(tag));
    if let Some(id) = id {
        push_varint(buf, id);
    }
}

/// How many bytes [`push_header`] appends for `header`.
fn header_len<H: Header>(header: &H) -> usize {
    let (tag, id) = header.to_wire();
    varint_len(u64::from(tag)) + id.map_or(0, varint_len)
}

/// bincode's variable-length integer: a value below 251 is one byte; a larger one is a marker
/// byte (251, 252, 253 for 2, 4, 8 bytes) and then the value, little endian.
fn push_varint(buf: &mut Vec<u8>, value: u64) {
    match value {
        0..=250 => buf.push(value as u8),
        251..=0xffff => {
            buf.push(251);
            buf.extend_from_slice(&(value as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            buf.push(252);
            buf.extend_from_slice(&(value as u32).to_le_bytes());
        }
        _ => {
            buf.push(253);
            buf.extend_from_slice(&value.to_le_bytes());
        }
    }
}

fn varint_len(value: u64) -> usize {
    match value {
        0..=250 => 1,
        251..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Reads a varint (see [`push_varint`]) at `*at` and moves past it. `None` if it is cut short or
/// has a marker bincode would refuse: 253 (8 bytes) is only valid for a `u64` (`wide`).
fn read_varint(bytes: &[u8], at: &mut usize, wide: bool) -> Option<u64> {
    let first = *bytes.get(*at)?;
    let width = match first {
        0..=250 => {
            *at += 1;
            return Some(u64::from(first));
        }
        251 => 2,
        252 => 4,
        253 if wide => 8,
        _ => return None,
    };
    let value = bytes.get(*at + 1..*at + 1 + width)?;
    let mut le = [0; 8];
    le[..width].copy_from_slice(value);
    *at += 1 + width;
    Some(u64::from_le_bytes(le))
}

/// Decodes a body that must fill `bytes` exactly.
pub fn decode_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let (value, used) = decode_prefix::<T>(bytes)?;
    match bytes.len() - used {
        0 => Ok(value),
        extra => Err(Error::TrailingBytes { extra }),
    }
}

/// Decodes a value from the start of `bytes`, through the guard; returns it and the bytes used.
fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), Error> {
    let limits = guard::Limits::new(bytes.len());
    let seed = guard::Guarded {
        inner: PhantomData::<T>,
        limits: &limits,
    };
    bincode::serde::seed_decode_from_slice(seed, bytes, standard()).map_err(|err| {
        if limits.too_deep() {
            Error::TooDeep { limit: MAX_DEPTH }
        } else {
            Error::Decode(err)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use super::*;
    use crate::{ToHost, ToWorker};

    #[test]
    fn frame_round_trips_header_and_body() {
        let frame = encode_frame(&ToWorker::Request { id: 42 }, Some("hi"), 64).unwrap();
        let len = u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - HEADER_LEN);
        let (header, body) = decode_header::<ToWorker>(&frame[HEADER_LEN..]).unwrap();
        assert_eq!(header, ToWorker::Request { id: 42 });
        assert_eq!(decode_body::<String>(body).unwrap(), "hi");
    }

    #[test]
    fn encoding_past_the_maximum_fails_and_leaves_the_buffer_alone() {
        let mut buf = vec![1, 2, 3];
        let err =
            encode_frame_into(&mut buf, &ToWorker::Notify, Some(&[0u8; 100][..]), 16).unwrap_err();
        assert!(matches!(err, Error::FrameTooLarge { max: 16, .. }));
        assert_eq!(buf, [1, 2, 3]);
    }

    #[test]
    fn the_maximum_is_exact_on_both_sides_of_the_large_frame_size() {
        let header = ToWorker::Notify;
        for max in [
            100,
            buffers::LARGE - HEADER_LEN - 1,
            buffers::LARGE,
            200_000,
        ] {
            // Header (1 byte) + varint length + bytes: find the body that fills `max` exactly.
            let fill = (0..max).rev().find(|&n| {
                frame_len(&header, Some(&vec![0u8; n][..]), usize::MAX).unwrap() - HEADER_LEN == max
            });
            let body = vec![1u8; fill.unwrap()];
            let frame = encode_frame(&header, Some(&body[..]), max).unwrap();
            assert_eq!(frame.len(), HEADER_LEN + max);
            let over = vec![1u8; body.len() + 1];
            let err = encode_frame(&header, Some(&over[..]), max).unwrap_err();
            assert!(
                matches!(err, Error::FrameTooLarge { len, max: m } if m == max && len as usize > max),
                "{max}: {err:?}"
            );
        }
    }

    /// Ids at every varint width and boundary.
    const IDS: [u64; 12] = [
        0,
        1,
        250,
        251,
        0xffff,
        0x1_0000,
        0xffff_ffff,
        0x1_0000_0000,
        1 << 40,
        u64::MAX - 1,
        u64::MAX,
        12_345,
    ];

    fn headers() -> (Vec<ToWorker>, Vec<ToHost>) {
        let mut to_worker = vec![ToWorker::Notify, ToWorker::Welcome, ToWorker::Refused];
        let mut to_host = vec![
            ToHost::Hello,
            ToHost::Event,
            ToHost::Heartbeat,
            ToHost::Types,
        ];
        for id in IDS {
            to_worker.extend([
                ToWorker::Request { id },
                ToWorker::Cancel { id },
                ToWorker::Credit { id },
                ToWorker::Stream { id },
                ToWorker::Fds { count: id },
                ToWorker::Shared { len: id },
            ]);
            to_host.extend([
                ToHost::Reply { id },
                ToHost::Failed { id },
                ToHost::Item { id },
                ToHost::End { id },
                ToHost::Fds { count: id },
                ToHost::Shared { len: id },
            ]);
        }
        (to_worker, to_host)
    }

    fn same_bytes_as_bincode<H: Header + Serialize + Debug>(header: H) {
        let mut ours = Vec::new();
        push_header(&mut ours, &header);
        let theirs = bincode::serde::encode_to_vec(header, standard()).unwrap();
        assert_eq!(ours, theirs, "{header:?}");
        assert_eq!(header_len(&header), theirs.len(), "{header:?}");
    }

    #[test]
    fn headers_are_written_as_bincode_writes_them() {
        let (to_worker, to_host) = headers();
        to_worker.into_iter().for_each(same_bytes_as_bincode);
        to_host.into_iter().for_each(same_bytes_as_bincode);
    }

    /// Decodes `bytes` with the header codec and with bincode; both must agree on whether they
    /// are a header, which one, and where the body starts.
    fn same_reading_as_bincode<H>(bytes: &[u8])
    where
        H: Header + DeserializeOwned + PartialEq + Debug,
    {
        let ours = decode_header::<H>(bytes).map(|(h, body)| (h, bytes.len() - body.len()));
        let theirs: Result<(H, usize), _> = bincode::serde::decode_from_slice(bytes, standard());
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{bytes:?}"),
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!("{bytes:?}: ours {ours:?}, bincode {theirs:?}"),
        }
    }

    #[test]
    fn only_the_fds_and_shared_headers_announce_and_they_say_how_much() {
        use crate::Announcement;
        let (to_worker, to_host) = headers();
        for header in to_worker {
            let expected = match header {
                ToWorker::Fds { count } => Some(Announcement::Fds(count)),
                ToWorker::Shared { len } => Some(Announcement::Shared(len)),
                _ => None,
            };
            assert_eq!(header.announcement(), expected, "{header:?}");
        }
        for header in to_host {
            let expected = match header {
                ToHost::Fds { count } => Some(Announcement::Fds(count)),
                ToHost::Shared { len } => Some(Announcement::Shared(len)),
                _ => None,
            };
            assert_eq!(header.announcement(), expected, "{header:?}");
        }
    }

    #[test]
    fn headers_are_read_as_bincode_reads_them() {
        let (to_worker, to_host) = headers();
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        // Every one- and two-byte input, and every marker byte followed by a run of bytes.
        inputs.extend((0..=255u8).map(|a| vec![a]));
        inputs.extend((0..=0xffffu16).map(|ab| ab.to_le_bytes().to_vec()));
        for tag in [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255] {
            for marker in [7, 250, 251, 252, 253, 254, 255] {
                for tail in 0..=10 {
                    let mut input = vec![tag, marker];
                    input.extend((0..tail).map(|i| 0x5a ^ i));
                    inputs.push(input);
                }
            }
        }
        // Real headers, whole, cut short, and with a body after them.
        let real = to_worker
            .iter()
            .map(|h| bincode::serde::encode_to_vec(h, standard()).unwrap())
            .chain(
                to_host
                    .iter()
                    .map(|h| bincode::serde::encode_to_vec(h, standard()).unwrap()),
            );
        for bytes in real {
            for cut in 0..=bytes.len() {
                inputs.push(bytes[..cut].to_vec());
            }
            inputs.push([&bytes[..], b"body"].concat());
        }
        for input in &inputs {
            same_reading_as_bincode::<ToWorker>(input);
            same_reading_as_bincode::<ToHost>(input);
        }
    }

    #[test]
    fn reframe_swaps_the_header_and_keeps_the_body() {
        let frame = encode_frame(&ToWorker::Request { id: 1 }, Some("job"), 64).unwrap();
        let again = reframe(&frame, &ToWorker::Request { id: 1 << 40 }, 64).unwrap();
        let len = u32::from_le_bytes(again[..4].try_into().unwrap()) as usize;
        assert_eq!(len, again.len() - HEADER_LEN);
        let (header, body) = decode_header::<ToWorker>(&again[HEADER_LEN..]).unwrap();
        assert_eq!(header, ToWorker::Request { id: 1 << 40 });
        assert_eq!(decode_body::<String>(body).unwrap(), "job");
    }

    #[test]
    fn reframing_past_the_maximum_fails() {
        let frame = encode_frame(&ToWorker::Request { id: 1 }, Some("job"), 6).unwrap();
        assert_eq!(frame.len() - HEADER_LEN, 6);
        let err = reframe(&frame, &ToWorker::Request { id: 1 << 40 }, 6).unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len: 14, max: 6 }),
            "{err:?}"
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = bincode::serde::encode_to_vec(5u32, standard()).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode_body::<u32>(&bytes),
            Err(Error::TrailingBytes { extra: 1 })
        ));
    }

    #[test]
    fn forged_string_length_is_an_error_not_an_allocation() {
        // varint marker 253 = u64 follows, then 2^60 as the string length.
        let mut bytes = vec![253];
        bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(matches!(
            decode_body::<String>(&bytes),
            Err(Error::Decode(_))
        ));
        assert!(matches!(
            decode_body::<Vec<u8>>(&bytes),
            Err(Error::Decode(_))
        ));
    }

    fn round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T) {
        let bytes = bincode::serde::encode_to_vec(&value, standard()).unwrap();
        let back: T = decode_body(&bytes).unwrap_or_else(|err| {
            panic!(
                "{} bytes of {}: {err}",
                bytes.len(),
                std::any::type_name::<T>()
            )
        });
        assert!(back == value, "{}", std::any::type_name::<T>());
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    enum Tag {
        A,
        B(u8),
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Point {
        x: u32,
        y: (u16, Option<u64>),
    }

    // bincode counts integers at their in-memory width; a limit picked from the encoded length
    // refused these once (64 KiB for an encoded length under 64 KiB).
    #[test]
    fn values_of_every_width_decode_on_both_sides_of_the_old_limit_tiers() {
        for n in [
            0, 1, 4095, 4097, 8191, 8193, 16_383, 16_385, 20_000, 65_000, 65_537,
        ] {
            let small = |i: usize| (i % 250) as u8;
            round_trips((0..n).map(small).collect::<Vec<u8>>());
            round_trips((0..n).map(|i| u16::from(small(i))).collect::<Vec<_>>());
            round_trips((0..n).map(|i| u32::from(small(i))).collect::<Vec<_>>());
            round_trips((0..n).map(|i| u64::from(small(i))).collect::<Vec<_>>());
            round_trips((0..n).map(|i| u128::from(small(i))).collect::<Vec<_>>());
            round_trips((0..n).map(|i| i as i64 - 100).collect::<Vec<_>>());
            round_trips(
                (0..n)
                    .map(|i| if i % 2 == 0 { Tag::A } else { Tag::B(small(i)) })
                    .collect::<Vec<_>>(),
            );
            round_trips(
                (0..n)
                    .map(|i| Point {
                        x: small(i).into(),
                        y: (3, (i % 3 == 0).then_some(9)),
                    })
                    .collect::<Vec<_>>(),
            );
            round_trips((0..n / 16).map(|i| vec![1u64; i % 32]).collect::<Vec<_>>());
        }
        // Past the 64 MiB tier: 16.8 million u32s are 16.8 MB encoded and 67 MB in memory.
        round_trips(vec![7u32; 16_800_000]);
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    enum Nest {
        Leaf,
        Node(Box<Nest>),
    }

    /// A `Nest` of `depth` nodes, as bytes: building it as a value would recurse.
    fn nest(depth: usize) -> Vec<u8> {
        let mut bytes = vec![1; depth];
        bytes.push(0);
        bytes
    }

    #[test]
    fn nesting_up_to_the_depth_limit_decodes_and_past_it_is_too_deep() {
        // Each `Nest` is one level: `MAX_DEPTH - 1` nodes and the leaf fill the limit.
        assert!(decode_body::<Nest>(&nest(MAX_DEPTH - 1)).is_ok());
        for depth in [MAX_DEPTH, MAX_DEPTH + 1, 20_000, 1_000_000] {
            assert!(
                matches!(
                    decode_body::<Nest>(&nest(depth)),
                    Err(Error::TooDeep { limit: MAX_DEPTH })
                ),
                "{depth}"
            );
        }
    }

    #[test]
    fn a_forged_sequence_length_is_a_decode_error() {
        let mut bytes = vec![252];
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.push(1);
        assert!(matches!(
            decode_body::<Vec<Vec<u64>>>(&bytes),
            Err(Error::Decode(_))
        ));
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(
            decode_header::<ToWorker>(&[0xff, 0xff, 0xff]),
            Err(Error::Decode(_))
        ));
        assert!(decode_body::<u32>(&[]).is_err());
    }
}
