//! The message type the README's example programs share, as the README's `test_common` crate.

use serde::{Deserialize, Serialize};

/// A job for the README's worker: add or subtract two numbers.
#[derive(Debug, Deserialize, Serialize)]
pub enum HostMessage {
    /// `a + b`
    Add(u32, u32),
    /// `a - b`
    Sub(u32, u32),
}

/// Unused by the README's programs, which answer with a bare `u32`; kept because its worker
/// example imports it.
#[derive(Debug, Deserialize, Serialize)]
pub enum WorkerMessage {
    /// A result.
    Value(u32),
}
