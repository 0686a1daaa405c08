//! Starting a worker: spawn the process, wait for its connection, and check that the
//! connection really comes from it and speaks the host's protocol and types.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use ipc2_common::handshake::{
    Hello, Invitation, MAX_HOST_NAME_LEN, MAX_WELCOME_LEN, PROTOCOL_VERSION, Settings, Token,
};
use ipc2_common::{FrameCodec, Peer, ReadHalf, ToWorker, WriteHalf, codec};
use rustix::process::Signal;
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;

use super::Supervision;
use super::slot::SlotControl;
use crate::Error;
use crate::conn::Identity;
use crate::error::{ExitCause, WorkerExit};
use crate::process::{self, Capture, Child, Children, Limits, Stream};

/// How long to wait for a dead worker's stderr to reach its end.
const STDERR_GRACE: Duration = Duration::from_millis(500);

/// A connection that presented the right token for a slot (or, for a slot of a worker on another
/// machine, none, over a transport that authenticated it), waiting for that slot's supervisor to
/// check that it comes from the process it started, and its types.
pub(crate) struct Candidate {
    pub(crate) peer: Peer,
    pub(crate) hello: Hello,
    pub(crate) reader: FramedRead<ReadHalf, FrameCodec>,
    pub(crate) writer: WriteHalf,
}

/// A worker between its start and its end.
pub(super) struct Worker {
    pub(super) id: Identity,
    started: Instant,
    /// The process the host started; `None` for a worker on another machine, whose process it
    /// cannot see.
    process: Option<Process>,
    /// How many jobs have been sent to it: its connection counts, its stderr capture keeps the
    /// lines since the last.
    pub(super) jobs_sent: Arc<AtomicU64>,
}

/// A worker process this host started.
struct Process {
    exited: oneshot::Receiver<ExitStatus>,
    status: Option<ExitStatus>,
    stdout: Capture,
    stderr: Capture,
    /// The limits it runs under, for its report.
    limits: Limits,
}

/// A worker that has connected and proved who it is.
pub(super) struct Started {
    pub(super) worker: Worker,
    pub(super) candidate: Candidate,
}

impl Process {
    /// The exit status, waiting for it if need be. Cancel-safe, and cached once known.
    async fn exit_status(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        // The reaper thread drops its sender without a status only if `wait` failed, which
        // cannot happen for our own unreaped child; report a kill rather than invent an exit.
        let status = (&mut self.exited)
            .await
            .unwrap_or_else(|_| ExitStatusExt::from_raw(Signal::KILL.as_raw()));
        self.status = Some(status);
        status
    }
}

impl Worker {
    /// A worker on another machine that has connected and proved who it is.
    pub(super) fn remote(id: Identity) -> Self {
        Self {
            id,
            started: Instant::now(),
            process: None,
            jobs_sent: Arc::default(),
        }
    }

    /// The process id of the worker's process, if this host started it.
    pub(super) fn local_pid(&self) -> Option<u32> {
        self.process.as_ref().map(|_| self.id.pid)
    }

    /// Completes with the worker's exit status once its process has ended; never for a worker
    /// on another machine, whose end shows only as the end of its connection. Cancel-safe.
    pub(super) async fn exited(&mut self) -> ExitStatus {
        match &mut self.process {
            Some(process) => process.exit_status().await,
            None => std::future::pending().await,
        }
    }

    /// Waits for the worker's exit status (for a process of this host) and builds its report.
    pub(super) async fn report(&mut self, cause: ExitCause) -> Arc<WorkerExit> {
        let (status, stderr_tail, limits) = match &mut self.process {
            Some(process) => {
                let status = process.exit_status().await;
                process.stdout.finish(STDERR_GRACE).await;
                let tail = process.stderr.finish(STDERR_GRACE).await;
                (Some(status), tail, process.limits)
            }
            None => (None, String::new(), Limits::default()),
        };
        Arc::new(WorkerExit {
            worker: self.id.slot,
            generation: self.id.generation,
            pid: self.id.pid,
            remote: self.id.remote.clone(),
            status,
            cause,
            uptime: self.started.elapsed(),
            stderr_tail,
            memory_limit: limits.address_space,
            cpu_time_limit: limits.cpu,
        })
    }
}

