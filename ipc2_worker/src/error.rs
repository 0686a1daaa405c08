//! The worker crate's error type.

use std::io;

/// What can go wrong on the worker side. `Debug` prints the message, so a worker binary run by
/// hand whose `main` returns this error says why in a sentence.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The environment does not hold a valid invitation, a message could not be encoded, or the
    /// connection broke. `Protocol(NotStartedByHost)` means the program was run by hand.
    #[error(transparent)]
    Protocol(ipc2_common::Error),
    /// The host's address could not be reached.
    #[error("could not connect to the host at {address}: {source}")]
    Connect {
        /// The address from the environment.
        address: String,
        /// Why connecting failed.
        #[source]
        source: io::Error,
    },
    /// The host did not accept this worker: it closed the connection instead of welcoming it, or
    /// did not welcome it within its startup timeout.
    #[error("the host at {address} did not accept this worker: {reason}")]
    Refused {
        /// The host's address.
        address: String,
        /// What the connection said instead of a welcome.
        reason: String,
    },
    /// The connection to the host is closed, so the reply cannot be delivered.
    #[error("the connection to the host is closed")]
    Closed,
    /// The host gave up on the stream being sent: its reader dropped it, or its time limit
    /// expired. Stop producing and drop the [`StreamSender`](crate::StreamSender).
    #[error("the host cancelled this stream: its reader dropped it, or its time limit expired")]
    Cancelled,
    /// [`emit`](crate::emit()) was called outside a service's handler.
    #[error(
        "ipc2::worker::emit was called outside a service handler: call it from the handler itself \
         (a task the handler spawns does not inherit its scope; send what it produces back to the \
         handler), or use the raw API's EventSender"
    )]
    NotInHandler,
    /// [`emit`](crate::emit()) was given a value of another type than the service's events.
    #[error(
        "ipc2::worker::emit was given a value of type {emitted}, but this service's events are \
         {expected} (declared with #[ipc2::service(event = ...)]); emit a {expected}"
    )]
    EventType {
        /// The service's event type.
        expected: &'static str,
        /// The type of the value given.
        emitted: &'static str,
    },
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        ipc2_common::write_report(self, f)
    }
}

impl From<ipc2_common::Error> for Error {
    fn from(err: ipc2_common::Error) -> Self {
        match err {
            ipc2_common::Error::Closed => Error::Closed,
            other => Error::Protocol(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant's message says what happened; `Debug` (what `main` prints) says the same.
    #[test]
    fn every_message_says_what_happened() {
        let cases: [(Error, &[&str]); 7] = [
            (
                Error::from(ipc2_common::Error::NotStartedByHost),
                &["not started by an ipc2 host", "run it through a WorkerSet"],
            ),
            (
                Error::from(ipc2_common::Error::InvalidEnv {
                    var: "IPC2_TOKEN_FILE",
                    reason: "the file it names cannot be read",
                }),
                &["IPC2_TOKEN_FILE", "cannot be read"],
            ),
            (
                Error::Connect {
                    address: "/run/user/1000/ipc2-1-x/ipc2.sock".into(),
                    source: io::Error::from_raw_os_error(111),
                },
                &["/run/user/1000/ipc2-1-x/ipc2.sock", "Connection refused"],
            ),
            (
                Error::from(ipc2_common::Error::Closed),
                &["connection to the host is closed"],
            ),
            (
                Error::Cancelled,
                &["host cancelled this stream", "reader dropped it"],
            ),
            (
                Error::NotInHandler,
                &["outside a service handler", "spawns does not inherit"],
            ),
            (
                Error::EventType {
                    expected: "app::Progress",
                    emitted: "alloc::string::String",
                },
                &[
                    "of type alloc::string::String",
                    "events are app::Progress",
                    "emit a app::Progress",
                ],
            ),
        ];
        for (err, parts) in cases {
            let message = err.to_string();
            for part in parts {
                assert!(message.contains(part), "{part:?} missing from: {message}");
            }
            assert_eq!(format!("{err:?}"), message, "Debug reads as the message");
        }
    }
}
