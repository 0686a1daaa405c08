//! Bodies a hostile peer sends, written byte by byte: building them as values would overflow the
//! stack of whoever encoded (and dropped) them, which is the point.
//!
//! Each is in bincode's standard encoding, the one ipc2 uses: an enum is its variant index as a
//! varint, then its fields; a sequence is its length as a varint, then its elements.

use crate::jobs::{Nest, TestJob, TestReply};

const NEST_LEAF: u8 = 0;
const NEST_NODE: u8 = 1;
const NEST_MANY: u8 = 2;

/// A [`Nest`] of `depth` `Node`s around a `Leaf`.
pub fn deep_nest(depth: usize) -> Vec<u8> {
    let mut body = vec![NEST_NODE; depth];
    body.push(NEST_LEAF);
    body
}

/// A [`Nest`] of about `len` bytes: `Many`s inside `Many`s, each claiming `u32::MAX` elements and
/// holding only the next one, so every level asks the decoder to reserve room for 4 billion.
pub fn claiming_nest(len: usize) -> Vec<u8> {
    let level = [NEST_MANY, 252, 0xff, 0xff, 0xff, 0xff];
    let mut body: Vec<u8> = level.iter().copied().cycle().take(len).collect();
    body.truncate(len / level.len() * level.len());
    body.push(NEST_LEAF);
    body
}

/// `nest` as the body of a `TestReply::Nest`.
pub fn as_reply(nest: &[u8]) -> Vec<u8> {
    with_prefix_of(&TestReply::Nest(Nest::Leaf), nest)
}

/// `nest` as the body of a `TestJob::Nest`.
pub fn as_job(nest: &[u8]) -> Vec<u8> {
    with_prefix_of(&TestJob::Nest(Nest::Leaf), nest)
}

/// The bytes of `wrapper` (a value whose last byte is a `Nest::Leaf`) with `nest` in place of
/// that leaf.
fn with_prefix_of<T: serde::Serialize>(wrapper: &T, nest: &[u8]) -> Vec<u8> {
    let mut bytes = bincode::serde::encode_to_vec(wrapper, bincode::config::standard())
        .expect("a shallow value encodes");
    assert_eq!(bytes.pop(), Some(NEST_LEAF));
    bytes.extend_from_slice(nest);
    bytes
}

/// A job that serializes as the bytes it holds, whatever they are: how a test host sends a body
/// that no honest `TestJob` value encodes to.
#[derive(Debug, Clone)]
pub struct RawJob(pub Vec<u8>);

impl RawJob {
    /// The bytes of an honest job.
    pub fn of(job: &TestJob) -> RawJob {
        RawJob(
            bincode::serde::encode_to_vec(job, bincode::config::standard()).expect("a job encodes"),
        )
    }
}

/// Read as the `TestJob` it stands for, so that the description of its type at the handshake is
/// `TestJob`'s and the test worker accepts the host.
impl<'de> serde::Deserialize<'de> for RawJob {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        TestJob::deserialize(deserializer).map(|job| RawJob::of(&job))
    }
}

impl serde::Serialize for RawJob {
    /// bincode writes a tuple's elements with no length before them, and a `u8` as its byte.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for byte in &self.0 {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}
