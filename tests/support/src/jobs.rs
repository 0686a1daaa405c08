//! The jobs the test worker understands, shared by the tests and the worker itself.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One behaviour of the test worker per variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TestJob {
    /// Reply `Sum { sum: a + b, pid }`.
    Add(u32, u32),
    /// Reply the worker's `IPC2_ADDRESS`.
    Address,
    /// Reply `Bytes` with the same bytes.
    Echo(Vec<u8>),
    /// Sleep this many milliseconds, then reply `Done`.
    Sleep(u64),
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
    /// Print `"{0} out"` to stdout and `"{0} err"` to stderr, then reply `Done`.
    Print(String),
    /// Send the host `n` events, `Count(0)` to `Count(n - 1)`, then reply `Done`.
    Emit(u64),
    /// Stop the whole worker process with SIGSTOP: it answers nothing, not even heartbeats.
    Freeze,
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
}
