//! Large message bodies through shared memory instead of the socket.
//!
//! Over the Unix transport a frame whose body is at least the connection's threshold
//! ([`Outbox::share_above`](crate::outbox::Outbox::share_above)) does not carry its body: the
//! sender writes the body into a fresh memory file (`memfd_create`), seals it against every
//! change (`F_SEAL_WRITE`, `F_SEAL_SHRINK`, `F_SEAL_GROW`, then `F_SEAL_SEAL`), and sends the
//! file with `SCM_RIGHTS` after a [`Header::shared`](crate::Header::shared) announcement; the
//! receiver maps it read-only and decodes the body where it lies ([`receive`]).
//!
//! The seals are what let a receiver trust the mapping: no process, the sender included, can
//! write, shrink or grow the file once it is sent, so what the receiver decodes cannot change
//! under it and no access can fault past a shrunk end. A receiver refuses a file without them,
//! one whose size is not the size announced, and one larger than its frame limit: what a
//! hostile peer can make it map is bounded exactly as what it can make it read from the socket.
//! A region is never written after it is sent and never reused: it is freed when the last
//! reference to it (the receiver's mapping, a file still in flight in a socket that closes) is
//! gone, so a peer that dies holding one leaks nothing.
//!
//! A transport that cannot pass descriptors never shares (the threshold is off), and a sender
//! that cannot create a memory file (out of descriptors or memory) sends the body through the
//! socket instead.

use std::io::Write as _;
use std::os::fd::OwnedFd;

use bytes::Bytes;
use rustix::fs::{MemfdFlags, SealFlags};

use crate::Error;

/// The seals a shared body must carry: nothing may change it, nor its seals.
const SEALS: SealFlags = SealFlags::WRITE
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::SEAL);

/// A sealed memory file holding a copy of `body`, ready to send. Fails with the OS's reason if
/// the file cannot be created or filled.
pub fn share(body: &[u8]) -> std::io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(
        "ipc2-message-body",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    // Written, not mapped: filling the file through `write` costs no page-table changes in
    // this process, which on a virtual machine are the dear part.
    let mut file = std::fs::File::from(fd);
    file.write_all(body)?;
    let fd = OwnedFd::from(file);
    rustix::fs::fcntl_add_seals(&fd, SEALS)?;
    Ok(fd)
}

/// The body a peer sent in `fd`, announced as `len` bytes, mapped read-only: refused unless
/// `fd` is a memory file sealed against every change (see the [module docs](self)), exactly
/// `len` bytes long, and `len` is within `max_frame_len`.
pub fn receive(fd: OwnedFd, len: u64, max_frame_len: usize) -> Result<Bytes, Error> {
    let bad = |reason: String| Error::BadSharedBody { reason };
    if len > max_frame_len as u64 {
        return Err(Error::FrameTooLarge {
            len,
            max: max_frame_len,
        });
    }
    if len == 0 {
        return Err(bad(
            "it announced an empty body, which is never shared".into()
        ));
    }
    let seals = rustix::fs::fcntl_get_seals(&fd)
        .map_err(|err| bad(format!("it is not a sealable memory file ({err})")))?;
    if !seals.contains(SEALS) {
        return Err(bad(format!(
            "it is not sealed against changes (seals {seals:?}, {SEALS:?} required)"
        )));
    }
    let size = rustix::fs::fstat(&fd)
        .map_err(|err| bad(format!("its size cannot be read ({err})")))?
        .st_size;
    if u64::try_from(size).ok() != Some(len) {
        return Err(bad(format!(
            "it holds {size} bytes, not the {len} announced"
        )));
    }
    let len = usize::try_from(len).map_err(|_| bad(format!("{len} bytes do not fit in memory")))?;
    // SAFETY: the file is sealed against writes, shrinking and growing, and the seals cannot be
    // removed (`F_SEAL_SEAL`): its `len` bytes cannot change while the mapping lives, and no
    // access within them can fault.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::MmapOptions::new().len(len).populate().map(&fd) }
        .map_err(|err| bad(format!("it cannot be mapped ({err})")))?;
    Ok(Bytes::from_owner(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_body_is_received_as_it_was_sent() {
        let body: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let fd = share(&body).unwrap();
        let got = receive(fd, body.len() as u64, 1 << 20).unwrap();
        assert_eq!(&got[..], &body[..]);
    }

    #[test]
    fn a_sent_body_cannot_be_changed() {
        let fd = share(b"sealed").unwrap();
        let mut file = std::fs::File::from(fd);
        assert!(file.write_all(b"changed").is_err());
        assert!(file.set_len(1).is_err());
        let seals = rustix::fs::fcntl_get_seals(&file).unwrap();
        assert!(seals.contains(SEALS), "{seals:?}");
    }

    #[test]
    fn an_unsealed_file_is_refused() {
        let fd = rustix::fs::memfd_create("unsealed", MemfdFlags::ALLOW_SEALING).unwrap();
        let mut file = std::fs::File::from(fd);
        file.write_all(b"mutable").unwrap();
        let err = receive(file.into(), 7, 1024).unwrap_err();
        assert!(
            err.to_string().contains("not sealed against changes"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_memory_file_is_refused() {
        let (read, _write) = std::io::pipe().unwrap();
        let err = receive(read.into(), 7, 1024).unwrap_err();
        assert!(
            err.to_string().contains("not a sealable memory file"),
            "{err}"
        );
    }

    #[test]
    fn a_size_other_than_the_one_announced_is_refused() {
        let fd = share(b"twelve bytes").unwrap();
        let err = receive(fd, 11, 1024).unwrap_err();
        assert!(
            err.to_string()
                .contains("holds 12 bytes, not the 11 announced"),
            "{err}"
        );
    }

    #[test]
    fn a_body_over_the_frame_limit_is_refused_before_it_is_looked_at() {
        let fd = share(&[1; 100]).unwrap();
        assert!(matches!(
            receive(fd, 100, 99),
            Err(Error::FrameTooLarge { len: 100, max: 99 })
        ));
        let (read, _write) = std::io::pipe().unwrap();
        assert!(matches!(
            receive(read.into(), 1 << 40, 1 << 20),
            Err(Error::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn an_empty_body_is_refused() {
        let fd = share(b"").unwrap();
        let err = receive(fd, 0, 1024).unwrap_err();
        assert!(err.to_string().contains("empty body"), "{err}");
    }
}
