//! [`NoEvents`]: the event type of a service that declares none.

use serde::{Deserialize, Serialize};

/// The event type of a `#[ipc2::service]` without `event = ...`: it has no values, so such a
/// service's handlers cannot emit anything, and its set's event stream stays empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoEvents {}
