//! A worker that speaks ipc2's wire protocol by hand (with `ipc2_common` only), so that it can
//! break the protocol on purpose. Its jobs are the test worker's `TestJob`s; it answers
//! `TestJob::Add` and fails every other request.
//!
//! `ROGUE_MODE` says how it misbehaves on its first request, as long as the file named by
//! `ROGUE_ONCE` does not exist; it creates that file when it misbehaves, so the worker that
//! replaces it behaves. Mode `honest` never misbehaves (and needs no `ROGUE_ONCE`): a worker with
//! no runtime, whose only descriptors are stdio and its connection. The other modes:
//! - `garbage`: answers with a well-formed frame whose payload is junk;
//! - `unknown-id`: answers correctly, but to the request id plus 1000;
//! - `duplicate`: answers correctly, then answers the same request again;
//! - `oversized`: writes a frame header claiming `IPC2_MAX_FRAME_LEN + 1` bytes, then a few bytes;
//! - `wrong-type`: answers with a body that does not decode as a `TestReply`;
//! - `exit-on-request`: exits with code `codes::EXIT_ON_REQUEST` as soon as it has read the
//!   first 4 bytes of the request (its frame header), leaving the rest unread;
//! - `close-on-request`: reads those 4 bytes, closes its connection with the rest unread (so the
//!   host's next read fails with ECONNRESET), and then stays alive until it is killed;
//! - `deep-reply`: answers with a `TestReply::Nest` nested `ROGUE_DEPTH` levels deep;
//! - `deep-event`: sends an event nested `ROGUE_DEPTH` levels deep, then answers honestly;
//! - `claiming-reply`: answers with a `TestReply::Nest` of about `ROGUE_DEPTH` bytes of nested
//!   sequences, each claiming `u32::MAX` elements;
//! - `slow-reply`: sends a heartbeat, then answers honestly with a 1 MiB `TestReply::Bytes`,
//!   written in 64 pieces 10 ms apart: a reply whose transfer outlasts a short heartbeat timeout;
//! - `bad-item`: answers with a stream whose one item does not decode as a `TestReply`;
//! - `flood-items`: answers with a stream of 10,000 items, `TestReply::Count(0..)`, heedless of
//!   the host's credits (its window is far smaller);
//! - `fds-flood`: sends 100 heartbeats, each with a memfd named `rogue-fd` attached: more
//!   descriptors than frames to use them;
//! - `fds-garbage`: announces 2 descriptors (two `rogue-fd` memfds, attached), then sends a junk
//!   frame instead of the reply that should carry them.
//!
//! The `shm-` modes send their reply's body in shared memory (`ipc2_common::shm`):
//! - `shm-echo` never misbehaves (and needs no `ROGUE_ONCE`): it answers every request, each
//!   reply's body in a sealed memory file, and answers `TestJob::Echo` with `TestReply::Bytes`
//!   only if the job's own body came in shared memory (it fails the call otherwise);
//! - `shm-unsealed`: the body of its answer in a memory file that is not sealed;
//! - `shm-wrong-size`: in a sealed file one byte shorter than it announces;
//! - `shm-oversized`: announces a body of `IPC2_MAX_FRAME_LEN + 1` bytes, in a sealed (sparse)
//!   file of that size;
//! - `shm-with-body`: a correct shared body, then a reply frame with a body of its own;
//! - `shm-dies`, on every request (and needs no `ROGUE_ONCE`): announces a 1 MiB shared body (a
//!   sealed memfd named `rogue-shm`, attached), then exits with code 1 before the reply: a
//!   worker that dies with a region on its way, holding the one its job came in.
//!
//! Each misbehaviour is announced on stderr first (`rogue worker: <mode>: ...`), so it shows in
//! the host's crash report.

