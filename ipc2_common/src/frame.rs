//! Length-prefixed framing: a 4-byte little-endian length, then that many bytes.
//!
//! ```text
//! +----------------+--------------------------------+
//! | len: u32 (LE)  | payload: len bytes             |
//! +----------------+--------------------------------+
//! ```
//!
//! The length is checked against the maximum *before* any buffer is reserved for the payload, so
//! a peer that claims a 4 GiB frame costs nothing but an error, and the buffer then grows with
//! the data that actually arrives (at most 1 MiB ahead of it). The same limit applies when
//! encoding ([`crate::codec::encode_frame`]), so a side never sends what its peer must refuse.
//!
//! A large frame of up to 8 MiB is received into a recycled buffer ([`crate::buffers`]) big
//! enough for all of it, which goes back to the pool when the frame is dropped: a peer that sends
//! only such a header holds one buffer whose pages it never fills.
//!
//! [`FrameCodec`] plugs into `tokio_util::codec::FramedRead`, which supplies the buffering and makes
//! reads cancel-safe; the codec only decides where frames start and end.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::{Error, buffers};

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 4;

/// The most the decoder reserves ahead of the data that has arrived.
const RESERVE_CHUNK: usize = 1024 * 1024;

/// The default maximum payload length of a frame: 64 MiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// Splits a byte stream into frames of at most `max_frame_len` payload bytes.
///
/// Decoding yields each payload without its header. A header that claims more than the maximum
/// is [`Error::FrameTooLarge`]; a stream that ends inside a frame is [`Error::UnexpectedEof`]; a
/// stream that ends between frames ends the stream cleanly.
///
/// ```
/// use bytes::BytesMut;
/// use ipc2_common::FrameCodec;
/// use tokio_util::codec::Decoder;
///
/// let mut codec = FrameCodec::new(16);
/// let mut buf = BytesMut::from(&[3, 0, 0, 0, b'a', b'b', b'c'][..]);
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"abc"[..]));
/// # Ok::<(), ipc2_common::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max_frame_len: usize,
    /// Whether the buffer being filled is a recycled one holding a large frame.
    recycling: bool,
}

