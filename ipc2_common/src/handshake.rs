//! How a worker learns where its host is, and proves it is the process the host started.
//!
//! The host starts each worker with [`Invitation::to_env`]: the socket address, the worker's slot
//! id, the frame limit and the like in environment variables prefixed `IPC2_`, and a fresh random
//! [`Token`] for that one spawn in a file of its own in the host's private (0700) directory, which
//! the environment names. The worker reads the token and deletes the file as it connects
//! ([`Invitation::from_env`]), before it runs any job, so no process it starts later can obtain
//! the token: the environment such a process inherits only names a file that is gone. The token
//! is never put in argv either, because `/proc/<pid>/cmdline` is readable by every user.
//!
//! The worker's first frame is a [`Hello`] echoing the token. The host reads that frame under a
//! tight size limit ([`MAX_HELLO_LEN`]) and a deadline, and only then treats the connection as a
//! worker; it also checks the peer's credentials and types (see `ipc2_host`). A worker it accepts
//! gets a [`ToWorker::Welcome`](crate::ToWorker::Welcome) with the [`Settings`] it is to run with
//! before anything else; one it refuses sees the connection close instead (a worker on another
//! machine is first told why: [`ToWorker::Refused`](crate::ToWorker::Refused)), and its
//! `connect` fails saying so.
//!
//! A worker on another machine is started by that machine's orchestrator, not by the host, so it
//! has no invitation and no token: [`ENV_CONNECT`] names the host's address, the transport (TLS or
//! a shared secret) proves who the worker is, and its `Hello` carries no token. The host admits
//! such a worker only over a transport that authenticated it (`Peer::Network`).

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tempfile::TempPath;

use crate::Error;

/// The protocol version this build speaks; a worker that sends another is refused.
pub const PROTOCOL_VERSION: u32 = 5;

/// The largest first frame the host reads before the peer has proved who it is.
pub const MAX_HELLO_LEN: usize = 256;

/// Environment variable holding the address of the host's listener.
pub const ENV_ADDRESS: &str = "IPC2_ADDRESS";
/// Environment variable naming the file that holds the per-spawn token (read once, then deleted).
pub const ENV_TOKEN_FILE: &str = "IPC2_TOKEN_FILE";
/// Environment variable holding the worker's slot id.
pub const ENV_WORKER_ID: &str = "IPC2_WORKER_ID";
/// Environment variable holding the maximum frame length both sides use.
pub const ENV_MAX_FRAME_LEN: &str = "IPC2_MAX_FRAME_LEN";
/// Environment variable holding the heartbeat interval in milliseconds (0: no heartbeats).
pub const ENV_HEARTBEAT_MS: &str = "IPC2_HEARTBEAT_MS";
/// Environment variable holding how long, in microseconds, a side polls for the peer's answer
/// after writing before it sleeps (0: it does not poll).
pub const ENV_SPIN_US: &str = "IPC2_SPIN_US";
/// Environment variable holding the CPU time each job may use, in milliseconds (0: no limit).
pub const ENV_CPU_LIMIT_MS: &str = "IPC2_CPU_LIMIT_MS";
/// Environment variable holding the [fingerprint](crate::schema::Description::fingerprint) of the
/// host's types, in hex.
pub const ENV_TYPES: &str = "IPC2_TYPES";

/// Environment variable holding how long, in milliseconds, the worker waits to be connected and
/// welcomed before it gives up (the host's startup timeout; 0: no limit).
pub const ENV_STARTUP_TIMEOUT_MS: &str = "IPC2_STARTUP_TIMEOUT_MS";

/// Environment variable holding the address of a host that did not start this worker, for a
/// worker an orchestrator (Kubernetes, systemd, Slurm, a script) starts on another machine:
/// `tls://host:port` or `unencrypted-tcp://host:port`. The transport's own variables name its
/// credentials (`IPC2_TLS_CERT`, `IPC2_TLS_KEY`, `IPC2_TLS_CA`, or `IPC2_SECRET_FILE`).
pub const ENV_CONNECT: &str = "IPC2_CONNECT";

