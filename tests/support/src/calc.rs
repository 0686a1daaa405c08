//! The service the macro tests call, shared by `tests/service.rs` and the `calc_worker` helper.

use serde::{Deserialize, Serialize};

/// The service's own error.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivByZero;

/// A struct argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

/// An enum argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    Circle { r: u32 },
    Square(u32),
}

/// The event `Calc`'s handlers emit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// This step, from 0.
    pub step: u32,
    /// How many steps there are.
    pub of: u32,
}

/// Every method form the macro accepts.
#[ipc2::service(event = Progress)]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: u32, b: u32) -> u32;
    /// Divides, with the service's own error for zero.
    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero>;
    /// Forgets every logged line (unit reply).
    async fn reset(&self);
    /// Logs a line; nobody waits for it.
    #[ipc2(oneway)]
    async fn log(&self, line: String);
    /// The lines logged so far.
    async fn lines(&self) -> Vec<String>;
    /// A synchronous method, run inline by the dispatcher.
    fn square(&self, x: u64) -> u64;
    /// Struct and enum arguments.
    async fn describe(&self, at: Point, shape: Shape) -> String;
    /// Echoes bytes back.
    async fn echo(&self, bytes: Vec<u8>) -> Vec<u8>;
    /// The worker's process id.
    async fn pid(&self) -> u32;
    /// Sleeps `ms` milliseconds, then answers.
    async fn sleep(&self, ms: u64);
    /// Writes the worker's pid to the file `marker` (so the test knows the call is running),
    /// then sleeps `ms` milliseconds and answers.
    async fn pause(&self, marker: String, ms: u64);
    /// Creates the file `<dir>/<the worker's pid>` (so the test knows this worker runs the call),
    /// then sleeps `ms` milliseconds and answers.
    async fn pause_in(&self, dir: String, ms: u64);
    /// Allocates (and touches) memory until allocation fails.
    async fn hog_memory(&self) -> u64;
    /// Burns CPU until stopped.
    fn spin(&self) -> u64;
    /// Burns CPU for `ms` milliseconds of the worker's CPU time, then answers.
    fn burn(&self, ms: u64) -> u64;
    /// Sleeps `ms` milliseconds; a call gets 200 ms, then its worker is restarted.
    #[ipc2(timeout = "200ms", on_timeout = "restart")]
    async fn bounded_sleep(&self, ms: u64) -> u64;
    /// Crashes the worker if the file `marker` does not exist yet (creating it), else answers 1.
    async fn crash_once(&self, marker: String) -> u32;
    /// The same, declared safe to retry after a crash.
    #[ipc2(idempotent, retries = 2)]
    async fn crash_once_retried(&self, marker: String) -> u32;
    /// Emits `steps` [`Progress`] events, the even steps with `ipc2::worker::emit` and the odd
    /// ones with `Self::emit`, then answers `steps`.
    async fn progress(&self, steps: u32) -> u32;
    /// The errors of emitting a value of another type, and of emitting from a task the handler
    /// spawned.
    async fn misuse_emit(&self) -> Vec<String>;
    /// Panics inside the handler.
    async fn panic(&self) -> u32;
    /// Streams `0..n`, one item every `gap_ms` milliseconds, emitting a [`Progress`] event
    /// before each. If the caller gives up on the stream, creates the file `marker` (unless it
    /// is empty) as the stream is dropped.
    async fn count_to(&self, n: u64, gap_ms: u64, marker: String) -> ipc2::Stream<u64>;
    /// Streams the words of `text`, then `Err(DivByZero)` if `fail`.
    async fn words(&self, text: String, fail: bool) -> ipc2::Stream<Result<String, DivByZero>>;
    /// Streams `0..n`, one item every `gap_ms` milliseconds, with at most 200 ms allowed between
    /// two items.
    #[ipc2(item_timeout = "200ms")]
    async fn count_slowly(&self, n: u64, gap_ms: u64) -> ipc2::Stream<u64>;
    /// What `file` holds from its start, upper-cased, in a new file: a file crosses both ways
    /// as a descriptor.
    async fn shout(&self, file: std::fs::File) -> std::fs::File;
}
