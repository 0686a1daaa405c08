//! What the announcement frames before a frame brought for it, kept by each connection's reader:
//! see [`Attached`].

use std::os::fd::OwnedFd;

use bytes::Bytes;

use crate::envelope::Announcement;
use crate::{Error, Header, ReceivedFds};

/// What the announcements since the last frame brought for the next one.
///
/// A frame may be preceded by announcements ([`Header::announcement`]): [`Announcement::Fds`]
/// for the file descriptors its body names ([`crate::fd`]), [`Announcement::Shared`] for its
/// body itself, in shared memory ([`crate::shm`]). Both the host's and the worker's reader take
/// each announcement in with [`take_in`](Self::take_in) and hand what it brought to the next
/// frame with [`for_frame`](Self::for_frame), so the rules for what may come before what are
/// written once.
#[derive(Debug, Default)]
pub struct Attached {
    fds: Vec<OwnedFd>,
    body: Option<Bytes>,
}

impl Attached {
    /// Takes in `header` if it is an announcement, with the descriptors it announces from
    /// `queue` (where the connection's transport put them), and returns true; returns false for
    /// any other frame. Fails if the descriptors did not arrive, if the frame announces what an
    /// announcement before it already did, or if a shared body is unusable or larger than
    /// `max_frame_len` (see [`crate::shm::receive`]).
    pub fn take_in<H: Header>(
        &mut self,
        header: &H,
        queue: Option<&ReceivedFds>,
        max_frame_len: usize,
    ) -> Result<bool, Error> {
        match header.announcement() {
            None => Ok(false),
            Some(Announcement::Fds(count)) => {
                if !self.fds.is_empty() {
                    return Err(Error::UnexpectedFrame(
                        "two announcements of descriptors for one frame",
                    ));
                }
                self.fds = ReceivedFds::take(queue, count)?;
                Ok(true)
            }
            Some(Announcement::Shared(len)) => {
                if self.body.is_some() {
                    return Err(Error::UnexpectedFrame(
                        "two announcements of a shared body for one frame",
                    ));
                }
                let fd = ReceivedFds::take(queue, 1)?
                    .pop()
                    .ok_or(Error::BadSharedBody {
                        reason: "its memory file did not arrive".into(),
                    })?;
                self.body = Some(crate::shm::receive(fd, len, max_frame_len)?);
                Ok(true)
            }
        }
    }

    /// What was announced for the frame `header`, whose own bytes hold `body`: the descriptors
    /// its body names (usually none), and the body to decode, which is the shared one if one
    /// was announced. Fails for descriptors on a frame that may not carry them
    /// ([`Header::carries_fds`]), and for a frame with a body of its own after a shared one.
    pub fn for_frame<H: Header + std::fmt::Debug>(
        &mut self,
        header: &H,
        body: &[u8],
    ) -> Result<(Vec<OwnedFd>, Option<Bytes>), Error> {
        let fds = std::mem::take(&mut self.fds);
        let shared = self.body.take();
        if !fds.is_empty() && !header.carries_fds() {
            return Err(Error::BadFds {
                reason: format!(
                    "{} descriptor(s) for a frame that carries none ({header:?})",
                    fds.len()
                ),
            });
        }
        if shared.is_some() && !body.is_empty() {
            return Err(Error::BadSharedBody {
                reason: format!(
                    "it was announced for a frame with a body of its own ({header:?}, {} bytes)",
                    body.len()
                ),
            });
        }
        Ok((fds, shared))
    }
}
