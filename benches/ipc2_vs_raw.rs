//! ipc2 against the practical limit, a raw blocking Unix-socket round trip, measured in one run.
//!
//! ```text
//! cargo bench --bench ipc2_vs_raw            # full run, pinned to one core and free placement
//! cargo bench --bench ipc2_vs_raw -- --quick # a few iterations (a smoke test)
//! ```
//!
//! The binary plays every part: run by hand it starts three measuring children (one pinned to CPU
//! 0 with all its workers, one free, both tuned: current-thread runtimes on both sides and
//! `max_in_flight_per_worker(64)` where many calls are in flight; and one with what a user gets
//! by default: `#[tokio::main]`'s multi-thread runtime on both sides, free placement, and the
//! builder's defaults), each of which starts its own peers from this same binary (`--raw-echo`,
//! `--bare`, or an ipc2 worker). Each child prints a table and a `SUMMARY` line
//! with `key=value` pairs for scripts. Absolute times vary between machines; the ratios against
//! the raw baseline measured in the same process are the figures that matter.

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipc2::WorkerSet;
use ipc2::worker::Job;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

#[path = "ipc2_vs_raw/network.rs"]
mod network;

#[derive(Debug, Serialize, Deserialize)]
enum BenchJob {
    Add(u32, u32),
    Echo(ByteBuf),
    EchoVec(Vec<u8>),
    /// Answer with a stream of this many small items.
    Stream(u32),
}

#[derive(Debug, Serialize, Deserialize)]
enum BenchReply {
    Sum(u32),
    Echo(ByteBuf),
    EchoVec(Vec<u8>),
}

type Workers = WorkerSet<tokio::net::UnixListener, BenchReply, BenchJob>;

/// The small request again, through the client and server `#[ipc2::service]` generates.
#[ipc2::service]
trait Adder {
    async fn add(&self, a: u32, b: u32) -> u32;
}

struct MyAdder;

impl Adder for MyAdder {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
}

/// The argument that makes a worker serve `Adder` rather than answer raw jobs.
const SERVICE: &str = "--service";

/// The argument that makes a worker run on a multi-thread runtime, as `#[tokio::main]` does.
const MULTI_THREAD: &str = "--multi-thread";

/// The spin-poll setting measured (the figure the docs suggest).
const SPIN: Duration = Duration::from_micros(50);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if ipc2::worker::started_by_host() {
        return ipc2_worker();
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let quick = args.iter().any(|a| a == "--quick");
    match args.first().map(String::as_str) {
        Some("--raw-echo") => raw_echo(&args[1], Duration::from_micros(args[2].parse()?)),
        Some("--raw-echo-tcp") => {
            let stream = std::net::TcpStream::connect(&args[1])?;
            stream.set_nodelay(true)?;
            echo_frames(&stream, |_| {})
        }
        Some("--bare") => {
            UnixStream::connect(&args[1])?;
            Ok(())
        }
        Some("--placement") => measure(&args[1], quick),
        _ => {
            for placement in ["pinned", "free", "defaults"] {
                let mut child = Command::new(std::env::current_exe()?);
                child.args(["--placement", placement]);
                if quick {
                    child.arg("--quick");
                }
                let status = child.status()?;
                if !status.success() {
                    return Err(format!("the {placement} run failed: {status}").into());
                }
            }
            Ok(())
        }
    }
}

/// The ipc2 worker: answers every job on a current-thread runtime, or with `--multi-thread` on
/// the runtime `#[tokio::main]` builds.
fn ipc2_worker() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = runtime(std::env::args().any(|arg| arg == MULTI_THREAD))?;
    if std::env::args().any(|arg| arg == SERVICE) {
        return Ok(runtime.block_on(ipc2::worker::serve(AdderServer(MyAdder)))?);
    }
    runtime.block_on(async {
        let mut jobs =
            ipc2::worker::connect::<ipc2::transport::AnyClient, BenchJob, BenchReply>().await?;
        while let Some(job) = jobs.recv().await {
            let Job::Bidirectional { data, tx } = job else {
                continue;
            };
            let reply = match data {
                BenchJob::Add(a, b) => BenchReply::Sum(a.wrapping_add(b)),
                BenchJob::Echo(bytes) => BenchReply::Echo(bytes),
                BenchJob::EchoVec(bytes) => BenchReply::EchoVec(bytes),
                BenchJob::Stream(n) => {
                    let mut items = tx.into_stream();
                    for i in 0..n {
                        if items.send(BenchReply::Sum(i)).await.is_err() {
                            break;
                        }
                    }
                    continue;
                }
            };
            let _ = tx.send(reply);
        }
        Ok(())
    })
}

