//! The one error type of the protocol layer.

use std::fmt;
use std::io;

/// What can go wrong while framing, encoding or decoding a message.
///
/// Every variant means the connection it happened on can no longer be trusted: the side that sees
/// it closes that one connection, and nothing else is affected. `Debug` prints the message (see
/// [`write_report`]).
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame's length exceeds the configured maximum. Raised before anything is allocated for
    /// it when receiving, and before anything is written when sending.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The length the frame has or claims to have.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame ({received} of {expected} bytes received)")]
    UnexpectedEof {
        /// Bytes of the frame (header included) that arrived.
        received: usize,
        /// Bytes the frame needed.
        expected: usize,
    },
    /// A value could not be encoded.
    #[error("could not encode a message: {0}")]
    Encode(#[source] bincode::error::EncodeError),
    /// A payload could not be decoded into the expected type.
    #[error("could not decode a message: {0}")]
    Decode(#[source] bincode::error::DecodeError),
    /// A payload nests values more deeply than the decoder allows ([`codec::MAX_DEPTH`]), so it
    /// was refused before anything that deep was built: decoding it could have overflowed the
    /// decoding thread's stack.
    ///
    /// [`codec::MAX_DEPTH`]: crate::codec::MAX_DEPTH
    #[error(
        "the message nests values more than {limit} levels deep, ipc2's decoding limit (codec::MAX_DEPTH); flatten the type (a Vec of items instead of a recursive chain)"
    )]
    TooDeep {
        /// The limit, [`codec::MAX_DEPTH`](crate::codec::MAX_DEPTH).
        limit: usize,
    },
    /// A payload decoded, but bytes were left over after the value.
    #[error("{extra} unexpected bytes after a decoded message")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
    /// The program was not started by an ipc2 host (no `IPC2_` variables in its environment).
    #[error(
        "this program was not started by an ipc2 host: run it through a WorkerSet, which sets the IPC2_* environment variables, or, to join a host on another machine, set IPC2_CONNECT to its address (tls://host:port) and the transport's credentials"
    )]
    NotStartedByHost,
    /// An `IPC2_` environment variable is missing or malformed.
    #[error("environment variable {var} is invalid: {reason}")]
    InvalidEnv {
        /// The variable's name.
        var: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The peer sent a frame the protocol does not allow where it came.
    #[error("the peer broke the protocol: it sent {0}")]
    UnexpectedFrame(&'static str),
    /// The connection's writer has stopped (the peer is gone, or writing to it failed), so
    /// nothing more can be sent on it.
    #[error("the connection is closed")]
    Closed,
    /// A message carries file descriptors ([`crate::fd`]) over a transport that cannot pass
    /// them.
    #[error(
        "this message carries {count} file descriptor(s), which this transport cannot pass; pass them over the Unix-socket transport"
    )]
    CannotPassFds {
        /// How many it carries.
        count: usize,
    },
    /// The peer's file descriptors do not match its frames: a frame announced descriptors that
    /// did not arrive, more than a message may carry, or descriptors came for a frame that
    /// cannot carry them.
    #[error("the peer's file descriptors do not match its frames: {reason}")]
    BadFds {
        /// What did not match.
        reason: String,
    },
    /// The peer sent a message body in shared memory ([`crate::shm`]) that this side may not
    /// map: not a sealed memory file, not the size it announced, or larger than the frame limit.
    #[error("the peer's shared-memory message body is unusable: {reason}")]
    BadSharedBody {
        /// What is wrong with it.
        reason: String,
    },
    /// Reading from or writing to the connection failed.
    #[error("connection i/o failed: {0}")]
    Io(#[from] io::Error),
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_report(self, f)
    }
}

/// Writes `err` for a person to read: its message, then each cause the message does not already
/// include. The `Debug` of ipc2's errors, so that what `main() -> Result<(), E>` prints (the
/// error's `Debug`) is the sentence that explains it rather than a struct dump.
pub fn write_report(err: &dyn std::error::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut shown = err.to_string();
    f.write_str(&shown)?;
    let mut cause = err.source();
    while let Some(next) = cause {
        let text = next.to_string();
        if !shown.contains(&text) {
            write!(f, "\n  caused by: {text}")?;
            shown.push_str(&text);
        }
        cause = next.source();
    }
    Ok(())
}

/// `bytes` in the largest binary unit that divides it (64 MiB, 1000 bytes), for messages.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit && bytes.is_multiple_of(*unit))
        .map_or_else(
            || format!("{bytes}-byte"),
            |(unit, name)| format!("{} {name}", bytes / unit),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant's message carries its facts and cause.
    #[test]
    fn every_message_says_what_happened() {
        let cases: Vec<(Error, &[&str])> = vec![
            (
                Error::FrameTooLarge { len: 70, max: 64 },
                &["70 bytes", "maximum of 64"],
            ),
            (
                Error::UnexpectedEof {
                    received: 3,
                    expected: 9,
                },
                &["3 of 9 bytes"],
            ),
            (
                Error::Encode(bincode::error::EncodeError::Other("no")),
                &["could not encode", "no"],
            ),
            (
                Error::Decode(bincode::error::DecodeError::UnexpectedEnd { additional: 4 }),
                &["could not decode", "UnexpectedEnd"],
            ),
            (Error::TooDeep { limit: 256 }, &["256 levels", "MAX_DEPTH"]),
            (Error::TrailingBytes { extra: 2 }, &["2 unexpected bytes"]),
            (Error::NotStartedByHost, &["not started by an ipc2 host"]),
            (
                Error::InvalidEnv {
                    var: "IPC2_WORKER_ID",
                    reason: "it is not a number",
                },
                &["IPC2_WORKER_ID", "not a number"],
            ),
            (Error::Closed, &["closed"]),
            (
                Error::BadFds {
                    reason: "a frame announcing 3 file descriptors that did not arrive with it"
                        .into(),
                },
                &["do not match its frames", "announcing 3"],
            ),
            (
                Error::BadSharedBody {
                    reason: "it is not sealed against writes".into(),
                },
                &["shared-memory message body", "not sealed"],
            ),
            (
                Error::CannotPassFds { count: 2 },
                &["carries 2 file descriptor(s)", "Unix-socket transport"],
            ),
            (
                Error::Io(io::Error::from_raw_os_error(104)),
                &["connection i/o failed", "Connection reset"],
            ),
        ];
        for (err, parts) in cases {
            let message = err.to_string();
            for part in parts {
                assert!(message.contains(part), "{part:?} missing from: {message}");
            }
            assert_eq!(format!("{err:?}"), message);
        }
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(1000), "1000-byte");
    }
}
