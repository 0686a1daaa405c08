//! Joining the host: the handshake, and the two tasks that carry frames in and out.
//!
//! [`connect`] reads the invitation the host put in this process's environment (or, for a worker
//! an orchestrator started, the address in `IPC2_CONNECT`: see `dial.rs`), dials the host, sends
//! the `Hello` frame, waits for the welcome and then starts two tasks: a reader that decodes
//! incoming frames into [`Job`]s, and a writer ([`ipc2_common::outbox::write_frames`]) that sends
//! replies. Because reading never waits on the user's code, the host can always deliver its next
//! frame, and a reply can be sent from any task at any time.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ipc2_common::handshake::{
    ENV_CONNECT, ENV_STARTUP_TIMEOUT_MS, Hello, Invitation, MAX_WELCOME_LEN, PROTOCOL_VERSION,
    Settings, Token,
};
use ipc2_common::outbox::{self, Outbox};
use ipc2_common::schema::Description;
use ipc2_common::{
    Attached, Client, FrameCodec, ReadHalf, ReceivedFds, ToHost, ToWorker, WriteHalf, codec,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use crate::dial::{Credentials, Dial};
use crate::job::Replies;
use crate::{Error, EventSender, Job, ReplySender};

/// The stream of jobs of type `R` from the host, answered with replies of type `W`; events are
/// of type `E`. Returned by [`connect`] (where `E` is `W`) and [`connect_with_events`].
#[derive(Debug)]
pub struct Receiver<R, W, E = W> {
    jobs: mpsc::UnboundedReceiver<Job<R, W>>,
    events: EventSender<E>,
    /// The CPU time each job may use (see `cpu.rs`).
    cpu_limit: Option<Duration>,
}

impl<R, W, E> Receiver<R, W, E> {
    /// A handle for sending the host messages it did not ask for (see [`EventSender`]).
    pub fn event_sender(&self) -> EventSender<E> {
        self.events.clone()
    }

    /// Waits for the next job. Returns `None` once the host has closed the connection (it shut
    /// down, dropped its `WorkerSet`, or died) and every job already received has been taken.
    pub async fn recv(&mut self) -> Option<Job<R, W>> {
        let job = self.jobs.recv().await;
        self.starts(job)
    }

    pub(crate) fn blocking_recv(&mut self) -> Option<Job<R, W>> {
        let job = self.jobs.blocking_recv();
        self.starts(job)
    }

    /// A job handed to the program starts: it gets its CPU time allowance (see `cpu.rs`).
    fn starts(&self, job: Option<Job<R, W>>) -> Option<Job<R, W>> {
        if let (Some(_), Some(limit)) = (&job, self.cpu_limit) {
            crate::cpu::allow(limit);
        }
        job
    }
}

/// Whether this process was started to be an ipc2 worker, that is, whether [`connect`] can
/// succeed: by a host, or by an orchestrator that names the host in `IPC2_CONNECT`.
///
/// Lets one binary act as both host and worker:
///
/// ```no_run
/// # async fn _run_host() {}
/// # async fn _run_worker() {}
/// # async fn _main() {
/// if ipc2::worker::started_by_host() {
///     _run_worker().await
/// } else {
///     _run_host().await
/// }
/// # }
/// ```
pub fn started_by_host() -> bool {
    Invitation::present() || std::env::var_os(ENV_CONNECT).is_some()
}

/// How this worker finds its host.
enum Host {
    /// The host started this process and invited it.
    Invited(Invitation),
    /// An orchestrator started it, and [`ENV_CONNECT`] or a [`Dial`] names the host (see
    /// `dial.rs`).
    Dialed {
        address: String,
        /// `None`: the transport reads them from the environment.
        credentials: Option<Credentials>,
        /// How long the host may take to welcome this worker once connected.
        startup_timeout: Option<Duration>,
    },
}

/// How long a dialed worker waits to be welcomed, once connected, when
/// [`ENV_STARTUP_TIMEOUT_MS`] does not say.
const DIALED_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a dialed worker waits to be welcomed: [`ENV_STARTUP_TIMEOUT_MS`] (0: no limit), or
/// [`DIALED_STARTUP_TIMEOUT`].
fn dialed_startup_timeout() -> Result<Option<Duration>, Error> {
    match std::env::var(ENV_STARTUP_TIMEOUT_MS) {
        Err(_) => Ok(Some(DIALED_STARTUP_TIMEOUT)),
        Ok(ms) => match ms.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(ms) => Ok(Some(Duration::from_millis(ms))),
            Err(_) => Err(ipc2_common::Error::InvalidEnv {
                var: ENV_STARTUP_TIMEOUT_MS,
                reason: "it is not a number",
            }
            .into()),
        },
    }
}