/// The longest host name a worker reports in its [`Hello`]; a longer one is cut at a character
/// boundary, so that the hello stays within [`MAX_HELLO_LEN`].
pub const MAX_HOST_NAME_LEN: usize = 64;

/// The variables of an invitation.
const VARS: [&str; 9] = [
    ENV_ADDRESS,
    ENV_TOKEN_FILE,
    ENV_WORKER_ID,
    ENV_MAX_FRAME_LEN,
    ENV_HEARTBEAT_MS,
    ENV_SPIN_US,
    ENV_CPU_LIMIT_MS,
    ENV_TYPES,
    ENV_STARTUP_TIMEOUT_MS,
];

/// The worker's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the worker's build.
    pub protocol_version: u32,
    /// The token from the worker's invitation; `None` for a worker that dialed [`ENV_CONNECT`],
    /// which the transport has authenticated instead.
    pub token: Option<Token>,
    /// The slot id from the worker's invitation (0 without one: the host assigns a slot).
    pub worker_id: u32,
    /// The worker's process id, as the worker sees it (on its own machine).
    pub pid: u32,
    /// The name of the worker's machine, at most [`MAX_HOST_NAME_LEN`] bytes.
    pub host_name: String,
    /// The [fingerprint](crate::schema::Description::fingerprint) of the worker's job, reply and
    /// event types.
    pub types: u64,
    /// Whether a [`crate::ToHost::Types`] frame with the worker's whole description follows: a
    /// worker sends one when its fingerprint is not the one in its invitation, and always when
    /// it has no invitation.
    pub describes_types: bool,
}

/// What the host tells a worker it accepts, in the body of its
/// [`ToWorker::Welcome`](crate::ToWorker::Welcome): the settings the worker runs with. A worker
/// the host started also finds them in its invitation; one that dialed in learns them only here.
/// (A dialed worker does not spin: the host's `spin_poll` is for workers on its own machine.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The maximum frame length both sides use.
    pub max_frame_len: usize,
    /// How often the worker sends a heartbeat; `None` for never.
    pub heartbeat: Option<Duration>,
    /// The CPU time each job may use.
    pub cpu_limit: Option<Duration>,
    /// The body length from which each side sends a message's body through shared memory
    /// ([`crate::shm`]) where the transport passes descriptors; `None` for never.
    pub share_above: Option<u64>,
}

/// The largest first frame a worker reads before it knows the host's frame limit: the welcome,
/// with its [`Settings`], or a refusal with its reason
/// ([`ToWorker::Refused`](crate::ToWorker::Refused)), which the host cuts to fit.
pub const MAX_WELCOME_LEN: usize = 4096;