/// The raw peer: length-prefixed frames over a blocking socket, buffered both ways and flushed
/// whenever no further request is already buffered (so a lone request is answered at once and a
/// pipelined burst with one write). An 8-byte frame is an "add" (answered with the 4-byte sum),
/// a 12-byte one a "stream" of as many 4-byte frames as its first 4 bytes say; anything else is
/// echoed. With a `spin`, it polls for up to that long before each blocking
/// read.
fn raw_echo(path: &str, spin: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let stream = UnixStream::connect(path)?;
    echo_frames(&stream, |stream| spin_until_readable(stream, spin))
}

/// The raw peer's loop over `stream`, calling `before_read` before each read that would block.
fn echo_frames<S>(stream: &S, before_read: impl Fn(&S)) -> Result<(), Box<dyn std::error::Error>>
where
    for<'a> &'a S: Read + Write,
{
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut writer = BufWriter::with_capacity(64 * 1024, stream);
    let mut payload = Vec::new();
    loop {
        if reader.buffer().is_empty() {
            before_read(stream);
        }
        let mut len = [0; 4];
        if reader.read_exact(&mut len).is_err() {
            return Ok(());
        }
        payload.resize(u32::from_le_bytes(len) as usize, 0);
        reader.read_exact(&mut payload)?;
        if payload.len() == 8 {
            let a = u32::from_le_bytes(payload[..4].try_into()?);
            let b = u32::from_le_bytes(payload[4..].try_into()?);
            writer.write_all(&4u32.to_le_bytes())?;
            writer.write_all(&a.wrapping_add(b).to_le_bytes())?;
        } else if payload.len() == 12 {
            for i in 0..u32::from_le_bytes(payload[..4].try_into()?) {
                writer.write_all(&4u32.to_le_bytes())?;
                writer.write_all(&i.to_le_bytes())?;
            }
        } else {
            writer.write_all(&len)?;
            writer.write_all(&payload)?;
        }
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
}

/// Polls `stream` for up to `spin` until it has something to read.
fn spin_until_readable(stream: &UnixStream, spin: Duration) {
    let deadline = Instant::now() + spin;
    let mut peek = [0u8; 1];
    let flags = rustix::net::RecvFlags::DONTWAIT | rustix::net::RecvFlags::PEEK;
    while Instant::now() < deadline {
        match rustix::net::recv(stream, &mut peek[..], flags) {
            Err(rustix::io::Errno::AGAIN) => std::hint::spin_loop(),
            _ => return,
        }
    }
}

struct Raw {
    stream: UnixStream,
    child: Child,
    spin: Duration,
    frame: Vec<u8>,
    reply: Vec<u8>,
}

impl Raw {
    /// Starts a raw peer; with a `spin`, both ends poll that long before blocking reads.
    fn start(dir: &Path, spin: Duration) -> Result<Self, Box<dyn std::error::Error>> {
        let path = dir.join(format!("raw-{}.sock", spin.as_micros()));
        let listener = UnixListener::bind(&path)?;
        let child = Command::new(std::env::current_exe()?)
            .arg("--raw-echo")
            .arg(&path)
            .arg(spin.as_micros().to_string())
            .spawn()?;
        let (stream, _) = listener.accept()?;
        Ok(Self {
            stream,
            child,
            spin,
            frame: Vec::new(),
            reply: Vec::new(),
        })
    }

    fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.frame.clear();
        self.frame
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.frame.extend_from_slice(payload);
        self.stream.write_all(&self.frame)
    }

    fn receive(&mut self) -> std::io::Result<()> {
        spin_until_readable(&self.stream, self.spin);
        let mut len = [0; 4];
        self.stream.read_exact(&mut len)?;
        self.reply.resize(u32::from_le_bytes(len) as usize, 0);
        self.stream.read_exact(&mut self.reply)
    }

    fn round_trip(&mut self, payload: &[u8]) -> std::io::Result<Duration> {
        let start = Instant::now();
        self.send(payload)?;
        self.receive()?;
        Ok(start.elapsed())
    }

    /// Frames per second of a stream of `n` small frames the peer writes back to back.
    fn stream(&mut self, n: u32) -> std::io::Result<f64> {
        let mut request = [12u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        request[4..8].copy_from_slice(&n.to_le_bytes());
        let start = Instant::now();
        self.stream.write_all(&request)?;
        let mut reader = BufReader::with_capacity(64 * 1024, &self.stream);
        let mut frame = [0u8; 8];
        for _ in 0..n {
            reader.read_exact(&mut frame)?;
        }
        Ok(f64::from(n) / start.elapsed().as_secs_f64())
    }

    /// Calls per second with `in_flight` requests outstanding, pipelined through buffered I/O
    /// (the practical limit of a hand-written client).
    fn throughput(&mut self, in_flight: usize, total: usize) -> std::io::Result<f64> {
        let add = [8u8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0];
        let mut reader = BufReader::with_capacity(64 * 1024, &self.stream);
        let mut writer = BufWriter::with_capacity(64 * 1024, &self.stream);
        let start = Instant::now();
        let mut sent = 0;
        while sent < in_flight.min(total) {
            writer.write_all(&add)?;
            sent += 1;
        }
        writer.flush()?;
        let mut reply = [0u8; 8];
        for _ in 0..total {
            reader.read_exact(&mut reply)?;
            if sent < total {
                writer.write_all(&add)?;
                sent += 1;
            }
            if reader.buffer().is_empty() {
                writer.flush()?;
            }
        }
        Ok(total as f64 / start.elapsed().as_secs_f64())
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        let _ = self.child.wait();
    }
}

/// Hand-written tokio clients of the raw peer, the baselines for the default configuration:
/// what a user would write with tokio instead of ipc2.
struct TokioRaw {
    _peer: Raw,
    stream: tokio::net::UnixStream,
}

impl TokioRaw {
    /// Starts a raw peer and connects to it through tokio.
    fn start(dir: &Path, name: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir)?;
        // The blocking client of `peer` stays unused; this one shares its connection.
        let peer = Raw::start(&dir, Duration::ZERO)?;
        let std = peer.stream.try_clone()?;
        std.set_nonblocking(true)?;
        Ok(Self {
            _peer: peer,
            stream: tokio::net::UnixStream::from_std(std)?,
        })
    }

    /// One small request and its reply.
    async fn round_trip(&mut self) -> std::io::Result<Duration> {
        tokio_round_trip(&mut self.stream).await
    }

    /// Calls per second from one task pipelining `in_flight` requests directly on the socket:
    /// the fastest a hand-written tokio client gets, with no sharing between tasks.
    async fn pipelined(self, in_flight: usize, total: usize) -> std::io::Result<f64> {
        let (read, write) = self.stream.into_split();
        tokio_pipelined(read, write, in_flight, total).await
    }
    /// Calls per second from `callers` tasks sharing one cloneable client: each call goes over
    /// an mpsc channel to a writer task and waits on a oneshot, which a reader task answers in
    /// order (the peer answers in order).
    async fn multiplexed(
        self,
        callers: usize,
        total: usize,
    ) -> Result<f64, Box<dyn std::error::Error>> {
        use std::collections::VecDeque;
        use std::sync::{Arc, Mutex};
        use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
        use tokio::sync::{mpsc, oneshot};

        let (read, write) = self.stream.into_split();
        let waiting: Arc<Mutex<VecDeque<oneshot::Sender<u32>>>> = Arc::default();
        let (calls, mut queued) = mpsc::channel::<oneshot::Sender<u32>>(1024);
        let writer = {
            let waiting = waiting.clone();
            tokio::spawn(async move {
                let mut write = BufWriter::new(write);
                while let Some(reply) = queued.recv().await {
                    waiting.lock().unwrap().push_back(reply);
                    write.write_all(&ADD_FRAME).await?;
                    if queued.is_empty() {
                        write.flush().await?;
                    }
                }
                Ok::<_, std::io::Error>(())
            })
        };
        let reader = tokio::spawn(async move {
            let mut read = tokio::io::BufReader::new(read);
            let mut reply = [0u8; 8];
            for _ in 0..total {
                read.read_exact(&mut reply).await?;
                let sum = u32::from_le_bytes(reply[4..].try_into().unwrap_or_default());
                if let Some(caller) = waiting.lock().unwrap().pop_front() {
                    let _ = caller.send(sum);
                }
            }
            Ok::<_, std::io::Error>(())
        });
        let per_caller = total / callers;
        let start = Instant::now();
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let calls = calls.clone();
                tokio::spawn(async move {
                    for _ in 0..per_caller {
                        let (tx, rx) = oneshot::channel();
                        calls.send(tx).await.map_err(|_| "the writer stopped")?;
                        rx.await.map_err(|_| "the reader stopped")?;
                    }
                    Ok::<_, &'static str>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        let rate = (per_caller * callers) as f64 / start.elapsed().as_secs_f64();
        drop(calls);
        writer.await??;
        reader.abort();
        Ok(rate)
    }
}

/// One small request to the raw peer over `stream` and its reply, from tokio.
async fn tokio_round_trip<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
) -> std::io::Result<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let start = Instant::now();
    stream.write_all(&ADD_FRAME).await?;
    let mut reply = [0u8; 8];
    stream.read_exact(&mut reply).await?;
    Ok(start.elapsed())
}