/// Spawns generation `generation` of slot `slot` and waits for it to connect and prove who it
/// is.
pub(super) async fn start(
    sv: &Supervision,
    control: &SlotControl,
    slot: usize,
    generation: u64,
) -> Result<Started, Error> {
    let config = &sv.config;
    let spawn_error = |source| Error::Spawn {
        path: std::path::absolute(&config.worker_path)
            .unwrap_or_else(|_| config.worker_path.clone()),
        source: Arc::new(source),
    };
    let invitation = Invitation {
        address: sv.address.clone(),
        token: Token::random().map_err(spawn_error)?,
        worker_id: slot as u32,
        max_frame_len: config.max_frame_len,
        heartbeat: config.heartbeat.map(|(interval, _)| interval),
        spin: config.spin_poll,
        cpu_limit: config.limits.cpu,
        types: sv.types.fingerprint(),
        startup_timeout: Some(config.startup_timeout),
    };
    let mut expecting = control.expect(invitation.token.clone());
    // Deleted by the worker as it reads it, or else when this start is over.
    let (_token_file, invitation_env) = invitation.to_env(&sv.private_dir).map_err(spawn_error)?;

    let mut command = Command::new(&config.worker_path);
    command
        .args(&config.args)
        .envs(config.env.iter().map(|(k, v)| (k, v)))
        .envs(invitation_env)
        .stdin(Stdio::null())
        .stdout(config.stdout.stdio())
        .stderr(config.stderr.stdio());
    if let Some(dir) = &config.current_dir {
        command.current_dir(dir);
    }
    let Child {
        pid,
        stdout,
        stderr,
        exited,
    } = sv
        .children
        .spawn(command, config.limits)
        .await
        .map_err(spawn_error)?;
    tracing::debug!(pid, "spawned");
    // If this future is dropped before the worker is handed over (a successor start overtaken
    // by its predecessor's death, say), the half-started worker must not live on.
    let mut unclaimed = KillOnDrop {
        children: &sv.children,
        pid,
        armed: true,
    };
    let jobs_sent = Arc::new(AtomicU64::new(0));
    let process = Process {
        exited,
        status: None,
        stdout: Capture::start(
            stdout,
            Stream::Stdout,
            slot,
            config.stdout.clone(),
            jobs_sent.clone(),
        ),
        stderr: Capture::start(
            stderr,
            Stream::Stderr,
            slot,
            config.stderr.clone(),
            jobs_sent.clone(),
        ),
        limits: config.limits,
    };
    let mut worker = Worker {
        id: Identity {
            slot,
            generation,
            pid,
            remote: None,
        },
        started: Instant::now(),
        process: Some(process),
        jobs_sent,
    };

    let deadline = tokio::time::sleep(config.startup_timeout);
    tokio::pin!(deadline);
    let accept_failure = sv.accept_failure();
    tokio::pin!(accept_failure);
    let refusal = loop {
        tokio::select! {
            Some(mut candidate) = expecting.arrived.recv() => match check(&candidate, pid) {
                Ok(()) => match accept(sv, &mut candidate, deadline.deadline()).await {
                    Ok(()) => {
                        tracing::debug!(pid, "handshake complete");
                        unclaimed.armed = false;
                        return Ok(Started { worker, candidate });
                    }
                    Err(reason) => break Some(Error::Handshake { worker: slot, reason }),
                },
                Err(Some(reason)) => break Some(Error::Handshake { worker: slot, reason }),
                Err(None) => {}
            },
            _ = worker.exited() => break None,
            _ = &mut deadline => break Some(Error::StartTimeout {
                worker: slot,
                pid,
                timeout: config.startup_timeout,
            }),
            source = &mut accept_failure => break Some(Error::Accept { worker: slot, pid, source }),
            _ = control.end.cancelled() => break Some(Error::Shutdown),
        }
    };
    sv.children.signal(pid, Signal::KILL);
    let cause = match refusal {
        None => ExitCause::ExitedBeforeConnecting,
        Some(_) => ExitCause::Died,
    };
    let exit = worker.report(cause).await;
    Err(refusal.unwrap_or(Error::WorkerExited(exit)))
}