use std::error::Error;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use ipc2_common::handshake::{Hello, Invitation, PROTOCOL_VERSION};
use ipc2_common::{Attached, FrameCodec, HEADER_LEN, ReceivedFds, ToHost, ToWorker, codec};
use ipc2_test_support::codes::EXIT_ON_REQUEST;
use ipc2_test_support::hostile;
use ipc2_test_support::jobs::{TestJob, TestReply};
use std::os::fd::{AsFd, OwnedFd};
use tokio_util::codec::Decoder;

const MODES: [&str; 22] = [
    "honest",
    "garbage",
    "unknown-id",
    "duplicate",
    "oversized",
    "wrong-type",
    "exit-on-request",
    "close-on-request",
    "deep-reply",
    "deep-event",
    "claiming-reply",
    "slow-reply",
    "bad-item",
    "flood-items",
    "fds-flood",
    "fds-garbage",
    "shm-echo",
    "shm-unsealed",
    "shm-wrong-size",
    "shm-oversized",
    "shm-with-body",
    "shm-dies",
];

/// The modes that misbehave on every request, or never, and so need no `ROGUE_ONCE`.
const EVERY_TIME: [&str; 3] = ["honest", "shm-echo", "shm-dies"];

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let invitation = Invitation::from_env()?;
    let mode = std::env::var("ROGUE_MODE")?;
    if !MODES.contains(&mode.as_str()) {
        return Err(format!("unknown ROGUE_MODE {mode:?}; expected one of {MODES:?}").into());
    }
    let (once, mut misbehave) = if EVERY_TIME.contains(&mode.as_str()) {
        (PathBuf::new(), mode != "honest")
    } else {
        let once = PathBuf::from(std::env::var_os("ROGUE_ONCE").ok_or("ROGUE_ONCE is not set")?);
        let misbehave = !once.exists();
        (once, misbehave)
    };
    let max = invitation.max_frame_len;

    let mut stream = UnixStream::connect(&invitation.address)?;
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        token: Some(invitation.token.clone()),
        worker_id: invitation.worker_id,
        pid: std::process::id(),
        host_name: String::new(),
        types: invitation.types,
        describes_types: false,
    };
    stream.write_all(&codec::encode_frame(&ToHost::Hello, Some(&hello), max)?)?;
    // The host's welcome comes first; the modes below misbehave on the request after it.
    let mut frames = FrameCodec::new(max);
    let mut buf = BytesMut::new();
    let fds = ReceivedFds::default();
    match next_frame(&mut stream, &mut frames, &mut buf, &fds)? {
        Some(payload) if codec::decode_header::<ToWorker>(&payload)?.0 == ToWorker::Welcome => {}
        other => return Err(format!("expected the host's welcome, got {other:?}").into()),
    }

    if misbehave && mode == "exit-on-request" {
        let mut header = [0; HEADER_LEN];
        read_header(&mut stream, &mut buf, &mut header)?;
        std::fs::write(&once, "")?;
        eprintln!(
            "rogue worker: exit-on-request: exiting after the header of a {}-byte request",
            u32::from_le_bytes(header)
        );
        std::process::exit(EXIT_ON_REQUEST);
    }
    if misbehave && mode == "close-on-request" {
        let mut header = [0; HEADER_LEN];
        read_header(&mut stream, &mut buf, &mut header)?;
        std::fs::write(&once, "")?;
        eprintln!("rogue worker: close-on-request: closing the connection, staying alive");
        drop(stream);
        loop {
            std::thread::park();
        }
    }

    let mut attached = Attached::default();
    while let Some(payload) = next_frame(&mut stream, &mut frames, &mut buf, &fds)? {
        let (header, body) = codec::decode_header::<ToWorker>(&payload)?;
        if attached.take_in(&header, Some(&fds), max)? {
            continue;
        }
        let (_, shared) = attached.for_frame(&header, body)?;
        let body = shared.as_deref().unwrap_or(body);
        let (ToWorker::Request { id } | ToWorker::Stream { id }) = header else {
            continue;
        };
        let job = codec::decode_body::<TestJob>(body)?;
        if misbehave && mode.starts_with("shm-") {
            if !EVERY_TIME.contains(&mode.as_str()) {
                misbehave = false;
                std::fs::write(&once, "")?;
            }
            shared_answer(&stream, &mode, id, job, shared.is_some(), max)?;
        } else if misbehave && mode.starts_with("fds-") {
            misbehave = false;
            std::fs::write(&once, "")?;
            send_rogue_fds(&mut stream, &mode, max)?;
        } else if misbehave && mode == "slow-reply" {
            misbehave = false;
            std::fs::write(&once, "")?;
            slow_reply(&mut stream, id, max)?;
        } else if misbehave {
            misbehave = false;
            std::fs::write(&once, "")?;
            stream.write_all(&rogue_answer(&mode, id, job, max)?)?;
        } else {
            stream.write_all(&answer(id, job, max)?)?;
        }
    }
    Ok(())
}