/// Calls per second from one task pipelining `in_flight` small requests to the raw peer.
async fn tokio_pipelined(
    read: impl tokio::io::AsyncRead + Unpin,
    write: impl tokio::io::AsyncWrite + Unpin,
    in_flight: usize,
    total: usize,
) -> std::io::Result<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
    let (mut read, mut write) = (BufReader::new(read), BufWriter::new(write));
    let start = Instant::now();
    let mut sent = 0;
    while sent < in_flight.min(total) {
        write.write_all(&ADD_FRAME).await?;
        sent += 1;
    }
    write.flush().await?;
    let mut reply = [0u8; 8];
    for _ in 0..total {
        read.read_exact(&mut reply).await?;
        if sent < total {
            write.write_all(&ADD_FRAME).await?;
            sent += 1;
        }
        if read.buffer().is_empty() {
            write.flush().await?;
        }
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// The raw protocol's small request, framed: an "add" of 1 and 2.
const ADD_FRAME: [u8; 12] = [8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0];

/// A current-thread runtime, or the multi-thread one `#[tokio::main]` builds.
fn runtime(multi_thread: bool) -> std::io::Result<tokio::runtime::Runtime> {
    match multi_thread {
        true => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        false => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
}

fn measure(placement: &str, quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    if placement == "pinned" {
        let mut cpus = rustix::thread::CpuSet::new();
        cpus.set(0);
        rustix::thread::sched_setaffinity(None, &cpus)?;
    }
    let scale = if quick { 50 } else { 1 };
    if placement == "defaults" {
        return report(placement, quick, defaults(scale)?);
    }
    let runtime = runtime(false)?;
    let dir = tempfile::tempdir()?;
    // IPC2_BENCH_ONLY=round_trip|throughput|echo|stream|startup runs one section, for profiling.
    let only = std::env::var("IPC2_BENCH_ONLY").ok();
    let wanted = |section: &str| only.as_deref().is_none_or(|only| only == section);
    let mut raw = Raw::start(dir.path(), Duration::ZERO)?;
    let mut rows = Vec::new();
    if wanted("round_trip") {
        rows.extend(round_trip(&runtime, &mut raw, 20_000 / scale)?);
        rows.extend(spinning_round_trip(&runtime, dir.path(), 20_000 / scale)?);
    }
    if wanted("throughput") {
        rows.extend(throughput(&runtime, &mut raw, 200_000 / scale)?);
    }
    if wanted("echo") {
        rows.extend(echoes(&runtime, &mut raw, scale)?);
    }
    if wanted("stream") {
        rows.extend(streams(&runtime, &mut raw, 200_000 / scale as u32)?);
    }
    drop(raw);
    if wanted("startup") {
        rows.extend(startup(&runtime, dir.path())?);
    }
    report(placement, quick, rows)
}

/// Prints the table and the `SUMMARY` line of one measuring child.
fn report(placement: &str, quick: bool, rows: Vec<Row>) -> Result<(), Box<dyn std::error::Error>> {
    let (rss, peak) = rss_kib();
    let mode = if quick { " (quick)" } else { "" };
    println!("\nipc2 vs raw Unix socket, placement: {placement}{mode}");
    println!("{:<36} {:>14} {:>14} {:>8}", "", "raw", "ipc2", "ratio");
    for row in &rows {
        println!(
            "{:<36} {:>14} {:>14} {:>7.2}x",
            row.label, row.raw, row.ipc2, row.ratio
        );
    }
    println!("host RSS: {rss} KiB now, {peak} KiB peak");
    let summary: Vec<String> = rows
        .iter()
        .map(|r| format!("{}={:.3}", r.key(), r.ratio))
        .collect();
    println!(
        "SUMMARY placement={placement} {} rss_kib={rss} peak_rss_kib={peak}",
        summary.join(" ")
    );
    Ok(())
}

type Rows = Result<Vec<Row>, Box<dyn std::error::Error>>;

/// What a user gets by default: multi-thread runtimes in host and workers, free placement, the
/// builder's defaults (one job per worker, as many workers as CPUs), 64 callers; beside the raw
/// blocking peer, the hand-written tokio clients [`TokioRaw`], and 64 calls in flight over one
/// worker with `max_in_flight_per_worker(64)` against the multiplexed one.
fn defaults(scale: usize) -> Rows {
    let dir = tempfile::tempdir()?;
    let mut raw = Raw::start(dir.path(), Duration::ZERO)?;
    let runtime = runtime(true)?;
    let workers: Workers = runtime.block_on(
        Workers::builder()
            .worker_path(std::env::current_exe()?)
            .arg(MULTI_THREAD)
            .finish(),
    )?;
    let iters = 20_000 / scale;
    let [raw_rtt, set_rtt] = raw_and_set_round_trips(&runtime, &mut raw, &workers, iters)?;
    let total = 50_000 / scale;
    let raw_rate = raw.throughput(64, total)?;
    // The tokio baselines, on this same multi-thread runtime.
    let mut tokio_raw = runtime.block_on(async { TokioRaw::start(dir.path(), "tokio-rtt") })?;
    let tokio_rtt = runtime.block_on(async {
        let mut times = Vec::with_capacity(iters);
        for _ in 0..iters {
            times.push(tokio_raw.round_trip().await?);
        }
        Ok::<_, std::io::Error>(median(times))
    })?;
    let multiplexed = runtime.block_on(async {
        TokioRaw::start(dir.path(), "tokio-mux")?
            .multiplexed(64, total)
            .await
    })?;
    let direct = runtime.block_on(async {
        let client = TokioRaw::start(dir.path(), "tokio-pipelined")?;
        Ok::<_, Box<dyn std::error::Error>>(client.pipelined(64, total).await?)
    })?;
    let pipelined_set: Workers = runtime.block_on(
        Workers::builder()
            .worker_count(1)
            .worker_path(std::env::current_exe()?)
            .arg(MULTI_THREAD)
            .max_in_flight_per_worker(64)
            .finish(),
    )?;
    let pipelined = runtime.block_on(calls_per_second(pipelined_set, 64, total))?;
    // The same through `#[ipc2::service]`, whose `serve` runs the job loop as a task of the
    // worker's runtime (the raw loop above runs on the thread of `block_on`).
    let service = runtime.block_on(service_builder(1).arg(MULTI_THREAD).finish())?;
    let service_rtt = runtime.block_on(async {
        let mut times = Vec::with_capacity(iters);
        for _ in 0..iters {
            let start = Instant::now();
            service.add(1, 2).await?;
            times.push(start.elapsed());
        }
        Ok::<_, ipc2::Error>(median(times))
    })?;
    let pipelined_service = runtime.block_on(calls_per_second(
        runtime.block_on(
            service_builder(1)
                .arg(MULTI_THREAD)
                .max_in_flight_per_worker(64)
                .finish(),
        )?,
        64,
        total,
    ))?;
    let mapped = runtime.block_on(async {
        use futures_util::StreamExt;
        let start = Instant::now();
        let replies = workers.map((0..total as u32).map(|i| BenchJob::Add(i, 1)));
        futures_util::pin_mut!(replies);
        while let Some(reply) = replies.next().await {
            reply?;
        }
        Ok::<_, ipc2::Error>(total as f64 / start.elapsed().as_secs_f64())
    })?;
    let rate = runtime.block_on(calls_per_second(workers, 64, total))?;
    let mut rows = vec![
        Row::time("round trip, median, defaults", raw_rtt.0, set_rtt.0),
        Row::time("round trip vs a tokio client", tokio_rtt, set_rtt.0),
        Row::time(
            "round trip, service, vs tokio client",
            tokio_rtt,
            service_rtt,
        ),
        Row::rate("calls/s, 64 callers, defaults", raw_rate, rate),
        Row::rate("calls/s, WorkerSet::map, defaults", raw_rate, mapped),
        Row::rate("calls/s, 64 in flight vs tokio mux", multiplexed, pipelined),
        Row::rate("calls/s, 64 in flight vs one tokio task", direct, pipelined),
        Row::rate(
            "64 in flight, service, vs tokio mux",
            multiplexed,
            pipelined_service,
        ),
        Row::rate(
            "64 in flight, service, vs one tokio task",
            direct,
            pipelined_service,
        ),
    ];
    rows.extend(network::network(&runtime, iters / 2, total)?);
    Ok(rows)
}

/// Sequential small round trips: median and p99, raw, through `WorkerSet::send` and through a
/// `#[ipc2::service]` client, taken in interleaved blocks (see [`Blocks`]).
fn round_trip(runtime: &tokio::runtime::Runtime, raw: &mut Raw, iters: usize) -> Rows {
    let workers: Workers = runtime.block_on(builder(1).finish())?;
    let service = runtime.block_on(service_builder(1).finish())?;
    let [raw_rtt, set_rtt, service_rtt] = runtime.block_on(async {
        let mut blocks = Blocks::new(iters);
        while let Some(n) = blocks.next() {
            for _ in 0..n {
                blocks.add(0, raw.round_trip(&SMALL)?);
            }
            for _ in 0..n {
                let start = Instant::now();
                workers.send(BenchJob::Add(1, 2)).await?;
                blocks.add(1, start.elapsed());
            }
            for _ in 0..n {
                let start = Instant::now();
                service.add(1, 2).await?;
                blocks.add(2, start.elapsed());
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(blocks.percentiles())
    })?;
    Ok(vec![
        Row::time("round trip, median", raw_rtt.0, set_rtt.0),
        Row::time("round trip, p99", raw_rtt.1, set_rtt.1),
        Row::time("round trip, median, service", raw_rtt.0, service_rtt.0),
    ])
}

/// The spin-poll option: both sides poll for the answer before sleeping, against a raw peer
/// that does the same.
fn spinning_round_trip(runtime: &tokio::runtime::Runtime, dir: &Path, iters: usize) -> Rows {
    let mut raw = Raw::start(dir, SPIN)?;
    let workers: Workers = runtime.block_on(builder(1).spin_poll(SPIN).finish())?;
    let [raw_rtt, set_rtt] = raw_and_set_round_trips(runtime, &mut raw, &workers, iters)?;
    Ok(vec![Row::time(
        "round trip, median, 50us spin-poll",
        raw_rtt.0,
        set_rtt.0,
    )])
}

/// Small round trips of the raw peer and of `workers`, in interleaved blocks: median and p99 of
/// each.
fn raw_and_set_round_trips(
    runtime: &tokio::runtime::Runtime,
    raw: &mut Raw,
    workers: &Workers,
    iters: usize,
) -> Result<[(Duration, Duration); 2], Box<dyn std::error::Error>> {
    runtime.block_on(async {
        let mut blocks = Blocks::new(iters);
        while let Some(n) = blocks.next() {
            for _ in 0..n {
                blocks.add(0, raw.round_trip(&SMALL)?);
            }
            for _ in 0..n {
                let start = Instant::now();
                workers.send(BenchJob::Add(1, 2)).await?;
                blocks.add(1, start.elapsed());
            }
        }
        Ok(blocks.percentiles())
    })
}

/// The small request of the raw protocol: an "add" of 1 and 2.
const SMALL: [u8; 8] = [1, 0, 0, 0, 2, 0, 0, 0];

/// Samples of `N` contenders taken in turn, a block of each at a time: a warm-up block, then
/// ten kept, so that drift over the run (clock speed, neighbours) touches all of them alike.
struct Blocks<const N: usize> {
    per_block: usize,
    block: usize,
    samples: [Vec<Duration>; N],
}

impl<const N: usize> Blocks<N> {
    const KEPT: usize = 10;

    fn new(iters: usize) -> Self {
        Self {
            per_block: (iters / Self::KEPT).max(1),
            block: 0,
            samples: std::array::from_fn(|_| Vec::with_capacity(iters)),
        }
    }

    /// How many samples of each contender the next block takes; `None` when done.
    fn next(&mut self) -> Option<usize> {
        self.block += 1;
        (self.block <= Self::KEPT + 1).then_some(self.per_block)
    }

    fn add(&mut self, contender: usize, time: Duration) {
        if self.block > 1 {
            self.samples[contender].push(time);
        }
    }

    fn percentiles(self) -> [(Duration, Duration); N] {
        self.samples.map(percentiles)
    }
}

/// Calls per second with 64 in flight, over one and two workers.
fn throughput(runtime: &tokio::runtime::Runtime, raw: &mut Raw, total: usize) -> Rows {
    let raw_rate = raw.throughput(64, total)?;
    let mut rows = Vec::new();
    for worker_count in [1, 2] {
        let workers: Workers =
            runtime.block_on(builder(worker_count).max_in_flight_per_worker(64).finish())?;
        let rate = runtime.block_on(calls_per_second(workers, 64, total))?;
        rows.push(Row::rate(
            &format!("calls/s, 64 in flight, {worker_count} worker(s)"),
            raw_rate,
            rate,
        ));
    }
    let service = runtime.block_on(service_builder(1).max_in_flight_per_worker(64).finish())?;
    let rate = runtime.block_on(calls_per_second(service, 64, total))?;
    rows.push(Row::rate(
        "calls/s, 64 in flight, 1 worker, service",
        raw_rate,
        rate,
    ));
    Ok(rows)
}

/// The shared-memory threshold of the echoes that measure it.
const SHARE_ABOVE: usize = 1 << 20;

/// 4 KiB, 1 MiB and 64 MiB echoes, as `serde_bytes` and (up to 1 MiB) as a plain `Vec<u8>`;
/// those of at least [`SHARE_ABOVE`] both ways: through the socket (the default) and through
/// shared memory (`shared_memory_above`).
fn echoes(runtime: &tokio::runtime::Runtime, raw: &mut Raw, scale: usize) -> Rows {
    // Room for a 64 MiB payload and its envelope.
    let socket: Workers = runtime.block_on(builder(1).max_frame_len(65 << 20).finish())?;
    let shared: Workers = runtime.block_on(
        builder(1)
            .max_frame_len(65 << 20)
            .shared_memory_above(SHARE_ABOVE)
            .finish(),
    )?;
    let mut rows = Vec::new();
    for (label, size, iters) in [
        ("4 KiB", 4096, 5000 / scale),
        ("1 MiB", 1 << 20, 200 / scale),
        ("64 MiB", 64 << 20, 10 / scale),
    ] {
        let payload = vec![0xabu8; size];
        let raw_echo = percentiles(
            (0..iters.max(3))
                .map(|_| raw.round_trip(&payload))
                .collect::<Result<_, _>>()?,
        );
        let sharing = size >= SHARE_ABOVE;
        let (bytes, through_shm, vec) = runtime.block_on(async {
            let (mut bytes, mut through_shm, mut vec) = (Vec::new(), Vec::new(), Vec::new());
            // Each job is built before its clock starts, as the raw side's payload is; the two
            // sets take turns, so that drift touches both alike.
            for _ in 0..iters.max(3) {
                let job = BenchJob::Echo(ByteBuf::from(payload.clone()));
                let start = Instant::now();
                socket.send(job).await?;
                bytes.push(start.elapsed());
                if sharing {
                    let job = BenchJob::Echo(ByteBuf::from(payload.clone()));
                    let start = Instant::now();
                    shared.send(job).await?;
                    through_shm.push(start.elapsed());
                }
                // Through serde one element at a time, 64 MiB would take seconds per echo.
                if size > 1 << 20 {
                    continue;
                }
                let job = BenchJob::EchoVec(payload.clone());
                let start = Instant::now();
                socket.send(job).await?;
                vec.push(start.elapsed());
            }
            let through_shm = sharing.then(|| percentiles(through_shm));
            let vec = (!vec.is_empty()).then(|| percentiles(vec));
            Ok::<_, ipc2::Error>((percentiles(bytes), through_shm, vec))
        })?;
        rows.push(Row::time(
            &format!("{label} echo, serde_bytes"),
            raw_echo.0,
            bytes.0,
        ));
        if let Some(through_shm) = through_shm {
            rows.push(Row::time(
                &format!("{label} echo, serde_bytes, shared memory"),
                raw_echo.0,
                through_shm.0,
            ));
        }
        if let Some(vec) = vec {
            rows.push(Row::time(
                &format!("{label} echo, Vec<u8>"),
                raw_echo.0,
                vec.0,
            ));
        }
    }
    Ok(rows)
}

/// Items per second of a stream of `n` small items, against the raw peer writing as many frames
/// and against as many sequential calls, over one worker with the default stream window.
fn streams(runtime: &tokio::runtime::Runtime, raw: &mut Raw, n: u32) -> Rows {
    let raw_rate = raw.stream(n)?;
    let workers: Workers = runtime.block_on(builder(1).finish())?;
    let (stream_rate, call_rate) = runtime.block_on(async {
        let start = Instant::now();
        let mut items = workers.send_stream(BenchJob::Stream(n)).await?;
        let mut count = 0;
        while let Some(item) = items.next().await {
            item?;
            count += 1;
        }
        assert_eq!(count, n, "every item arrived");
        let stream_rate = f64::from(n) / start.elapsed().as_secs_f64();
        let calls = n / 10;
        let start = Instant::now();
        for _ in 0..calls {
            workers.send(BenchJob::Add(1, 2)).await?;
        }
        let call_rate = f64::from(calls) / start.elapsed().as_secs_f64();
        Ok::<_, ipc2::Error>((stream_rate, call_rate))
    })?;
    Ok(vec![
        Row::rate("stream items/s vs raw frames", raw_rate, stream_rate),
        Row::rate("stream items/s vs sequential calls", call_rate, stream_rate),
    ])
}

/// Start-up of N workers against spawning and connecting N bare processes.
fn startup(runtime: &tokio::runtime::Runtime, dir: &Path) -> Rows {
    let mut rows = Vec::new();
    for n in [2, 4] {
        let bare = median(
            (0..5)
                .map(|i| bare_start(dir, n, i))
                .collect::<Result<_, _>>()?,
        );
        let ready = median(
            (0..5)
                .map(|_| {
                    let start = Instant::now();
                    let workers: Workers = runtime.block_on(builder(n).finish())?;
                    let elapsed = start.elapsed();
                    drop(workers);
                    Ok::<_, ipc2::Error>(elapsed)
                })
                .collect::<Result<_, _>>()?,
        );
        rows.push(Row::time(&format!("{n} workers ready"), bare, ready));
    }
    // What the handshake's type check adds to a start: describing the types (host and worker each
    // do it once), against a bare process start.
    let bare = median(
        (0..5)
            .map(|i| bare_start(dir, 1, i))
            .collect::<Result<_, _>>()?,
    );
    let describe = median(
        (0..101)
            .map(|_| {
                let start = Instant::now();
                let types =
                    ipc2::schema::Description::of::<AdderRequest, AdderResponse, ipc2::NoEvents>();
                std::hint::black_box(types.fingerprint());
                start.elapsed()
            })
            .collect(),
    );
    rows.push(Row::time("type description, service", bare, describe));
    Ok(rows)
}

fn builder(
    count: usize,
) -> ipc2::host::WorkerSetBuilder<tokio::net::UnixListener, BenchReply, BenchJob> {
    Workers::builder()
        .worker_count(count)
        .worker_path(std::env::current_exe().expect("own path"))
}

fn service_builder(
    count: usize,
) -> ipc2::host::WorkerSetBuilder<
    tokio::net::UnixListener,
    AdderResponse,
    AdderRequest,
    ipc2::NoEvents,
> {
    AdderWorkers::builder()
        .worker_count(count)
        .worker_path(std::env::current_exe().expect("own path"))
        .arg(SERVICE)
}

/// A client that can make the benchmark's small call.
trait SmallCall: Send + Sync + 'static {
    fn small_call(&self) -> impl Future<Output = Result<(), ipc2::Error>> + Send;
}

impl<S: ipc2::Server> SmallCall for WorkerSet<S, BenchReply, BenchJob> {
    async fn small_call(&self) -> Result<(), ipc2::Error> {
        self.send(BenchJob::Add(1, 2)).await.map(drop)
    }
}

impl SmallCall for AdderWorkers {
    async fn small_call(&self) -> Result<(), ipc2::Error> {
        self.add(1, 2).await.map(drop)
    }
}

/// Calls per second with `in_flight` callers, each a task of its own (as in the tarpc
/// benchmark) making its share of `total` small calls one after another.
async fn calls_per_second<C: SmallCall>(
    client: C,
    in_flight: usize,
    total: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let client = std::sync::Arc::new(client);
    let per_caller = total / in_flight;
    let start = Instant::now();
    let callers: Vec<_> = (0..in_flight)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..per_caller {
                    client.small_call().await?;
                }
                Ok::<_, ipc2::Error>(())
            })
        })
        .collect();
    for caller in callers {
        caller.await??;
    }
    Ok((per_caller * in_flight) as f64 / start.elapsed().as_secs_f64())
}

