//! The envelope headers that start every frame's payload.
//!
//! A payload is a header followed by a body (bincode, back to back). The header says what the
//! frame is and, for requests and replies, which call it belongs to; the body is the user's value
//! (a job, a reply), the [`crate::handshake::Hello`], or a failure reason, depending on the header.
//! Keeping the header separate lets the I/O tasks route a frame by reading a few bytes, and lets the
//! caller decode its own body on its own task.
//!
//! Every frame has a header, so the codec writes and reads headers itself (see [`Header`]), in
//! exactly the bytes bincode would produce for these enums: a header costs a few instructions
//! instead of a trip through serde.

use serde::{Deserialize, Serialize};

/// Headers of frames the host sends to a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToWorker {
    /// A job that expects a reply. Body: the job.
    Request {
        /// Identifies the call; the reply carries the same id.
        id: u64,
    },
    /// A job that expects no reply. Body: the job.
    Notify,
    /// The caller of request `id` gave up on it (a timeout, or it stopped waiting); the worker
    /// may stop working on it. No body. The worker still answers the request, usually with a
    /// failure, so the host knows when the worker is free again.
    Cancel {
        /// The id of the request given up on.
        id: u64,
    },
    /// The worker may send this many more [`ToHost::Item`]s of streaming request `id`. Body: the
    /// number, a `u32`. The host sends the first right after the request (its stream window)
    /// and more as its caller reads items, so a worker never has more than the window on its
    /// way to the host.
    Credit {
        /// The id of the streaming request.
        id: u64,
    },
    /// A job that expects a stream of replies ([`ToHost::Item`]s, then [`ToHost::End`]). Body:
    /// the job. A [`ToWorker::Credit`] with the host's window follows at once.
    Stream {
        /// Identifies the call; its items and end carry the same id.
        id: u64,
    },
    /// The next frame's body carries `count` file descriptors, which arrive with this frame's
    /// bytes (`SCM_RIGHTS`). No body. See [`crate::fd`].
    Fds {
        /// How many.
        count: u64,
    },
    /// The host has checked the worker's hello and types and accepted it: the first frame the
    /// host sends on a connection, so a worker the host refuses learns it at once, from the
    /// connection's end, instead of taking a refusal for a host that has no jobs yet. Body: the
    /// [`Settings`](crate::handshake::Settings) the worker runs with.
    Welcome,
    /// The host will not take this worker: sent in place of the welcome to a worker on another
    /// machine (which cannot read the host's log) once the transport has authenticated it, and
    /// followed by the end of the connection. Body: the reason, a `String` that fits in
    /// [`MAX_WELCOME_LEN`](crate::handshake::MAX_WELCOME_LEN).
    Refused,
    /// The next frame's body is not in its bytes: it is the `len` bytes of the sealed memory
    /// file that arrives with this frame's bytes (`SCM_RIGHTS`). No body. See [`crate::shm`].
    Shared {
        /// The body's length.
        len: u64,
    },
}

/// Headers of frames a worker sends to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToHost {
    /// The first frame of every connection. Body: [`crate::handshake::Hello`].
    Hello,
    /// The answer to a request. Body: the reply.
    Reply {
        /// The id of the request being answered.
        id: u64,
    },
    /// The worker could not answer a request. Body: the reason, a `String`.
    Failed {
        /// The id of the request that failed.
        id: u64,
    },
    /// A message the worker sends on its own initiative (progress, a log line, the result of
    /// background work). Body: the message, of the worker → host type.
    Event,
    /// "Still here": sent at the interval the host asked for, by the worker's I/O task, so the
    /// host can tell a worker busy with a long job from one whose I/O is stuck. No body.
    Heartbeat,
    /// Right after the `Hello` of a worker whose types differ from those the host announced in
    /// its invitation, so the host can say how. Body: [`crate::schema::Description`].
    Types,
    /// One item of the stream that answers request `id`. Body: the item, of the worker → host
    /// type. Sent only as far as the host's [`ToWorker::Credit`]s allow.
    Item {
        /// The id of the streaming request.
        id: u64,
    },
    /// The stream that answers request `id` has ended: the answer is complete. No body.
    End {
        /// The id of the streaming request.
        id: u64,
    },
    /// The next frame's body carries `count` file descriptors, which arrive with this frame's
    /// bytes (`SCM_RIGHTS`). No body. See [`crate::fd`].
    Fds {
        /// How many.
        count: u64,
    },
    /// The next frame's body is not in its bytes: it is the `len` bytes of the sealed memory
    /// file that arrives with this frame's bytes (`SCM_RIGHTS`). No body. See [`crate::shm`].
    Shared {
        /// The body's length.
        len: u64,
    },
}