/// Reads the first `HEADER_LEN` bytes of the next frame, from what `buf` holds already and then
/// from `stream`.
fn read_header(stream: &mut UnixStream, buf: &mut BytesMut, header: &mut [u8]) -> Result<()> {
    let held = buf.len().min(header.len());
    header[..held].copy_from_slice(&buf.split_to(held));
    stream.read_exact(&mut header[held..])?;
    Ok(())
}

/// Reads the next frame's payload; `None` once the host has closed the connection. The
/// descriptors that come with the bytes wait in `fds`.
fn next_frame(
    stream: &mut UnixStream,
    frames: &mut FrameCodec,
    buf: &mut BytesMut,
    fds: &ReceivedFds,
) -> Result<Option<Bytes>> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut chunk = [0; 64 * 1024];
    loop {
        if let Some(payload) = frames.decode(buf)? {
            return Ok(Some(payload));
        }
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(16))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let n = rustix::net::recvmsg(
            &*stream,
            &mut [std::io::IoSliceMut::new(&mut chunk)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?
        .bytes;
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = message {
                for fd in received {
                    fds.push(fd)
                        .map_err(|_| "the host sent too many descriptors")?;
                }
            }
        }
        if n == 0 {
            return Ok(frames.decode_eof(buf)?);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The honest answer to request `id`.
fn answer(id: u64, job: TestJob, max: usize) -> Result<Vec<u8>> {
    Ok(match reply(job) {
        Ok(reply) => codec::encode_frame(&ToHost::Reply { id }, Some(&reply), max)?,
        Err(reason) => codec::encode_frame(&ToHost::Failed { id }, Some(&reason), max)?,
    })
}

/// Answers request `id` with a 1 MiB reply, a piece at a time.
fn slow_reply(stream: &mut UnixStream, id: u64, max: usize) -> Result<()> {
    stream.write_all(&codec::encode_frame::<_, ()>(
        &ToHost::Heartbeat,
        None,
        max,
    )?)?;
    let reply = TestReply::Bytes(vec![7; 1 << 20]);
    let frame = codec::encode_frame(&ToHost::Reply { id }, Some(&reply), max)?;
    eprintln!(
        "rogue worker: slow-reply: a {}-byte reply in 64 pieces",
        frame.len()
    );
    for piece in frame.chunks(frame.len().div_ceil(64)) {
        stream.write_all(piece)?;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(())
}

/// Writes `bytes` whole to `stream`, with `fds` attached to the first byte.
fn send_with_fds(stream: &UnixStream, bytes: &[u8], fds: &[OwnedFd]) -> Result<()> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let fds: Vec<_> = fds.iter().map(|fd| fd.as_fd()).collect();
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err("no room for the descriptors".into());
    }
    let sent = rustix::net::sendmsg(
        stream,
        &[std::io::IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    (&*stream).write_all(&bytes[sent..])?;
    Ok(())
}

/// A memory file named `name` holding `len` bytes: `body`, or a sparse file of that size if
/// `body` is empty; sealed against every change if `sealed`.
fn memory_file(name: &str, body: &[u8], len: u64, sealed: bool) -> Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(body)?;
    file.set_len(len)?;
    if sealed {
        let all = SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL;
        rustix::fs::fcntl_add_seals(&file, all)?;
    }
    Ok(file.into())
}

/// Answers request `id` as `mode` (one of the `shm-` modes) does: with its body in shared
/// memory, well or badly. `job_was_shared` says whether the job's body came that way.
fn shared_answer(
    stream: &UnixStream,
    mode: &str,
    id: u64,
    job: TestJob,
    job_was_shared: bool,
    max: usize,
) -> Result<()> {
    let answer = match job {
        TestJob::Echo(bytes) if job_was_shared => Ok(TestReply::Bytes(bytes)),
        TestJob::Echo(bytes) => Err(format!(
            "a {}-byte echo job that did not come in shared memory",
            bytes.len()
        )),
        other => reply(other),
    };
    let header = match answer {
        Ok(_) => ToHost::Reply { id },
        Err(_) => ToHost::Failed { id },
    };
    let whole = match &answer {
        Ok(reply) => codec::encode_frame(&header, Some(reply), usize::MAX)?,
        Err(reason) => codec::encode_frame(&header, Some(reason), usize::MAX)?,
    };
    let (_, body) = codec::decode_header::<ToHost>(&whole[HEADER_LEN..])?;
    let len = body.len() as u64;
    let (file, announced) = match mode {
        "shm-echo" | "shm-with-body" => (memory_file("rogue-shm", body, len, true)?, len),
        "shm-unsealed" => (memory_file("rogue-shm", body, len, false)?, len),
        "shm-wrong-size" => (memory_file("rogue-shm", &body[1..], len - 1, true)?, len),
        "shm-oversized" => {
            let len = max as u64 + 1;
            (memory_file("rogue-shm", &[], len, true)?, len)
        }
        "shm-dies" => {
            let len = 1 << 20;
            let file = memory_file("rogue-shm", &vec![7; len], len as u64, true)?;
            eprintln!("rogue worker: shm-dies: a 1 MiB shared body announced, then exit");
            let announce =
                codec::encode_frame::<_, ()>(&ToHost::Shared { len: len as u64 }, None, max)?;
            send_with_fds(stream, &announce, &[file])?;
            std::process::exit(1);
        }
        other => return Err(format!("mode {other} has no shared answer").into()),
    };
    if mode != "shm-echo" {
        eprintln!("rogue worker: {mode}: answering request {id} with a bad shared body");
    }
    let mut frames = codec::encode_frame::<_, ()>(&ToHost::Shared { len: announced }, None, max)?;
    if mode == "shm-with-body" {
        frames.extend_from_slice(&whole);
    } else {
        frames.extend(codec::encode_frame::<_, ()>(&header, None, max)?);
    }
    send_with_fds(stream, &frames, &[file])
}

/// Sends what `mode` (`fds-flood` or `fds-garbage`) sends: descriptors the host never asked for.
fn send_rogue_fds(stream: &mut UnixStream, mode: &str, max: usize) -> Result<()> {
    let send_with = |stream: &UnixStream, bytes: &[u8], count: usize| -> Result<()> {
        let memfds = (0..count)
            .map(|_| rustix::fs::memfd_create("rogue-fd", rustix::fs::MemfdFlags::CLOEXEC))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        send_with_fds(stream, bytes, &memfds)
    };
    if mode == "fds-flood" {
        eprintln!("rogue worker: fds-flood: 100 heartbeats, each with a descriptor");
        let heartbeat = codec::encode_frame::<_, ()>(&ToHost::Heartbeat, None, max)?;
        for _ in 0..100 {
            send_with(stream, &heartbeat, 1)?;
        }
    } else {
        eprintln!("rogue worker: fds-garbage: 2 descriptors announced, then a junk frame");
        let announce = codec::encode_frame::<_, ()>(&ToHost::Fds { count: 2 }, None, max)?;
        send_with(stream, &announce, 2)?;
        stream.write_all(&[4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])?;
    }
    // Stay connected: the host must end this, and close what it received.
    loop {
        std::thread::park();
    }
}

/// A frame of `header` and then `body` exactly as given: a body no honest value encodes to.
fn raw_frame(header: &ToHost, body: &[u8], max: usize) -> Result<Vec<u8>> {
    let mut frame = codec::encode_frame::<_, ()>(header, None, max)?;
    frame.extend_from_slice(body);
    let len = u32::try_from(frame.len() - HEADER_LEN)?;
    frame[..HEADER_LEN].copy_from_slice(&len.to_le_bytes());
    Ok(frame)
}

/// The correct reply to `job`, or why there is none.
fn reply(job: TestJob) -> std::result::Result<TestReply, String> {
    match job {
        TestJob::Add(a, b) => Ok(TestReply::Sum {
            sum: a + b,
            pid: std::process::id(),
        }),
        other => Err(format!("the rogue worker only adds, not {other:?}")),
    }
}

/// The bytes `mode` answers request `id` with.
fn rogue_answer(mode: &str, id: u64, job: TestJob, max: usize) -> Result<Vec<u8>> {
    let bytes = match mode {
        "garbage" => {
            eprintln!("rogue worker: garbage: answering request {id} with a junk payload");
            let junk = [0xff; 32];
            let mut frame = (junk.len() as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(&junk);
            frame
        }
        "unknown-id" => {
            let bogus = id + 1000;
            eprintln!("rogue worker: unknown-id: replying to request {bogus} instead of {id}");
            codec::encode_frame(&ToHost::Reply { id: bogus }, Some(&reply(job)?), max)?
        }
        "duplicate" => {
            eprintln!("rogue worker: duplicate: answering request {id} twice");
            let mut frames = answer(id, job, max)?;
            frames.extend_from_slice(&frames.clone());
            frames
        }
        "oversized" => {
            let claimed = u32::try_from(max + 1).map_err(|_| "IPC2_MAX_FRAME_LEN is u32::MAX")?;
            eprintln!("rogue worker: oversized: claiming a {claimed}-byte reply to request {id}");
            let mut frame = claimed.to_le_bytes().to_vec();
            frame.extend_from_slice(&[0xab; 64]);
            frame
        }
        "deep-reply" | "deep-event" | "claiming-reply" => {
            let size: usize = std::env::var("ROGUE_DEPTH")?.parse()?;
            let nest = if mode == "claiming-reply" {
                hostile::claiming_nest(size)
            } else {
                hostile::deep_nest(size)
            };
            let body = hostile::as_reply(&nest);
            eprintln!("rogue worker: {mode}: a {}-byte nested body", body.len());
            let header = if mode == "deep-event" {
                ToHost::Event
            } else {
                ToHost::Reply { id }
            };
            let mut frame = raw_frame(&header, &body, max)?;
            if mode == "deep-event" {
                frame.extend_from_slice(&answer(id, job, max)?);
            }
            frame
        }
        "bad-item" => {
            eprintln!("rogue worker: bad-item: streaming an item that is not a TestReply");
            let body = ("this is not a TestReply", u64::MAX);
            let mut frames = codec::encode_frame(&ToHost::Item { id }, Some(&body), max)?;
            frames.extend(codec::encode_frame::<_, ()>(
                &ToHost::End { id },
                None,
                max,
            )?);
            frames
        }
        "flood-items" => {
            eprintln!("rogue worker: flood-items: streaming 10000 items without credit");
            let mut frames = Vec::new();
            for i in 0..10_000 {
                let item = TestReply::Count(i);
                frames.extend(codec::encode_frame(&ToHost::Item { id }, Some(&item), max)?);
            }
            frames
        }
        "wrong-type" => {
            eprintln!("rogue worker: wrong-type: answering request {id} with a (String, u64)");
            let body = ("this is not a TestReply", u64::MAX);
            codec::encode_frame(&ToHost::Reply { id }, Some(&body), max)?
        }
        other => return Err(format!("mode {other} has no rogue answer").into()),
    };
    Ok(bytes)
}
