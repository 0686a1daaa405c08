//! Accepting connections and checking each one's `Hello` before it may become a worker.
//!
//! Anyone who can reach the socket may connect, so nothing a connection sends is trusted until it
//! has shown the token of a slot that is waiting for its worker. Until then it may send at most
//! [`MAX_HELLO_LEN`] bytes and must do so within the startup timeout. A connection that fails
//! any check is logged and closed, and never occupies a slot: the real worker can still connect.
//! The last check, that the peer process belongs to the worker the slot started, is made by the
//! slot's supervisor, which knows the process id (see `start.rs`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ipc2_common::handshake::{Hello, MAX_HELLO_LEN};
use ipc2_common::{FrameCodec, Server, ToHost, codec};
use tokio_util::codec::FramedRead;

use super::Supervision;
use super::start::Candidate;

/// Accepts connections until the task is aborted.
pub(crate) async fn accept_workers<S: Server>(server: S, sv: Arc<Supervision>) {
    loop {
        match server.accept().await {
            Ok((stream, peer_pid)) => {
                tokio::spawn(handshake::<S>(stream, peer_pid, sv.clone()));
            }
            Err(err) => {
                // Usually out of file descriptors: wait a moment rather than spin.
                tracing::warn!("ipc2: accepting a worker connection failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handshake<S: Server>(stream: S::Stream, peer_pid: Option<u32>, sv: Arc<Supervision>) {
    let (read, write) = match S::split(stream, sv.config.spin_poll) {
        Ok(halves) => halves,
        Err(err) => {
            return refuse(
                peer_pid,
                &format!("its connection could not be set up: {err}"),
            );
        }
    };
    let mut reader = FramedRead::new(read, FrameCodec::new(MAX_HELLO_LEN));
    let first = tokio::time::timeout(sv.config.startup_timeout, reader.next()).await;
    let hello = match first {
        Ok(Some(Ok(payload))) => parse_hello(&payload),
        Ok(Some(Err(err))) => Err(format!("bad first frame: {err}")),
        Ok(None) => Err("closed before saying hello".to_owned()),
        Err(_) => Err("sent no hello within the startup timeout".to_owned()),
    };
    let hello = match hello {
        Ok(hello) => hello,
        Err(why) => return refuse(peer_pid, &why),
    };
    let Some(candidates) = sv.candidates_for(hello.worker_id as usize, &hello.token) else {
        return refuse(peer_pid, "wrong token or no worker expected for its slot");
    };
    reader
        .decoder_mut()
        .set_max_frame_len(sv.config.max_frame_len);
    let _ = candidates.send(Candidate {
        peer_pid,
        hello,
        reader,
        writer: write,
    });
}

fn parse_hello(payload: &[u8]) -> Result<Hello, String> {
    match codec::decode_header::<ToHost>(payload) {
        Ok((ToHost::Hello, body)) => {
            codec::decode_body::<Hello>(body).map_err(|err| format!("bad hello: {err}"))
        }
        Ok((other, _)) => Err(format!("sent {other:?} before hello")),
        Err(err) => Err(format!("bad first frame: {err}")),
    }
}

fn refuse(peer_pid: Option<u32>, why: &str) {
    tracing::warn!(?peer_pid, "ipc2: refused a connection: {why}");
}