/// This machine's name, cut to [`MAX_HOST_NAME_LEN`] bytes; empty if it cannot be read.
pub fn host_name() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    let mut end = name.len().min(MAX_HOST_NAME_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// 32 random bytes that a worker must present to be accepted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token([u8; 32]);

impl Token {
    /// A fresh token from the operating system's random source.
    pub fn random() -> std::io::Result<Self> {
        let mut bytes = [0; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Compares in time independent of where the tokens differ.
    pub fn matches(&self, other: &Token) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl std::str::FromStr for Token {
    type Err = Error;

    /// Parses the 64 hex digits a worker finds in `IPC2_TOKEN`.
    fn from_str(hex: &str) -> Result<Self, Error> {
        Self::from_hex(hex).ok_or(Error::InvalidEnv {
            var: ENV_TOKEN_FILE,
            reason: "the file it names does not hold 64 hex digits",
        })
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Everything a worker needs to find and join its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// Where the host listens (for Unix sockets, the socket's path).
    pub address: String,
    /// The token this spawn must present.
    pub token: Token,
    /// The worker's slot id.
    pub worker_id: u32,
    /// The maximum frame length both sides use.
    pub max_frame_len: usize,
    /// How often the worker sends a heartbeat; `None` for never.
    pub heartbeat: Option<Duration>,
    /// How long the worker polls for the host's next frame after writing, before it sleeps
    /// (zero: not at all). See `WorkerSetBuilder::spin_poll`.
    pub spin: Duration,
    /// The CPU time each job may use; see `WorkerSetBuilder::cpu_time_limit`.
    pub cpu_limit: Option<Duration>,
    /// The fingerprint of the host's job, reply and event types.
    pub types: u64,
    /// How long the worker may take to connect and be welcomed; `None` for no limit.
    pub startup_timeout: Option<Duration>,
}

impl Invitation {
    /// Writes the token to a new file in `dir` (which must be private to this user: the host
    /// uses its 0700 socket directory) and returns that file, deleted when dropped if the worker
    /// has not deleted it first, and the environment variables that carry the rest of the
    /// invitation, and name the file, to a child process.
    pub fn to_env(&self, dir: &Path) -> std::io::Result<(TempPath, Vec<(&'static str, String)>)> {
        let mut file = tempfile::Builder::new()
            .prefix(&format!("token-{}-", self.worker_id))
            .tempfile_in(dir)?;
        file.write_all(self.token.to_hex().as_bytes())?;
        let path = file.into_temp_path();
        let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis().max(1)).to_string();
        let env = vec![
            (ENV_ADDRESS, self.address.clone()),
            (ENV_TOKEN_FILE, path.to_string_lossy().into_owned()),
            (ENV_WORKER_ID, self.worker_id.to_string()),
            (ENV_MAX_FRAME_LEN, self.max_frame_len.to_string()),
            (ENV_HEARTBEAT_MS, ms(self.heartbeat)),
            (ENV_SPIN_US, self.spin.as_micros().to_string()),
            (ENV_CPU_LIMIT_MS, ms(self.cpu_limit)),
            (ENV_TYPES, format!("{:016x}", self.types)),
            (ENV_STARTUP_TIMEOUT_MS, ms(self.startup_timeout)),
        ];
        Ok((path, env))
    }

    /// Reads the invitation from this process's environment, and the token from the file it
    /// names, which is deleted: a second reader (a process this one starts) finds no token.
    ///
    /// Fails with [`Error::NotStartedByHost`] when none of the variables is set (the program was
    /// run by hand), and with [`Error::InvalidEnv`] when one is missing or malformed, or the token
    /// file cannot be read.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(
            |name| std::env::var_os(name),
            |path| {
                let token = std::fs::read_to_string(path);
                let _ = std::fs::remove_file(path);
                token.ok()
            },
        )
    }

    /// Whether this process looks like it was started by an ipc2 host.
    pub fn present() -> bool {
        std::env::var_os(ENV_ADDRESS).is_some()
    }

    fn from_vars(
        get: impl Fn(&str) -> Option<OsString>,
        read_token: impl FnOnce(&Path) -> Option<String>,
    ) -> Result<Self, Error> {
        if VARS.iter().all(|name| get(name).is_none()) {
            return Err(Error::NotStartedByHost);
        }
        let var = |name: &'static str| -> Result<String, Error> {
            get(name)
                .ok_or(Error::InvalidEnv {
                    var: name,
                    reason: "it is not set",
                })?
                .into_string()
                .map_err(|_| Error::InvalidEnv {
                    var: name,
                    reason: "it is not valid UTF-8",
                })
        };
        let invalid = |var, reason| Error::InvalidEnv { var, reason };
        let ms = |name| match var(name)?.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(ms) => Ok(Some(Duration::from_millis(ms))),
            Err(_) => Err(invalid(name, "it is not a number")),
        };
        let address = var(ENV_ADDRESS)?;
        let token_file = var(ENV_TOKEN_FILE)?;
        Ok(Self {
            address,
            worker_id: var(ENV_WORKER_ID)?
                .parse()
                .map_err(|_| invalid(ENV_WORKER_ID, "it is not a number"))?,
            max_frame_len: var(ENV_MAX_FRAME_LEN)?
                .parse()
                .map_err(|_| invalid(ENV_MAX_FRAME_LEN, "it is not a number"))?,
            heartbeat: ms(ENV_HEARTBEAT_MS)?,
            spin: var(ENV_SPIN_US)?
                .parse()
                .map(Duration::from_micros)
                .map_err(|_| invalid(ENV_SPIN_US, "it is not a number"))?,
            cpu_limit: ms(ENV_CPU_LIMIT_MS)?,
            types: u64::from_str_radix(&var(ENV_TYPES)?, 16)
                .map_err(|_| invalid(ENV_TYPES, "it is not a hex number"))?,
            startup_timeout: ms(ENV_STARTUP_TIMEOUT_MS)?,
            // Last, so that a malformed invitation leaves the token where it was.
            token: read_token(Path::new(&token_file))
                .ok_or(invalid(
                    ENV_TOKEN_FILE,
                    "the file it names cannot be read: a worker reads its token once, and a process it starts cannot join the host",
                ))?
                .trim()
                .parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn invitation() -> Invitation {
        Invitation {
            address: "/tmp/ipc2-x/s".into(),
            token: Token::random().unwrap(),
            worker_id: 3,
            max_frame_len: 1024,
            heartbeat: Some(Duration::from_millis(250)),
            spin: Duration::from_micros(50),
            cpu_limit: Some(Duration::from_secs(3)),
            types: 0x0123_4567_89ab_cdef,
            startup_timeout: Some(Duration::from_secs(20)),
        }
    }

    /// Reads a token file as `from_env` does: once, deleting it.
    fn read_once(path: &Path) -> Option<String> {
        let token = std::fs::read_to_string(path);
        let _ = std::fs::remove_file(path);
        token.ok()
    }

    #[test]
    fn invitation_round_trips_and_its_token_can_be_read_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let inv = invitation();
        let (file, env) = inv.to_env(dir.path()).unwrap();
        let env: HashMap<_, _> = env.into_iter().collect();
        assert!(!env.values().any(|v| v.contains(&inv.token.to_hex())));
        let back = Invitation::from_vars(|n| env.get(n).map(OsString::from), read_once).unwrap();
        assert_eq!(back, inv);
        assert!(!file.exists());
        let again = Invitation::from_vars(|n| env.get(n).map(OsString::from), read_once);
        assert!(
            matches!(
                again,
                Err(Error::InvalidEnv {
                    var: ENV_TOKEN_FILE,
                    ..
                })
            ),
            "{again:?}"
        );
    }

    #[test]
    fn no_variables_means_not_started_by_host() {
        assert!(matches!(
            Invitation::from_vars(|_| None, |_| None),
            Err(Error::NotStartedByHost)
        ));
    }

    #[test]
    fn malformed_variables_name_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let (_token, env) = invitation().to_env(dir.path()).unwrap();
        let mut env: HashMap<_, _> = env.into_iter().collect();
        let bad_token = |_: &Path| Some("zz".to_owned());
        let err = Invitation::from_vars(|n| env.get(n).map(OsString::from), bad_token).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidEnv {
                var: ENV_TOKEN_FILE,
                ..
            }
        ));
        env.remove(ENV_WORKER_ID);
        let err = Invitation::from_vars(|n| env.get(n).map(OsString::from), read_once).unwrap_err();
        assert!(err.to_string().contains(ENV_WORKER_ID), "{err}");
    }

    #[test]
    fn tokens_differ_and_match_only_themselves() {
        let (a, b) = (Token::random().unwrap(), Token::random().unwrap());
        assert!(a.matches(&a.clone()));
        assert!(!a.matches(&b));
        assert_eq!(format!("{a:?}"), "Token(..)");
    }
}