/// What a frame that only announces the next one says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announcement {
    /// The next frame's body carries this many file descriptors ([`crate::fd`]).
    Fds(u64),
    /// The next frame's body is in shared memory, this many bytes of it ([`crate::shm`]).
    Shared(u64),
}

/// An envelope header: [`ToWorker`] or [`ToHost`]. Sealed: the codec knows how to write each one.
///
/// On the wire a header is what bincode makes of the enum: the variant's index as a varint, then
/// the request id (a varint) for the variants that carry one.
pub trait Header: Copy + sealed::Sealed {
    /// The variant's index, and its request id if it carries one.
    fn to_wire(self) -> (u32, Option<u64>);

    /// The header with variant index `tag`, taking its request id from `id` if that variant
    /// carries one. `None` for an unknown variant, or when `id` has none to give.
    fn from_wire(tag: u32, id: impl FnOnce() -> Option<u64>) -> Option<Self>;

    /// The header announcing that the next frame carries `count` descriptors.
    fn fds(count: u64) -> Self;

    /// The header announcing that the next frame's body is `len` bytes in shared memory.
    fn shared(len: u64) -> Self;

    /// What this header announces of the next frame, if it is an announcement: derived from
    /// [`fds`](Self::fds) and [`shared`](Self::shared), the two announcing headers.
    fn announcement(&self) -> Option<Announcement> {
        let (tag, id) = self.to_wire();
        let n = id?;
        if tag == Self::fds(n).to_wire().0 {
            Some(Announcement::Fds(n))
        } else if tag == Self::shared(n).to_wire().0 {
            Some(Announcement::Shared(n))
        } else {
            None
        }
    }

    /// Whether a frame with this header may carry descriptors: a job (request, stream request
    /// or one-way message) or a reply. Stream items and events may not.
    fn carries_fds(&self) -> bool;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ToWorker {}
    impl Sealed for super::ToHost {}
}

impl Header for ToWorker {
    fn to_wire(self) -> (u32, Option<u64>) {
        match self {
            Self::Request { id } => (0, Some(id)),
            Self::Notify => (1, None),
            Self::Cancel { id } => (2, Some(id)),
            Self::Credit { id } => (3, Some(id)),
            Self::Stream { id } => (4, Some(id)),
            Self::Fds { count } => (5, Some(count)),
            Self::Welcome => (6, None),
            Self::Refused => (7, None),
            Self::Shared { len } => (8, Some(len)),
        }
    }

    fn fds(count: u64) -> Self {
        Self::Fds { count }
    }

    fn shared(len: u64) -> Self {
        Self::Shared { len }
    }

    fn carries_fds(&self) -> bool {
        matches!(
            self,
            Self::Request { .. } | Self::Stream { .. } | Self::Notify
        )
    }

    fn from_wire(tag: u32, id: impl FnOnce() -> Option<u64>) -> Option<Self> {
        Some(match tag {
            0 => Self::Request { id: id()? },
            1 => Self::Notify,
            2 => Self::Cancel { id: id()? },
            3 => Self::Credit { id: id()? },
            4 => Self::Stream { id: id()? },
            5 => Self::Fds { count: id()? },
            6 => Self::Welcome,
            7 => Self::Refused,
            8 => Self::Shared { len: id()? },
            _ => return None,
        })
    }
}

impl Header for ToHost {
    fn to_wire(self) -> (u32, Option<u64>) {
        match self {
            Self::Hello => (0, None),
            Self::Reply { id } => (1, Some(id)),
            Self::Failed { id } => (2, Some(id)),
            Self::Event => (3, None),
            Self::Heartbeat => (4, None),
            Self::Types => (5, None),
            Self::Item { id } => (6, Some(id)),
            Self::End { id } => (7, Some(id)),
            Self::Fds { count } => (8, Some(count)),
            Self::Shared { len } => (9, Some(len)),
        }
    }

    fn fds(count: u64) -> Self {
        Self::Fds { count }
    }

    fn shared(len: u64) -> Self {
        Self::Shared { len }
    }

    fn carries_fds(&self) -> bool {
        matches!(self, Self::Reply { .. })
    }

    fn from_wire(tag: u32, id: impl FnOnce() -> Option<u64>) -> Option<Self> {
        Some(match tag {
            0 => Self::Hello,
            1 => Self::Reply { id: id()? },
            2 => Self::Failed { id: id()? },
            3 => Self::Event,
            4 => Self::Heartbeat,
            5 => Self::Types,
            6 => Self::Item { id: id()? },
            7 => Self::End { id: id()? },
            8 => Self::Fds { count: id()? },
            9 => Self::Shared { len: id()? },
            _ => return None,
        })
    }
}