impl Host {
    fn from_env() -> Result<Self, Error> {
        if Invitation::present() {
            return Ok(Self::Invited(Invitation::from_env()?));
        }
        let Some(address) = std::env::var_os(ENV_CONNECT) else {
            return Err(ipc2_common::Error::NotStartedByHost.into());
        };
        let invalid = |reason| ipc2_common::Error::InvalidEnv {
            var: ENV_CONNECT,
            reason,
        };
        let address = address
            .into_string()
            .map_err(|_| invalid("it is not valid UTF-8"))?;
        Ok(Self::Dialed {
            address,
            credentials: None,
            startup_timeout: dialed_startup_timeout()?,
        })
    }

    fn dialed(dial: Dial) -> Result<Self, Error> {
        Ok(Self::Dialed {
            address: dial.address,
            credentials: Some(dial.credentials),
            startup_timeout: dialed_startup_timeout()?,
        })
    }

    fn address(&self) -> &str {
        match self {
            Self::Invited(invitation) => &invitation.address,
            Self::Dialed { address, .. } => address,
        }
    }

    fn startup_timeout(&self) -> Option<Duration> {
        match self {
            Self::Invited(invitation) => invitation.startup_timeout,
            Self::Dialed {
                startup_timeout, ..
            } => *startup_timeout,
        }
    }
}

/// Connects to the host that started this process (or, for a worker an orchestrator started,
/// the host [`ENV_CONNECT`] names) and returns the stream of its jobs.
///
/// `C` is the transport: [`AnyClient`](ipc2_common::AnyClient) dials whichever the host's address
/// names (a Unix socket, `tls://` or `unencrypted-tcp://`), `tokio::net::UnixStream` only a Unix
/// socket; `R` the type of
/// the jobs the host sends and `W` the type of the replies, which is also the type of events
/// (see [`connect_with_events`] for events of their own type). Must be called inside a tokio
/// runtime.
///
/// Both types must be `Deserialize` as well: the worker describes them to the host at the
/// handshake, and a host whose types differ refuses it at start with the first difference,
/// instead of failing every call (see `ipc2_common::schema`).
///
/// Fails with `Error::Protocol(ipc2_common::Error::NotStartedByHost)` when the program was not
/// started by a host and `IPC2_CONNECT` is not set, with [`Error::Connect`] when the host cannot
/// be reached, and with [`Error::Refused`] when the host closes the connection instead of
/// welcoming this worker (a token, protocol version or types not its own: the host's log says
/// which, and a worker on another machine is told).
///
/// For a worker its host started, this also asks the kernel, on Linux, to kill the process when
/// its host dies (`PR_SET_PDEATHSIG(SIGKILL)`), so a worker busy in a long job does not outlive
/// a host killed with SIGKILL. A worker an orchestrator started (which retries a host it cannot
/// reach, with back-off from 100 ms to 5 s) instead exits, with status 0, one second after its host
/// closes the connection, unless the process has ended by then: even a handler still running cannot
/// keep it.
///
/// On a multi-thread runtime, run the loop that takes the jobs in a task of the runtime
/// (`tokio::spawn(async move { while let Some(job) = jobs.recv().await { .. } })`) rather than
/// on the thread of `#[tokio::main]`, which is not one of the runtime's workers: the
/// connection's reader then wakes the loop on its own thread instead of waking another thread
/// for every job. In this crate's benchmark that about doubles the calls per second at 64 in
/// flight. [`serve`](crate::serve()) does it for you when the runtime has two workers or more.
pub async fn connect<C, R, W>() -> Result<Receiver<R, W>, Error>
where
    C: Client,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + DeserializeOwned + Send + 'static,
{
    connect_with_events::<C, R, W, W>().await
}

