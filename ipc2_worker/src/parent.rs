//! Dying with the host, even when it is killed with SIGKILL and never closes the socket itself.
//!
//! The socket reaching end of stream is what normally ends a worker. A host killed with SIGKILL
//! closes it too (the kernel does), but a worker busy in a long job would only notice at its
//! next read. On Linux the worker therefore asks for `PR_SET_PDEATHSIG(SIGKILL)` as it connects:
//! the kernel then kills it as soon as the thread that started it exits. The host starts each
//! worker from a thread that lives exactly as long as that worker, so that thread exits only
//! with the host (see `ipc2_host`'s `child.rs`).
//!
//! The worker asks for this itself instead of the host setting it between `fork` and `exec`: a
//! `pre_exec` hook makes the standard library fork the host process instead of using
//! `posix_spawn`, which made starting a set measurably slower. A host that dies before the
//! worker asks is caught by the connect that follows, which then fails.
//!
//! The kernel keeps the request per thread: it lasts while the thread that made it lives. That is
//! the thread that polls `connect`, normally the worker's main thread (`#[tokio::main]`,
//! `block_on`, `blocking::connect`). A worker that connects from a short-lived thread keeps only
//! the end of the socket to stop it.

/// Asks the kernel to kill this process when the thread that started it exits.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn die_with_host() {
    use rustix::process::{Signal, set_parent_process_death_signal};
    if let Err(err) = set_parent_process_death_signal(Some(Signal::KILL)) {
        // Not fatal: the end of the socket still ends the worker.
        tracing::warn!("ipc2 worker: could not ask to die with the host: {err}");
    }
}

/// Elsewhere the end of the socket alone ends the worker.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn die_with_host() {}
