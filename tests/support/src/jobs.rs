//! The jobs the test worker understands, shared by the tests and the worker itself.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One behaviour of the test worker per variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TestJob {
    /// Reply `Sum { sum: a + b, pid }`.
    Add(u32, u32),
    /// Reply the worker's `IPC2_ADDRESS` (or, for a worker an orchestrator started, `IPC2_CONNECT`).
    Address,
    /// Reply `Bytes` with the same bytes.
    Echo(Vec<u8>),
    /// Sleep this many milliseconds, then reply `Done`.
    Sleep(u64),
    /// Block the thread that runs the job loop for this many milliseconds (`std::thread::sleep`),
    /// then reply `Done`. On a current-thread runtime (`TEST_WORKER_RUNTIME=current-thread`)
    /// nothing else of the worker's runs meanwhile, not even its connection's reader.
    Block(u64),
    /// Write the worker's pid to `marker` (with [`crate::write_pid`]), then sleep `ms` milliseconds
    /// and reply `Done`. With `ms: u64::MAX` it never answers.
    Pause { marker: PathBuf, ms: u64 },
    /// Drop the reply handle without answering.
    DropReply,
    /// Fail the request (`ReplySender::fail`) with a reason of this many `é`s (two bytes each).
    Fail(usize),
    /// Exit the process with this code without answering.
    Exit(i32),
    /// Reply `Args` with the worker's command-line arguments (without the program name).
    Args,
    /// Count a one-way message (send with `notify`).
    Note,
    /// Reply `Count` with the number of `Note`s received so far.
    Count,
    /// Start a grandchild (`sh -c 'sleep 30 & echo $!'`, which inherits the worker's process
    /// group and stderr) and reply `Pid` with the grandchild's pid.
    SpawnGrandchild,
    /// Start a grandchild that calls `setsid` (leaving the worker's process group and session)
    /// and then writes to its stderr, the host's pipe, every 200 ms for a minute, ignoring
    /// SIGPIPE; reply `Pid` with its pid.
    SpawnDetached,
    /// Print `"{0} out"` to stdout and `"{0} err"` to stderr, then reply `Done`.
    Print(String),
    /// Send the host `n` events, `Count(0)` to `Count(n - 1)`, then reply `Done`.
    Emit(u64),
    /// Stop the whole worker process with SIGSTOP: it answers nothing, not even heartbeats.
    Freeze,
    /// Write `"the first line of the crash"` and then `lines` lines of a backtrace to stderr,
    /// and exit with code 101 without answering.
    Crash { lines: usize },
    /// Reply `Args` with the lines `sh -c env` prints: what a process the worker starts inherits.
    Env,
    /// Run this worker's own binary as a child, with the environment it inherits, and reply
    /// `Args` with its exit code and stderr: a process the worker starts, trying to join as a
    /// worker.
    RunSelf,
    /// Reply `Numbers` with the same numbers: a message of the same shape in each direction.
    Numbers(Numbers),
    /// Reply `Done`. Honest hosts send shallow ones; `crate::hostile` builds the others.
    Nest(Nest),
    /// Answer with a stream of `Count(0)` to `Count(count - 1)`, `gap_ms` apart, sent from a
    /// task of its own (so the worker takes other jobs meanwhile), each counted in the worker's
    /// production counter ([`TestJob::Produced`]); then end it as `end` says. If the host cancels
    /// the stream, write how many items were sent to `marker`.
    Stream {
        count: u64,
        gap_ms: u64,
        end: StreamEnd,
        marker: Option<PathBuf>,
    },
    /// Reply `Count` with how many stream items this worker has sent so far.
    Produced,
    /// Read the descriptor to its end (a file from its start) and reply `Bytes` with what it
    /// held.
    ReadFd(Fd),
    /// Make a pipe, write the text into it, close its write end, and reply `Fd` with its read
    /// end.
    MakePipe(String),
}

/// A descriptor in a job or reply, passed with `SCM_RIGHTS` (`ipc2::fd`). Shared, so that jobs
/// stay `Clone`; two are equal if they are the same descriptor of this process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fd(#[serde(with = "ipc2::fd")] pub std::sync::Arc<std::os::fd::OwnedFd>);

impl PartialEq for Fd {
    fn eq(&self, other: &Self) -> bool {
        use std::os::fd::AsRawFd;
        self.0.as_raw_fd() == other.0.as_raw_fd()
    }
}

impl Eq for Fd {}

/// How a [`TestJob::Stream`] ends after its last item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamEnd {
    /// It ends.
    End,
    /// It fails with "the stream failed on purpose".
    Fail,
    /// It stays open: the worker sends nothing more, until the host gives up on it.
    Hang,
}

/// The test worker's replies.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestReply {
    Sum { sum: u32, pid: u32 },
    Address(String),
    Bytes(Vec<u8>),
    Done,
    Count(u64),
    Args(Vec<String>),
    Pid(u32),
    Numbers(Numbers),
    Nest(Nest),
    Fd(Fd),
}

/// A sequence of elements of one in-memory width, for checking that every message that fits a
/// frame decodes whatever its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Numbers {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    U128(Vec<u128>),
    Tags(Vec<Tag>),
    Points(Vec<Point>),
    Rows(Vec<Vec<u64>>),
}

/// The kinds of [`Numbers`], for [`Numbers::filled`].
pub const NUMBER_KINDS: [&str; 8] = ["u8", "u16", "u32", "u64", "u128", "tags", "points", "rows"];

impl Numbers {
    /// `n` elements of `kind` (one of [`NUMBER_KINDS`]), each small enough to take one byte per
    /// integer on the wire, so the message is as small as it can be for its in-memory size.
    pub fn filled(kind: &str, n: usize) -> Numbers {
        let small = |i: usize| (i % 200) as u8;
        match kind {
            "u8" => Numbers::U8((0..n).map(|i| i as u8).collect()),
            "u16" => Numbers::U16((0..n).map(|i| small(i).into()).collect()),
            "u32" => Numbers::U32((0..n).map(|i| small(i).into()).collect()),
            "u64" => Numbers::U64((0..n).map(|i| small(i).into()).collect()),
            "u128" => Numbers::U128((0..n).map(|i| small(i).into()).collect()),
            "tags" => Numbers::Tags((0..n).map(|i| [Tag::A, Tag::B, Tag::C][i % 3]).collect()),
            "points" => Numbers::Points(
                (0..n)
                    .map(|i| Point {
                        x: small(i).into(),
                        y: 7,
                    })
                    .collect(),
            ),
            "rows" => Numbers::Rows((0..n).map(|i| vec![small(i).into(); i % 4]).collect()),
            other => panic!("unknown kind {other}; expected one of {NUMBER_KINDS:?}"),
        }
    }

    /// The in-memory bytes bincode counts per element of this kind (an enum tag counts as a u32).
    pub fn width(kind: &str) -> usize {
        match kind {
            "u8" => 1,
            "u16" => 2,
            "u32" | "tags" => 4,
            "u64" | "points" | "rows" => 8,
            "u128" => 16,
            other => panic!("unknown kind {other}; expected one of {NUMBER_KINDS:?}"),
        }
    }
}

/// A fieldless enum: one tag per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tag {
    A,
    B,
    C,
}

/// A struct of two `u32`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub x: u32,
    pub y: u32,
}

/// A recursive value: what a hostile peer nests deeply ([`crate::hostile`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Nest {
    Leaf,
    Node(Box<Nest>),
    Many(Vec<Nest>),
}
