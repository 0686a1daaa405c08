//! What both sides of ipc2 need: the wire protocol, the codec and the transports.
//!
//! ipc2 users rarely name this crate: the `ipc2` facade re-exports what they need. It exists so the
//! host crate (`ipc2_host`) and the worker crate (`ipc2_worker`) speak exactly the same protocol
//! from one definition.
//!
//! A frame on the wire is a 4-byte little-endian length followed by that many bytes of payload
//! ([`FrameCodec`]). The payload is an envelope header ([`ToWorker`] or [`ToHost`]) followed by the
//! body, both encoded with bincode through the one [`codec`] module.
//!
//! ```
//! use ipc2_common::{codec, ToWorker};
//!
//! let frame = codec::encode_frame(&ToWorker::Request { id: 7 }, Some(&(6u32, 7u32)), 1024)?;
//! let (header, body) = codec::decode_header::<ToWorker>(&frame[4..])?;
//! assert_eq!(header, ToWorker::Request { id: 7 });
//! assert_eq!(codec::decode_body::<(u32, u32)>(body)?, (6, 7));
//! # Ok::<(), ipc2_common::Error>(())
//! ```
// `unix.rs` has the only unsafe code: registering a socket with tokio, and telling it how many
// bytes a `recv` filled.
#![doc(test(attr(deny(warnings))))]

mod any_client;
mod attached;
mod buffers;
pub mod codec;
mod envelope;
mod error;
pub mod fd;
mod frame;
pub mod handshake;
mod handshaking;
pub mod id_map;
mod no_events;
pub mod outbox;
pub mod schema;
pub mod shm;
pub mod tcp;
pub mod tls;
mod transport;
pub mod unix;

pub use any_client::AnyClient;
pub use attached::Attached;
pub use envelope::{Announcement, Header, ToHost, ToWorker};
pub use error::{Error, human_bytes, write_report};
pub use frame::{DEFAULT_MAX_FRAME_LEN, FrameCodec, HEADER_LEN};
pub use handshaking::Handshaking;
pub use no_events::NoEvents;
pub use transport::{Client, Direct, Peer, Read, ReadHalf, ReceivedFds, Server, Write, WriteHalf};
