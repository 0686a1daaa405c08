//! File descriptors as values: `OwnedFd`, `File` and other descriptor-owning types in jobs and
//! replies, passed with `SCM_RIGHTS` over the Unix transport.
//!
//! Mark such a field `#[serde(with = "ipc2::fd")]`:
//!
//! ```
//! # #![allow(dead_code)]
//! use std::fs::File;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Upload {
//!     name: String,
//!     #[serde(with = "ipc2::fd")]
//!     file: File,
//! }
//! ```
//!
//! Encoding a message duplicates each such descriptor (the sender keeps its own) and writes its
//! index among the message's descriptors; the connection sends the duplicates with the frame,
//! and the receiver's decoding takes each one back by its index. A message carries at most
//! [`MAX_PER_MESSAGE`]. Outside ipc2's encoding (another serde format, or a transport that
//! cannot pass descriptors) a descriptor field is an error, not a number that would mean a
//! different file in another process. Descriptors a receiver does not use, because the message
//! did not decode or named fewer than came, are closed with it.

use std::cell::RefCell;
use std::os::fd::{AsFd, OwnedFd};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// The most descriptors one message may carry.
pub const MAX_PER_MESSAGE: usize = 8;

thread_local! {
    /// The descriptors of the message being encoded on this thread, while it is.
    static OUTGOING: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    /// The descriptors of the message being decoded on this thread, while it is.
    static INCOMING: RefCell<Option<Vec<Option<OwnedFd>>>> = const { RefCell::new(None) };
}

/// Serializes a descriptor field: see the [module docs](self).
pub fn serialize<F: AsFd, S: Serializer>(fd: &F, serializer: S) -> Result<S::Ok, S::Error> {
    let index = OUTGOING.with(|outgoing| {
        let mut outgoing = outgoing.borrow_mut();
        let Some(fds) = outgoing.as_mut() else {
            return Err(S::Error::custom(
                "a file descriptor can only be sent in an ipc2 message (a job, reply or event)",
            ));
        };
        if fds.len() >= MAX_PER_MESSAGE {
            return Err(S::Error::custom(format!(
                "a message carries at most {MAX_PER_MESSAGE} file descriptors"
            )));
        }
        let copy = fd.as_fd().try_clone_to_owned().map_err(|err| {
            S::Error::custom(format!(
                "could not duplicate a file descriptor to send: {err}"
            ))
        })?;
        fds.push(copy);
        Ok(fds.len() - 1)
    })?;
    serializer.serialize_u32(index as u32)
}

/// Deserializes a descriptor field: see the [module docs](self).
pub fn deserialize<'de, T: From<OwnedFd>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    let index = u32::deserialize(deserializer)? as usize;
    INCOMING
        .with(|incoming| {
            incoming
                .borrow_mut()
                .as_mut()
                .and_then(|fds| fds.get_mut(index))
                .and_then(Option::take)
        })
        .map(T::from)
        .ok_or_else(|| {
            D::Error::custom(format!(
                "file descriptor {index} of this message did not arrive with it (each is sent once, with its message, over a transport that passes descriptors)"
            ))
        })
}

/// Puts back, when dropped (also by a panic in a user's `Serialize` or `Deserialize`), the
/// table that was in place before: a table never outlives the message it belongs to.
struct Restore<T: 'static> {
    key: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    outer: Option<Option<T>>,
}

impl<T> Restore<T> {
    fn set(key: &'static std::thread::LocalKey<RefCell<Option<T>>>, table: T) -> Self {
        let outer = key.with(|current| current.replace(Some(table)));
        Self {
            key,
            outer: Some(outer),
        }
    }

    /// Puts the outer table back and returns this one.
    fn finish(mut self) -> Option<T> {
        let outer = self.outer.take().flatten();
        self.key.with(|current| current.replace(outer))
    }
}

impl<T> Drop for Restore<T> {
    fn drop(&mut self) {
        if let Some(outer) = self.outer.take() {
            self.key.with(|current| current.replace(outer));
        }
    }
}

/// Runs `encode` collecting the descriptors its values serialize; returns them with its result.
/// A message encoded inside `encode` (by a `Serialize` impl) collects its own.
pub fn collecting<T>(encode: impl FnOnce() -> T) -> (T, Vec<OwnedFd>) {
    let table = Restore::set(&OUTGOING, Vec::new());
    let out = encode();
    (out, table.finish().unwrap_or_default())
}

