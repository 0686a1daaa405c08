//! A frame's payload from a peer: envelope header, then a body (RELIABILITY.md rows 7-10 and 40).
//!
//! The input is one payload (the frame's length prefix already stripped). It is decoded as a
//! `ToHost` header and as a `ToWorker` header, and the rest as each of a few realistic body types.
//! Properties:
//! - decoding never panics, and never allocates more than `-rss_limit_mb` (ASan's malloc limit
//!   catches a forged `Vec`/`String` length);
//! - a body that decodes re-encodes with `encode_frame` without error, and that frame decodes
//!   back to the same header and value, with a body no longer than the one that was read.
#![no_main]

use std::fmt::Debug;

use ipc2_common::{HEADER_LEN, Header, ToHost, ToWorker, codec};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A service's job enum as `#[ipc2::service]` users would write one.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Job {
    Put {
        key: String,
        value: Vec<u8>,
        ttl: u64,
    },
    Rename(String, Vec<u8>),
    Resize(u64, u64),
    Echo(String),
    Stop,
}

fn body<H, T>(header: &H, body: &[u8])
where
    H: Header + PartialEq + Debug,
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(value) = codec::decode_body::<T>(body) else {
        return;
    };
    let frame = codec::encode_frame(header, Some(&value), usize::MAX)
        .unwrap_or_else(|err| panic!("decoded {value:?} but could not re-encode it: {err:?}"));
    let len = u32::from_le_bytes(frame[..HEADER_LEN].try_into().unwrap()) as usize;
    let payload = &frame[HEADER_LEN..];
    assert_eq!(len, payload.len());
    let (header2, body2) = codec::decode_header::<H>(payload).expect("re-encoded header decodes");
    assert_eq!(&header2, header);
    let value2 = codec::decode_body::<T>(body2).expect("re-encoded body decodes");
    assert_eq!(value2, value);
    assert!(
        body2.len() <= body.len(),
        "re-encoding grew the body from {} to {} bytes",
        body.len(),
        body2.len()
    );
}

fn bodies<H>(data: &[u8])
where
    H: Header + PartialEq + Debug,
{
    let Ok((header, rest)) = codec::decode_header::<H>(data) else {
        return;
    };
    assert!(rest.len() < data.len(), "a header takes at least one byte");
    body::<H, String>(&header, rest);
    body::<H, Vec<u8>>(&header, rest);
    body::<H, Vec<String>>(&header, rest);
    body::<H, (u32, u32)>(&header, rest);
    body::<H, Option<Vec<u64>>>(&header, rest);
    body::<H, Job>(&header, rest);
}

fuzz_target!(|data: &[u8]| {
    bodies::<ToHost>(data);
    bodies::<ToWorker>(data);
});