impl FrameCodec {
    /// A codec that accepts payloads of at most `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        Self {
            max_frame_len,
            recycling: false,
        }
    }

    /// The largest payload this codec accepts.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Changes the largest payload this codec accepts, for example after a handshake that was
    /// read under a tighter limit.
    pub fn set_max_frame_len(&mut self, max_frame_len: usize) {
        self.max_frame_len = max_frame_len;
    }

    /// Like [`Decoder::decode`], for a reader that only looks at each payload: a frame that is
    /// wholly in `src` is handed to `each` where it lies and then skipped, instead of being split
    /// off into a buffer of its own. Returns what `each` returned, or `None` if no whole frame
    /// has arrived yet.
    pub fn decode_with<T>(
        &mut self,
        src: &mut BytesMut,
        each: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>, Error> {
        if !self.recycling
            && let Some(total) = self.claimed(src)?
            && src.len() >= total
        {
            let out = each(&src[HEADER_LEN..total]);
            src.advance(total);
            return Ok(Some(out));
        }
        Ok(self.decode(src)?.map(|frame| each(&frame)))
    }

    /// The length, header included, of the frame that starts `src`, once its header is there.
    /// Fails for a header that claims more than the maximum.
    fn claimed(&self, src: &BytesMut) -> Result<Option<usize>, Error> {
        let Some(header) = src.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.max_frame_len {
            return Err(Error::FrameTooLarge {
                len: len as u64,
                max: self.max_frame_len,
            });
        }
        Ok(Some(HEADER_LEN + len))
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        let Some(total) = self.claimed(src)? else {
            return Ok(None);
        };
        let len = total - HEADER_LEN;
        if src.len() < total {
            if !self.recycling && (buffers::LARGE..=buffers::MAX_POOLED).contains(&total) {
                // Receive the rest straight into a recycled buffer that holds the whole frame.
                let mut whole = buffers::take(total);
                whole.extend_from_slice(src);
                *src = BytesMut::from(Bytes::from(whole));
                self.recycling = true;
            } else {
                // Grow with the data, a chunk at a time: a peer that sends only a header costs
                // at most one chunk, not the length it claims.
                src.reserve((total - src.len()).min(RESERVE_CHUNK));
            }
            return Ok(None);
        }
        if std::mem::take(&mut self.recycling) {
            // The frame starts at the front of the recycled buffer; what arrived after it moves
            // to a buffer of its own, and the frame lends the recycled one out until dropped.
            let mut whole = Vec::from(std::mem::take(src));
            src.extend_from_slice(&whole[total..]);
            whole.truncate(total);
            return Ok(Some(buffers::into_bytes(whole, HEADER_LEN)));
        }
        src.advance(HEADER_LEN);
        Ok(Some(src.split_to(len).freeze()))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => {
                let expected = match src.get(..HEADER_LEN) {
                    Some(h) => HEADER_LEN + u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
                    None => HEADER_LEN,
                };
                Err(Error::UnexpectedEof {
                    received: src.len(),
                    expected,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn oversized_header_is_rejected_before_reserving() {
        let mut codec = FrameCodec::new(1024);
        let mut buf = BytesMut::from(&u32::MAX.to_le_bytes()[..]);
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(matches!(err, Error::FrameTooLarge { len, max: 1024 } if len == u32::MAX as u64));
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn frame_of_exactly_max_is_accepted_and_one_more_is_not() {
        let mut codec = FrameCodec::new(8);
        let mut buf = BytesMut::from(&frame(&[7; 8])[..]);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().len(), 8);
        let mut buf = BytesMut::from(&frame(&[7; 9])[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(Error::FrameTooLarge { len: 9, max: 8 })
        ));
    }

    #[test]
    fn eof_inside_header_or_payload_is_unexpected_eof() {
        let whole = frame(b"hello");
        for cut in 1..whole.len() {
            let mut codec = FrameCodec::new(64);
            let mut buf = BytesMut::from(&whole[..cut]);
            let err = codec.decode_eof(&mut buf).unwrap_err();
            assert!(
                matches!(err, Error::UnexpectedEof { received, .. } if received == cut),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn eof_between_frames_is_a_clean_end() {
        let mut codec = FrameCodec::new(64);
        let mut buf = BytesMut::new();
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }

    #[test]
    fn zero_length_frame_is_an_empty_payload() {
        let mut codec = FrameCodec::new(64);
        let mut buf = BytesMut::from(&frame(b"")[..]);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().len(), 0);
        assert!(buf.is_empty());
    }

    #[test]
    fn large_frames_arrive_whole_however_the_stream_is_chunked() {
        let large = |fill: u8, len: usize| frame(&vec![fill; len]);
        let lens = [
            buffers::LARGE,
            5,
            buffers::LARGE * 3 + 1,
            0,
            buffers::MAX_POOLED,
        ];
        let stream: Vec<u8> = lens
            .iter()
            .enumerate()
            .flat_map(|(i, &len)| large(i as u8, len))
            .collect();
        for chunk in [1000, 4096, 65_536, 1 << 20, stream.len()] {
            let mut codec = FrameCodec::new(buffers::MAX_POOLED);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(f) = codec.decode(&mut buf).unwrap() {
                    got.push(f);
                }
            }
            assert!(buf.is_empty(), "chunk {chunk}: {} bytes left", buf.len());
            let got_lens: Vec<usize> = got.iter().map(|f| f.len()).collect();
            assert_eq!(got_lens, lens, "chunk {chunk}");
            for (i, f) in got.iter().enumerate() {
                assert!(f.iter().all(|&b| b == i as u8), "chunk {chunk}: frame {i}");
            }
        }
    }

    #[test]
    fn frames_looked_at_in_place_are_the_frames_decoded() {
        let mut stream = frame(b"one");
        stream.extend(frame(b""));
        stream.extend(frame(&vec![7; buffers::LARGE]));
        stream.extend(frame(b"four"));
        for split in [0, 1, 5, 9, 100, stream.len() - 3, stream.len()] {
            let mut codec = FrameCodec::new(buffers::MAX_POOLED);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for chunk in [&stream[..split], &stream[split..]] {
                buf.extend_from_slice(chunk);
                while let Some(f) = codec.decode_with(&mut buf, <[u8]>::to_vec).unwrap() {
                    got.push(f);
                }
            }
            let want = [
                b"one".to_vec(),
                vec![],
                vec![7; buffers::LARGE],
                b"four".to_vec(),
            ];
            assert_eq!(got, want, "split at {split}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn every_split_point_yields_the_same_frames() {
        let mut stream = frame(b"one");
        stream.extend(frame(b""));
        stream.extend(frame(b"three"));
        for split in 0..=stream.len() {
            let mut codec = FrameCodec::new(64);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for chunk in [&stream[..split], &stream[split..]] {
                buf.extend_from_slice(chunk);
                while let Some(f) = codec.decode(&mut buf).unwrap() {
                    got.push(f.to_vec());
                }
            }
            assert_eq!(got, [&b"one"[..], b"", b"three"], "split at {split}");
        }
    }
}