/// Spawns `n` bare processes that connect to a listener; time until all have connected.
fn bare_start(dir: &Path, n: usize, round: usize) -> std::io::Result<Duration> {
    let path = dir.join(format!("bare-{n}-{round}.sock"));
    let listener = UnixListener::bind(&path)?;
    let start = Instant::now();
    let mut children = Vec::new();
    for _ in 0..n {
        children.push(
            Command::new(std::env::current_exe()?)
                .arg("--bare")
                .arg(&path)
                .stdout(Stdio::null())
                .spawn()?,
        );
    }
    for _ in 0..n {
        listener.accept()?;
    }
    let elapsed = start.elapsed();
    for mut child in children {
        child.wait()?;
    }
    Ok(elapsed)
}

struct Row {
    label: String,
    raw: String,
    ipc2: String,
    ratio: f64,
}

impl Row {
    fn time(label: &str, raw: Duration, ipc2: Duration) -> Self {
        Self {
            label: label.into(),
            raw: format!("{raw:.1?}"),
            ipc2: format!("{ipc2:.1?}"),
            ratio: ipc2.as_secs_f64() / raw.as_secs_f64(),
        }
    }

    /// For rates, the ratio is ipc2's share of the raw rate (1.0 = as fast).
    fn rate(label: &str, raw: f64, ipc2: f64) -> Self {
        Self {
            label: label.into(),
            raw: format!("{:.0}/s", raw),
            ipc2: format!("{:.0}/s", ipc2),
            ratio: ipc2 / raw,
        }
    }

    fn key(&self) -> String {
        self.label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
            .split('_')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("_")
    }
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

fn median(times: Vec<Duration>) -> Duration {
    percentiles(times).0
}

fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