/// [`connect`], with events of type `E`: the host's set must have the same event type
/// (`WorkerSet<S, W, R, E>` on the host, where `W` and `R` are the reply and job types).
///
/// ```no_run
/// # async fn _demo() -> Result<(), ipc2::worker::Error> {
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Progress { percent: u8 }
///
/// let jobs = ipc2::worker::connect_with_events::<tokio::net::UnixStream, String, u64, Progress>()
///     .await?;
/// jobs.event_sender().send(Progress { percent: 0 })?;
/// # Ok(())
/// # }
/// ```
pub async fn connect_with_events<C, R, W, E>() -> Result<Receiver<R, W, E>, Error>
where
    C: Client,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + DeserializeOwned + Send + 'static,
    E: Serialize + DeserializeOwned + Send + 'static,
{
    join_host::<C, R, W, E>(Host::from_env()?).await
}

/// Connects to the host `dial` names, for a worker that an orchestrator started with the host's
/// address and credentials given in code rather than in its environment: as
/// [`connect_with_events`] does otherwise, with events of type `E` (give `W` for none of their
/// own). The transport is the one `dial` names.
///
/// ```no_run
/// # async fn _demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ipc2::transport::TlsConfig;
/// use ipc2::worker::Dial;
///
/// let config = TlsConfig::from_pem_files("worker.crt", "worker.key", "ca.crt")?;
/// let dial = Dial::tls("tls://host.example:7000", config);
/// let mut jobs = ipc2::worker::connect_to::<String, u64, u64>(dial).await?;
/// while let Some(job) = jobs.recv().await {
///     // ...
/// #   drop(job);
/// }
/// # Ok(()) }
/// ```
pub async fn connect_to<R, W, E>(dial: Dial) -> Result<Receiver<R, W, E>, Error>
where
    R: DeserializeOwned + Send + 'static,
    W: Serialize + DeserializeOwned + Send + 'static,
    E: Serialize + DeserializeOwned + Send + 'static,
{
    join_host::<ipc2_common::AnyClient, R, W, E>(Host::dialed(dial)?).await
}

/// Reaches `host` over `C` (unless it was given credentials), joins it and starts the tasks that
/// carry frames.
async fn join_host<C, R, W, E>(host: Host) -> Result<Receiver<R, W, E>, Error>
where
    C: Client,
    R: DeserializeOwned + Send + 'static,
    W: Serialize + DeserializeOwned + Send + 'static,
    E: Serialize + DeserializeOwned + Send + 'static,
{
    let types = Description::of::<R, W, E>();
    let (halves, socket) = match &host {
        Host::Invited(invitation) => {
            crate::parent::die_with_host();
            let connect_error = |source| Error::Connect {
                address: invitation.address.clone(),
                source,
            };
            let halves = C::connect(&invitation.address)
                .await
                .map_err(connect_error)?
                .split(invitation.spin)
                .map_err(connect_error)?;
            (halves, None)
        }
        Host::Dialed {
            address,
            credentials,
            ..
        } => {
            let dialed = crate::dial::dial::<C>(address, credentials.as_ref()).await?;
            (dialed.halves, dialed.socket)
        }
    };
    let joining = join(halves, &host, &types);
    let joined = match host.startup_timeout() {
        None => joining.await?,
        Some(limit) => tokio::time::timeout(limit, joining).await.map_err(|_| {
            Error::Refused {
                address: host.address().to_owned(),
                reason: format!(
                    "it did not welcome this worker within {limit:?}, the host's startup timeout"
                ),
            }
        })??,
    };
    let Joined {
        read,
        outbox,
        codec,
        buf,
        settings,
    } = joined;
    outbox.share_above(
        settings
            .share_above
            .and_then(|len| usize::try_from(len).ok()),
    );

    let (jobs_tx, jobs) = mpsc::unbounded_channel();
    let events = EventSender::new(outbox.clone(), settings.max_frame_len);
    let closed = CancellationToken::new();
    if let Some(interval) = settings.heartbeat {
        tokio::spawn(heartbeat(outbox.clone(), interval, closed.clone()));
    }
    let dialed = match &host {
        Host::Dialed { address, .. } => Some(address.clone()),
        Host::Invited(_) => None,
    };
    if let (Some(address), Some(socket)) = (&dialed, socket) {
        crate::dial::exit_soon(address, Some(socket));
    }
    let reader = Reader::<R, W> {
        replies: Arc::new(Replies::new(outbox, settings.max_frame_len)),
        jobs: jobs_tx,
        fds: read.received_fds(),
        attached: Attached::default(),
        _types: PhantomData,
    };
    tokio::spawn(async move {
        if let Err(err) = reader.run(read, codec, buf).await {
            // The host only sends well-formed frames; anything else means the connection
            // cannot be trusted any more. Dropping it makes the host replace this worker.
            tracing::error!("ipc2 worker: closing the connection to the host: {err}");
        }
        closed.cancel();
        if let Some(address) = dialed {
            crate::dial::exit_soon(&address, None);
        }
    });
    Ok(Receiver {
        jobs,
        events,
        cpu_limit: settings.cpu_limit,
    })
}