/// Checks a candidate's types and, if they are the host's, welcomes it (`ToWorker::Welcome`, with
/// the settings it is to run with): from here on, it is the worker of the slot that called.
pub(super) async fn accept(
    sv: &Supervision,
    candidate: &mut Candidate,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let config = &sv.config;
    let max = config.max_frame_len;
    sv.types.check(candidate, deadline, max).await?;
    let settings = Settings {
        max_frame_len: max,
        heartbeat: config.heartbeat.map(|(interval, _)| interval),
        cpu_limit: config.limits.cpu,
        share_above: config.share_above.map(|len| len as u64),
    };
    let welcome = codec::encode_frame(&ToWorker::Welcome, Some(&settings), max)
        .map_err(|err| format!("its welcome could not be encoded: {err}"))?;
    let write = async {
        candidate.writer.write_all(&welcome).await?;
        candidate.writer.flush().await
    };
    match tokio::time::timeout_at(deadline, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(format!("its welcome could not be sent: {err}")),
        Err(_) => Err("its welcome could not be sent within the startup timeout".to_owned()),
    }
}

/// How long the host tries to tell a refused worker on another machine why.
const REFUSAL_GRACE: Duration = Duration::from_secs(1);

/// Tells a worker on another machine, which cannot read this host's log, why it is refused
/// ([`ToWorker::Refused`], the reason cut to fit the worker's first-frame limit), and closes the
/// connection cleanly (for TLS, with a `close_notify`). Best effort: a worker that reads
/// nothing within [`REFUSAL_GRACE`] just sees the connection end.
pub(super) async fn tell_refused(writer: &mut WriteHalf, reason: &str) {
    use tokio::io::AsyncWriteExt;
    // Room for the frame's length, header and the string's length prefix.
    let mut end = reason.len().min(MAX_WELCOME_LEN - 32);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = reason[..end].to_owned();
    let Ok(frame) = codec::encode_frame(&ToWorker::Refused, Some(&reason), MAX_WELCOME_LEN) else {
        return;
    };
    let tell = async {
        writer.write_all(&frame).await?;
        writer.shutdown().await
    };
    if let Err(err) = tokio::time::timeout(REFUSAL_GRACE, tell)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    {
        tracing::debug!("ipc2: could not tell a refused worker why: {err}");
    }
}

/// SIGKILLs worker `pid` when dropped while armed.
struct KillOnDrop<'a> {
    children: &'a Children,
    pid: u32,
    armed: bool,
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.children.signal(self.pid, Signal::KILL);
        }
    }
}

/// Checks that a candidate connection comes from the worker process `pid` (or a process it
/// started: anything in its process group) and speaks our protocol; its types are checked next
/// (`types.rs`). `Err(None)`: an impostor, ignored; `Err(Some(reason))`: the real worker, but
/// unusable.
fn check(candidate: &Candidate, pid: u32) -> Result<(), Option<String>> {
    // A transport that cannot tell the peer's pid relies on the token alone.
    let peer_pid = match candidate.peer {
        Peer::Local { pid } => pid,
        _ => None,
    };
    let group = peer_pid.map(process::process_group_of);
    if group.is_some_and(|group| !matches!(group, Ok(group) if group == pid)) {
        tracing::warn!(
            ?peer_pid,
            "ipc2: refused a connection with a valid token from outside worker process {pid}"
        );
        return Err(None);
    }
    check_protocol(&candidate.hello).map_err(Some)
}

/// Checks that a worker speaks this host's protocol version, and that its host name is fit to
/// print.
pub(super) fn check_protocol(hello: &Hello) -> Result<(), String> {
    if hello.protocol_version != PROTOCOL_VERSION {
        return Err(format!(
            "it speaks ipc2 protocol version {}, but this host speaks {PROTOCOL_VERSION}: rebuild the worker and host against the same ipc2",
            hello.protocol_version
        ));
    }
    // The name goes into logs and error messages: it must be short and printable.
    let name = &hello.host_name;
    if name.len() > MAX_HOST_NAME_LEN || name.chars().any(char::is_control) {
        return Err(format!(
            "its host name ({} bytes) is longer than {MAX_HOST_NAME_LEN} bytes or holds control characters",
            name.len()
        ));
    }
    Ok(())
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("peer", &self.peer)
            .field("hello", &self.hello)
            .finish_non_exhaustive()
    }
}
