//! A stranger's first frame, as the host's acceptor reads it (RELIABILITY.md rows 14, 15 and 40).
//!
//! The acceptor reads the first frame with `FrameCodec::new(MAX_HELLO_LEN)`, so the payload it
//! decodes is at most `MAX_HELLO_LEN` bytes: the input is truncated to that. It then decodes a
//! `ToHost` header and a `Hello` body. (The acceptor decodes the body only after a
//! `ToHost::Hello` header; this target decodes it after any header, which covers more.)
//! Properties:
//! - never panics, and never allocates more than `-rss_limit_mb`;
//! - a `Hello` that decodes re-encodes, under the same `MAX_HELLO_LEN` limit, to a frame that
//!   decodes back to the same header and `Hello`.
#![no_main]

use ipc2_common::handshake::{Hello, MAX_HELLO_LEN};
use ipc2_common::{HEADER_LEN, ToHost, codec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(MAX_HELLO_LEN)];
    let Ok((header, body)) = codec::decode_header::<ToHost>(data) else {
        return;
    };
    let Ok(hello) = codec::decode_body::<Hello>(body) else {
        return;
    };
    let frame = codec::encode_frame(&header, Some(&hello), MAX_HELLO_LEN)
        .unwrap_or_else(|err| panic!("a {}-byte hello does not re-encode: {err:?}", data.len()));
    let (header2, body2) =
        codec::decode_header::<ToHost>(&frame[HEADER_LEN..]).expect("re-encoded header decodes");
    assert_eq!(header2, header);
    assert_eq!(
        codec::decode_body::<Hello>(body2).expect("re-encoded hello decodes"),
        hello
    );
});
