//! The set's private directory: where its socket lives and starting workers find their tokens.
//!
//! Each set makes a fresh directory only its user can enter (mode 0700), in `$XDG_RUNTIME_DIR`
//! if that is set, else the temporary directory, named `ipc2-<host pid>-<random>`, and holds an
//! exclusive `flock` on the file `lock` in it (taken before the socket is bound) for as long as
//! the set lives. It is removed when the
//! set is dropped; a host killed with SIGKILL or SIGTERM leaves it behind, but the kernel releases
//! its lock, so each new set first removes the directories whose lock it can take. That test
//! needs no process ids, so it holds across pid namespaces sharing the directory, and it never
//! blocks. Only what ipc2 puts there is removed (the socket, the lock, token files); a directory
//! holding anything else, or without a lock file (another program's, or an older version's), is
//! left alone.
//!
//! Linux abstract sockets would leave nothing behind, but they have no permissions: any process
//! in the network namespace could connect, and the socket directory's 0700 mode is one of the
//! checks a stranger has to pass.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

/// The lock file's name inside the directory.
const LOCK: &str = "lock";
/// The socket's file name inside the directory (`Server::bind` for Unix sockets).
const SOCKET: &str = "ipc2.sock";
/// The prefix of the token files inside the directory (`Invitation::to_env`).
const TOKEN: &str = "token-";

/// A set's directory, locked while the set lives.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    dir: tempfile::TempDir,
    _lock: File,
}

impl PrivateDir {
    /// The directory's path.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Creates and locks the set's directory, after removing those of hosts that are gone.
pub(crate) fn create() -> io::Result<PrivateDir> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute() && dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    remove_stale(&base);
    let dir = tempfile::Builder::new()
        .prefix(&format!("ipc2-{}-", std::process::id()))
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(base)?;
    let lock = File::create(dir.path().join(LOCK))?;
    flock(&lock, FlockOperation::NonBlockingLockExclusive)?;
    Ok(PrivateDir { dir, _lock: lock })
}

/// Removes the directories under `base` left by hosts that are gone (see the module docs).
fn remove_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let uid = rustix::process::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let named_by_us = name
            .to_str()
            .and_then(|name| name.strip_prefix("ipc2-"))
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(pid, _)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        let dir = entry.path();
        let ours = fs::symlink_metadata(&dir).is_ok_and(|meta| meta.is_dir() && meta.uid() == uid);
        if named_by_us && ours && abandoned(&dir) {
            remove(&dir);
        }
    }
}

/// Whether `dir` has a socket and a lock file that nobody holds: its host is gone. (A new host
/// locks the file before it binds the socket, so a directory whose lock is not taken yet has no
/// socket.)
fn abandoned(dir: &Path) -> bool {
    let bound =
        fs::symlink_metadata(dir.join(SOCKET)).is_ok_and(|meta| meta.file_type().is_socket());
    let Ok(lock) = File::open(dir.join(LOCK)) else {
        return false;
    };
    if !bound {
        return false;
    }
    // Held until `lock` is closed at the end of this function, after the directory is gone.
    flock(&lock, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Removes what ipc2 put in `dir`, then `dir` if that left it empty.
fn remove(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let ipc2_made = (name == SOCKET && kind.is_socket())
            || (kind.is_file() && (name == LOCK || name.starts_with(TOKEN)));
        if ipc2_made {
            let _ = fs::remove_file(entry.path());
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => tracing::debug!(
            "ipc2: removed {}, left by a host that is gone",
            dir.display()
        ),
        Err(err) => tracing::debug!("ipc2: left {} in place: {err}", dir.display()),
    }
}
