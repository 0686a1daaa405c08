//! The handshake's type check: a worker whose job, reply or event types are not the host's is
//! refused at start with the first difference, instead of failing its first call.
//!
//! The host describes its types once per set ([`ipc2_common::schema`]) and puts the
//! fingerprint in each worker's invitation. A worker that finds another fingerprint in its own
//! types says so in its `Hello` and sends its whole description next, which this reads. A worker
//! on another machine has no invitation, so it always sends its description.

use futures_util::StreamExt;
use ipc2_common::schema::Description;
use ipc2_common::{ToHost, codec};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::start::Candidate;

/// The largest description of a worker's types the host reads: a service's takes a few KiB.
const MAX_TYPES_LEN: usize = 1 << 20;

/// The host's types, described.
#[derive(Debug)]
pub(crate) struct TypeCheck {
    description: Description,
    fingerprint: u64,
}

impl TypeCheck {
    /// Describes the job type `W`, the reply type `R` and the event type `E`.
    pub(crate) fn of<W: DeserializeOwned, R: DeserializeOwned, E: DeserializeOwned>() -> Self {
        let description = Description::of::<W, R, E>();
        Self {
            fingerprint: description.fingerprint(),
            description,
        }
    }

    /// What workers are told to expect.
    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Checks the types `candidate` announced, reading the description it sends next if it says
    /// one follows (by `deadline`); if they are not the host's, returns the first difference as
    /// the reason to refuse it.
    pub(crate) async fn check(
        &self,
        candidate: &mut Candidate,
        deadline: Instant,
        max_frame_len: usize,
    ) -> Result<(), String> {
        let same = candidate.hello.types == self.fingerprint;
        let differ = match (candidate.hello.describes_types, same) {
            (false, true) => return Ok(()),
            (false, false) => {
                return Err(
                    "its job, reply or event types are not the host's, and it did not say how"
                        .to_owned(),
                );
            }
            (true, true) => "it announced a description of its types",
            (true, false) => "its job, reply or event types are not the host's",
        };
        let codec = candidate.reader.decoder_mut();
        codec.set_max_frame_len(MAX_TYPES_LEN.min(max_frame_len));
        let next = tokio::time::timeout_at(deadline, candidate.reader.next()).await;
        candidate
            .reader
            .decoder_mut()
            .set_max_frame_len(max_frame_len);
        let payload = match next {
            Ok(Some(Ok(payload))) => payload,
            Ok(Some(Err(err))) => {
                return Err(format!("{differ}, and reading how failed: {err}"));
            }
            Ok(None) => {
                return Err(format!(
                    "{differ}, and it closed the connection before saying how"
                ));
            }
            Err(_) => {
                return Err(format!(
                    "{differ}, and it did not say how within the startup timeout"
                ));
            }
        };
        let worker = match codec::decode_header::<ToHost>(&payload) {
            Ok((ToHost::Types, body)) => {
                codec::decode_body::<Description>(body).map_err(|err| {
                    format!("{differ}, and its description of them is malformed: {err}")
                })?
            }
            Ok((other, _)) => {
                return Err(format!(
                    "{differ}, and it sent {other:?} instead of its description of them: is it built against another version of ipc2?"
                ));
            }
            Err(err) => return Err(format!("{differ}, and its next frame is malformed: {err}")),
        };
        if same {
            return Ok(());
        }
        match self.description.first_difference(&worker) {
            Some(difference) => Err(format!(
                "its types are not the host's: {difference}. The host and the worker were built from different versions of the types they share; rebuild both"
            )),
            None => {
                tracing::debug!(
                    "ipc2: a worker's types have another fingerprint, but agree with the host's wherever both could be described"
                );
                Ok(())
            }
        }
    }
}