/// How many descriptors have been collected so far, for [`truncate_collected`].
pub(crate) fn collected() -> usize {
    OUTGOING.with(|outgoing| outgoing.borrow().as_ref().map_or(0, Vec::len))
}

/// Forgets (closing the duplicates) the descriptors collected after the first `mark`: for an
/// encoder that serializes a value twice, once to measure it.
pub(crate) fn truncate_collected(mark: usize) {
    OUTGOING.with(|outgoing| {
        if let Some(fds) = outgoing.borrow_mut().as_mut() {
            fds.truncate(mark);
        }
    });
}

/// Runs `decode` with `fds` as the descriptors of the message it decodes; those it does not
/// take are closed. A message decoded inside `decode` sees only its own.
pub fn receiving<T>(fds: Vec<OwnedFd>, decode: impl FnOnce() -> T) -> T {
    let table = Restore::set(&INCOMING, fds.into_iter().map(Some).collect());
    let out = decode();
    drop(table.finish());
    out
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, Write};

    use serde::Serialize;

    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Message {
        #[serde(with = "crate::fd")]
        file: std::fs::File,
        n: u32,
    }

    #[test]
    fn a_descriptor_is_encoded_as_an_index_and_decoded_from_the_message_s_table() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"contents").unwrap();
        let message = Message { file, n: 7 };
        let (bytes, fds) =
            collecting(|| bincode::serde::encode_to_vec(&message, bincode::config::standard()));
        let bytes = bytes.unwrap();
        assert_eq!(fds.len(), 1);
        let (mut got, _): (Message, _) = receiving(fds, || {
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard())
        })
        .unwrap();
        assert_eq!(got.n, 7);
        got.file.rewind().unwrap();
        let mut read = String::new();
        got.file.read_to_string(&mut read).unwrap();
        assert_eq!(read, "contents");
    }

    #[test]
    fn outside_ipc2_or_without_its_descriptor_a_field_is_an_error() {
        let message = Message {
            file: tempfile::tempfile().unwrap(),
            n: 1,
        };
        let err = bincode::serde::encode_to_vec(&message, bincode::config::standard()).unwrap_err();
        assert!(
            err.to_string().contains("only be sent in an ipc2 message"),
            "{err}"
        );

        let (bytes, fds) =
            collecting(|| bincode::serde::encode_to_vec(&message, bincode::config::standard()));
        drop(fds);
        let err = bincode::serde::decode_from_slice::<Message, _>(
            &bytes.unwrap(),
            bincode::config::standard(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("did not arrive with it"), "{err}");
    }

    #[test]
    fn a_panicking_encode_leaves_no_table_behind_and_nested_messages_keep_their_own() {
        let caught = std::panic::catch_unwind(|| collecting(|| panic!("a Serialize panicked")));
        assert!(caught.is_err());
        let message = Message {
            file: tempfile::tempfile().unwrap(),
            n: 1,
        };
        let err = bincode::serde::encode_to_vec(&message, bincode::config::standard()).unwrap_err();
        assert!(
            err.to_string().contains("only be sent in an ipc2 message"),
            "{err}"
        );

        let ((inner, outer_bytes), outer) = collecting(|| {
            let inner =
                collecting(|| bincode::serde::encode_to_vec(&message, bincode::config::standard()));
            let outer = bincode::serde::encode_to_vec(&message, bincode::config::standard());
            (inner, outer)
        });
        assert!(outer_bytes.is_ok() && inner.0.is_ok());
        assert_eq!((inner.1.len(), outer.len()), (1, 1));
    }

    #[test]
    fn a_message_carries_at_most_the_limit() {
        #[derive(Serialize)]
        struct Many(#[serde(serialize_with = "many")] Vec<std::fs::File>);
        fn many<S: Serializer>(files: &[std::fs::File], s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = s.serialize_seq(Some(files.len()))?;
            for file in files {
                seq.serialize_element(&Wrapped(file))?;
            }
            seq.end()
        }
        struct Wrapped<'a>(&'a std::fs::File);
        impl Serialize for Wrapped<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serialize(self.0, s)
            }
        }
        let files = (0..=MAX_PER_MESSAGE)
            .map(|_| tempfile::tempfile().unwrap())
            .collect();
        let (bytes, _) =
            collecting(|| bincode::serde::encode_to_vec(Many(files), bincode::config::standard()));
        let err = bytes.unwrap_err();
        assert!(
            err.to_string().contains("at most 8 file descriptors"),
            "{err}"
        );
    }
}
