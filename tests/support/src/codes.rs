//! The exit codes by which the helper programs tell the tests what happened, defined once for
//! both sides.

/// `test_worker` in mode `exit-at-start`: it refused to start.
pub const EXIT_AT_START: i32 = 3;
/// `test_worker` in mode `start-once`: a start after the first.
pub const STARTED_BEFORE: i32 = 4;
/// `test_worker` in mode `crash-loop`: a start after the first.
pub const CRASH_LOOP: i32 = 5;

/// `test_worker` in mode `probe-connect`: the connection was accepted.
pub const PROBE_CONNECTED: i32 = 10;
/// `test_worker` in mode `probe-connect`: `connect` failed with EACCES.
pub const PROBE_PERMISSION_DENIED: i32 = 20;
/// `test_worker` in mode `probe-connect`: `connect` failed some other way.
pub const PROBE_OTHER_ERROR: i32 = 30;

/// `rogue_worker` in mode `exit-on-request` (the row of RELIABILITY.md it serves, to be
/// recognisable).
pub const EXIT_ON_REQUEST: i32 = 26;
