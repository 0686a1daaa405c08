//! The one place values become bytes and bytes become values.
//!
//! Everything ipc2 sends goes through [`encode_frame`] and everything it receives through
//! [`decode_header`] and [`decode_body`], so swapping the codec is a change to this file alone.
//!
//! The codec is bincode 2 (pinned to `=2.0.1`, through its `serde` support) in its standard
//! configuration (little endian, variable-length integers), with two guards for input from
//! another process:
//! - a decode may not *claim* more memory than a limit (bincode's `with_limit`), so a 10-byte
//!   payload that says "a string of 2^60 bytes follows" is an error instead of an allocation. The
//!   limit is a compile-time constant in bincode, so it is picked per payload from a few tiers:
//!   the smallest of 64 KiB, 64 MiB and 4 GiB that is at least the payload's length. A string or
//!   byte buffer can never legitimately be longer than the payload holding it, so the tier never
//!   refuses valid data, and a forged string or byte-buffer length costs at most the tier's size.
//!   Sequences (`Vec<T>` through serde) are not counted by bincode; for them serde itself caps
//!   what it reserves up front at 1 MiB per sequence (`size_hint::cautious`), and the decode then
//!   fails on the missing elements;
//! - a body must be consumed exactly: trailing bytes are [`Error::TrailingBytes`].

use bincode::config::{Config, standard};
use bincode::enc::write::SizeWriter;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::frame::HEADER_LEN;
use crate::{Error, buffers};

const SMALL: usize = 64 * 1024;
const MEDIUM: usize = 64 * 1024 * 1024;
const LARGE: usize = u32::MAX as usize;

/// Encodes `header` and then `body` (if any) as one frame, length prefix included.
///
/// Fails with [`Error::FrameTooLarge`] if the payload would exceed `max_frame_len`: nothing
/// oversized is ever handed to the transport, and nothing is allocated for it.
///
/// The value is measured first (bincode's size-counting writer, which copies nothing), so an
/// oversized frame is refused before anything is allocated for it. A large frame is encoded into
/// a recycled buffer (from a small pool of large buffers), which the connection's writer returns
/// once written.
pub fn encode_frame<H: Serialize, B: Serialize + ?Sized>(
    header: &H,
    body: Option<&B>,
    max_frame_len: usize,
) -> Result<Vec<u8>, Error> {
    let total = frame_len(header, body, max_frame_len)?;
    let mut frame = if total >= buffers::LARGE {
        buffers::take(total)
    } else {
        Vec::with_capacity(64)
    };
    encode_frame_into(&mut frame, header, body, max_frame_len)?;
    Ok(frame)
}

/// The length of the frame of `header` and `body`, length prefix included, measured without
/// encoding anything. Fails with [`Error::FrameTooLarge`] if its payload exceeds `max_frame_len`.
pub(crate) fn frame_len<H: Serialize, B: Serialize + ?Sized>(
    header: &H,
    body: Option<&B>,
    max_frame_len: usize,
) -> Result<usize, Error> {
    let mut size = SizeWriter::default();
    bincode::serde::encode_into_writer(header, &mut size, standard()).map_err(Error::Encode)?;
    if let Some(body) = body {
        bincode::serde::encode_into_writer(body, &mut size, standard()).map_err(Error::Encode)?;
    }
    let len = size.bytes_written;
    if len > max_frame_len || u32::try_from(len).is_err() {
        return Err(Error::FrameTooLarge {
            len: len as u64,
            max: max_frame_len,
        });
    }
    Ok(HEADER_LEN + len)
}

/// Appends the frame of `header` and `body` to `buf`. On error `buf` is left as it was.
pub(crate) fn encode_frame_into<H: Serialize, B: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    header: &H,
    body: Option<&B>,
    max_frame_len: usize,
) -> Result<(), Error> {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_LEN]);
    let result = encode_payload(buf, header, body);
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

fn encode_payload<H: Serialize, B: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    header: &H,
    body: Option<&B>,
) -> Result<(), Error> {
    bincode::serde::encode_into_std_write(header, buf, standard()).map_err(Error::Encode)?;
    if let Some(body) = body {
        bincode::serde::encode_into_std_write(body, buf, standard()).map_err(Error::Encode)?;
    }
    Ok(())
}

/// The frame `frame` (length prefix included) with its envelope header replaced by `header` and
/// its body kept as it is: for sending the same job again under a new request id without
/// encoding the job again.
pub fn reframe<H: Serialize + DeserializeOwned>(
    frame: &[u8],
    header: &H,
) -> Result<Vec<u8>, Error> {
    let payload = frame.get(HEADER_LEN..).unwrap_or_default();
    let (_, body) = decode_header::<H>(payload)?;
    let mut out = Vec::with_capacity(frame.len() + 8);
    out.extend_from_slice(&[0; HEADER_LEN]);
    bincode::serde::encode_into_std_write(header, &mut out, standard()).map_err(Error::Encode)?;
    out.extend_from_slice(body);
    let len = u32::try_from(out.len() - HEADER_LEN).map_err(|_| Error::FrameTooLarge {
        len: (out.len() - HEADER_LEN) as u64,
        max: u32::MAX as usize,
    })?;
    out[..HEADER_LEN].copy_from_slice(&len.to_le_bytes());
    Ok(out)
}

/// Decodes the envelope header at the start of a frame's payload and returns it with the rest
/// of the payload (the body).
pub fn decode_header<H: DeserializeOwned>(payload: &[u8]) -> Result<(H, &[u8]), Error> {
    let (header, used) = decode_prefix::<H>(payload)?;
    Ok((header, &payload[used..]))
}

/// Decodes a body that must fill `bytes` exactly.
pub fn decode_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let (value, used) = decode_prefix::<T>(bytes)?;
    match bytes.len() - used {
        0 => Ok(value),
        extra => Err(Error::TrailingBytes { extra }),
    }
}

fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), Error> {
    let result = if bytes.len() <= SMALL {
        decode_with(bytes, standard().with_limit::<SMALL>())
    } else if bytes.len() <= MEDIUM {
        decode_with(bytes, standard().with_limit::<MEDIUM>())
    } else {
        decode_with(bytes, standard().with_limit::<LARGE>())
    };
    result.map_err(Error::Decode)
}

fn decode_with<T: DeserializeOwned, C: Config>(
    bytes: &[u8],
    config: C,
) -> Result<(T, usize), bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToWorker;

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
    fn reframe_swaps_the_header_and_keeps_the_body() {
        let frame = encode_frame(&ToWorker::Request { id: 1 }, Some("job"), 64).unwrap();
        let again = reframe(&frame, &ToWorker::Request { id: 1 << 40 }).unwrap();
        let len = u32::from_le_bytes(again[..4].try_into().unwrap()) as usize;
        assert_eq!(len, again.len() - HEADER_LEN);
        let (header, body) = decode_header::<ToWorker>(&again[HEADER_LEN..]).unwrap();
        assert_eq!(header, ToWorker::Request { id: 1 << 40 });
        assert_eq!(decode_body::<String>(body).unwrap(), "job");
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

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(
            decode_header::<ToWorker>(&[0xff, 0xff, 0xff]),
            Err(Error::Decode(_))
        ));
        assert!(decode_body::<u32>(&[]).is_err());
    }
}