/// A connection the host has welcomed.
struct Joined {
    read: ReadHalf,
    outbox: Outbox,
    codec: FrameCodec,
    /// What arrived after the welcome.
    buf: BytesMut,
    /// What the welcome said.
    settings: Settings,
}

/// Says hello on a connection's halves (with `types`), starts the writer, and waits for the
/// host's welcome.
async fn join(
    (mut read, write): (ReadHalf, WriteHalf),
    host: &Host,
    types: &Description,
) -> Result<Joined, Error> {
    let address = host.address();
    let fingerprint = types.fingerprint();
    let (hello, max_frame_len) = match host {
        Host::Invited(invitation) => (
            Hello {
                protocol_version: PROTOCOL_VERSION,
                token: Some(invitation.token.clone()),
                worker_id: invitation.worker_id,
                pid: std::process::id(),
                host_name: String::new(),
                types: fingerprint,
                // The host will refuse this worker if its types differ; it then says why.
                describes_types: fingerprint != invitation.types,
            },
            invitation.max_frame_len,
        ),
        Host::Dialed { .. } => (
            Hello {
                protocol_version: PROTOCOL_VERSION,
                token: None::<Token>,
                worker_id: 0,
                pid: std::process::id(),
                host_name: ipc2_common::handshake::host_name(),
                types: fingerprint,
                // Without an invitation the worker cannot know the host's fingerprint.
                describes_types: true,
            },
            MAX_WELCOME_LEN,
        ),
    };
    let (outbox, queued) = outbox::outbox(&*write);
    outbox.send(&ToHost::Hello, Some(&hello), usize::MAX)?;
    if hello.describes_types {
        outbox.send(&ToHost::Types, Some(types), usize::MAX)?;
    }
    tokio::spawn(async move {
        if let Err(err) = outbox::write_frames(queued, write).await {
            tracing::debug!("ipc2 worker: writing to the host failed: {err}");
        }
    });
    let mut codec = FrameCodec::new(max_frame_len.max(MAX_WELCOME_LEN));
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let settings = welcome(&mut read, &mut codec, &mut buf)
        .await
        .map_err(|reason| Error::Refused {
            address: address.to_owned(),
            reason,
        })?;
    codec.set_max_frame_len(settings.max_frame_len);
    Ok(Joined {
        read,
        outbox,
        codec,
        buf,
        settings,
    })
}

/// Sends a heartbeat every `interval` until the connection to the host is gone. It runs on the
/// I/O side, so it keeps beating while handlers are busy, as long as the runtime can run tasks.
async fn heartbeat(outbox: Outbox, interval: Duration, closed: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = closed.cancelled() => return,
        }
        if outbox
            .send(&ToHost::Heartbeat, None::<&()>, usize::MAX)
            .is_err()
        {
            return;
        }
    }
}

/// Waits for the host's [`ToWorker::Welcome`], leaving in `buf` whatever arrived after it; the
/// error says what came instead.
async fn welcome<T: AsyncRead + Unpin>(
    read: &mut T,
    codec: &mut FrameCodec,
    buf: &mut BytesMut,
) -> Result<Settings, String> {
    loop {
        match codec.decode(buf) {
            Ok(Some(payload)) => {
                return match codec::decode_header::<ToWorker>(&payload) {
                    Ok((ToWorker::Welcome, body)) => codec::decode_body::<Settings>(body)
                        .map_err(|err| format!("its welcome is malformed: {err}")),
                    Ok((ToWorker::Refused, body)) => Err(codec::decode_body::<String>(body)
                        .unwrap_or_else(|err| {
                            format!("it refused it, for a malformed reason: {err}")
                        })),
                    Ok((other, _)) => Err(format!("it sent {other:?} before its welcome")),
                    Err(err) => Err(format!("its first frame is malformed: {err}")),
                };
            }
            Ok(None) => {}
            Err(err) => return Err(format!("its first frame is unreadable: {err}")),
        }
        buf.reserve(1);
        match read.read_buf(buf).await {
            Ok(0) => {
                return Err(
                    "it closed the connection; its log says why (a token, protocol version or types not the host's, or for TLS a certificate its CA did not sign)"
                        .to_owned(),
                );
            }
            Ok(_) => {}
            Err(err) => return Err(format!("the connection failed: {err}")),
        }
    }
}

