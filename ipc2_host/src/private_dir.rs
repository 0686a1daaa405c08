//! The set's private directory: where its socket lives and starting workers find their tokens.
//!
//! Each set makes a fresh directory only its user can enter (mode 0700), in `$XDG_RUNTIME_DIR`
//! if that is set, else the temporary directory, named `ipc2-<host pid>-<random>`. It is removed
//! when the set is dropped; a host killed with SIGKILL or SIGTERM leaves it behind, so each new
//! set first removes the directories of hosts that are gone. A directory counts as gone only if
//! it belongs to this user, no process has the pid in its name, and its socket refuses
//! connections: a live host in another pid namespace sharing the directory still accepts on its
//! socket, and keeps its directory. Names without a pid (from older versions) are left alone.
//!
//! Linux abstract sockets would leave nothing behind, but they have no permissions: any process
//! in the network namespace could connect, and the socket directory's 0700 mode is one of the
//! checks a stranger has to pass.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The socket's file name inside the directory (`Server::bind` for Unix sockets).
const SOCKET: &str = "ipc2.sock";

/// Creates the set's directory, after removing those of hosts that are gone.
pub(crate) fn create() -> io::Result<tempfile::TempDir> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute() && dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    remove_stale(&base);
    tempfile::Builder::new()
        .prefix(&format!("ipc2-{}-", std::process::id()))
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(base)
}

/// Removes the directories under `base` left by hosts that are gone (see the module docs).
fn remove_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let uid = rustix::process::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(host) = name
            .to_str()
            .and_then(|name| name.strip_prefix("ipc2-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let ours = fs::symlink_metadata(&dir).is_ok_and(|meta| meta.is_dir() && meta.uid() == uid);
        if !ours || Path::new(&format!("/proc/{host}")).exists() {
            continue;
        }
        if std::os::unix::net::UnixStream::connect(dir.join(SOCKET)).is_ok() {
            continue;
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => tracing::debug!("ipc2: removed {}, left by host {host}", dir.display()),
            Err(err) => tracing::debug!("ipc2: could not remove {}: {err}", dir.display()),
        }
    }
}