/// The read buffer's starting size.
const READ_BUFFER: usize = 8 * 1024;

/// Turns incoming frames into jobs.
struct Reader<R, W> {
    replies: Arc<Replies>,
    jobs: mpsc::UnboundedSender<Job<R, W>>,
    /// Where the host's file descriptors arrive, if the transport passes them.
    fds: Option<ReceivedFds>,
    /// What announcement frames brought for the frame after them.
    attached: Attached,
    _types: PhantomData<fn() -> (R, W)>,
}

impl<R: DeserializeOwned, W: Serialize> Reader<R, W> {
    /// Handles the frames in `buf`, then those `read` brings, until the host closes the
    /// connection (`Ok`) or it breaks. Each request is decoded where it lies in the read buffer.
    async fn run<T: AsyncRead + Unpin>(
        mut self,
        mut read: T,
        mut codec: FrameCodec,
        mut buf: BytesMut,
    ) -> Result<(), ipc2_common::Error> {
        loop {
            let max_frame_len = codec.max_frame_len();
            while codec
                .decode_with(&mut buf, |payload| self.handle(payload, max_frame_len))?
                .transpose()?
                .is_some()
            {}
            // Room for at least one byte, so that a read of zero means the end of the stream.
            buf.reserve(1);
            let read_len = match read.read_buf(&mut buf).await {
                // A TLS host that closed without `close_notify` (it dropped the connection):
                // as much the end as any other.
                Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                read_len => read_len?,
            };
            if read_len == 0 {
                return match codec.decode_eof(&mut buf)? {
                    Some(payload) => self.handle(&payload, codec.max_frame_len()),
                    None => Ok(()),
                };
            }
        }
    }

    /// Handles one frame from the host; a shared body may be at most `max_frame_len` bytes.
    fn handle(&mut self, payload: &[u8], max_frame_len: usize) -> Result<(), ipc2_common::Error> {
        let (header, body) = codec::decode_header::<ToWorker>(payload)?;
        if self
            .attached
            .take_in(&header, self.fds.as_ref(), max_frame_len)?
        {
            return Ok(());
        }
        let (fds, shared) = self.attached.for_frame(&header, body)?;
        let body = shared.as_deref().unwrap_or(body);
        match header {
            ToWorker::Fds { .. } | ToWorker::Shared { .. } => {}
            ToWorker::Request { id } | ToWorker::Stream { id } => {
                let streaming = matches!(header, ToWorker::Stream { .. });
                if streaming {
                    self.replies.credits.open(id);
                }
                let tx = ReplySender::new(id, self.replies.clone(), streaming);
                match ipc2_common::fd::receiving(fds, || codec::decode_body::<R>(body)) {
                    Ok(data) => {
                        // If the receiver is gone, the job (and its ReplySender) is dropped
                        // here, which tells the host the request failed.
                        let _ = self.jobs.send(Job::Bidirectional { data, tx });
                    }
                    Err(err) => tx.fail(&format!(
                        "the worker could not decode the request as {}: {err}",
                        std::any::type_name::<R>()
                    )),
                }
            }
            ToWorker::Notify => {
                match ipc2_common::fd::receiving(fds, || codec::decode_body::<R>(body)) {
                    Ok(data) => {
                        let _ = self.jobs.send(Job::Unidirectional { data });
                    }
                    Err(err) => tracing::warn!(
                        "ipc2 worker: dropping a notification that is not a {}: {err}",
                        std::any::type_name::<R>()
                    ),
                }
            }
            ToWorker::Cancel { id } => self.replies.cancels.cancel(id),
            ToWorker::Credit { id } => self.replies.credits.grant(id, codec::decode_body(body)?),
            ToWorker::Welcome | ToWorker::Refused => {
                return Err(ipc2_common::Error::UnexpectedFrame(
                    "a welcome or refusal after the welcome",
                ));
            }
        }
        Ok(())
    }
}
