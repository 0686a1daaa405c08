//! tarpc against the practical limit, a raw blocking Unix-socket round trip, measured in one run.
//!
//! ```text
//! cargo run --release            # full run, pinned to one core and free placement
//! cargo run --release -- --quick # a few iterations (a smoke test)
//! ```
//!
//! Built like ipc2's own `benches/ipc2_vs_raw.rs`, so the two tables can be set side by side: run
//! by hand, the binary starts two measuring children (one pinned to CPU 0 with all its peers, one
//! free). Each measuring child starts its peers from this same binary, as separate processes:
//! `--raw-echo <socket>` (the hand-written baseline) and `--server <socket>` (the tarpc server).
//! Each peer binds its socket; the measuring process retries connecting until the socket accepts.
//! Each measuring child prints a table and a `SUMMARY` line with `key=value` pairs for scripts.
//! Absolute times vary between machines; the ratios against the raw baseline measured in the same
//! process are the figures that matter.
//!
//! Both the measuring process and the tarpc server run a current-thread tokio runtime, as the
//! ipc2 host and worker do in `ipc2_vs_raw`, so the placement is the only thing that differs
//! between the two runs.

use std::error::Error;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_bytes::ByteBuf;
use tarpc::client::{self, RpcError};
use tarpc::context;
use tarpc::serde_transport;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tokio::task::JoinHandle;

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

#[tarpc::service]
trait Bench {
    async fn add(a: u32, b: u32) -> u32;
    async fn echo(bytes: ByteBuf) -> ByteBuf;
}

#[derive(Clone)]
struct BenchServer;

impl Bench for BenchServer {
    async fn add(self, _: context::Context, a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }

    async fn echo(self, _: context::Context, bytes: ByteBuf) -> ByteBuf {
        bytes
    }
}

/// How long the measuring process waits for a peer's socket to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent requests the tarpc server channel admits (the benchmark needs 64).
const SERVER_MAX_CONCURRENT: usize = 256;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    match args.first().map(String::as_str) {
        Some("--raw-echo") => raw_echo(arg(&args, 1)?),
        Some("--server") => tarpc_server(arg(&args, 1)?),
        Some("--placement") => measure(arg(&args, 1)?, quick),
        _ => {
            for placement in ["pinned", "free"] {
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

fn arg(args: &[String], i: usize) -> Result<&str> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument after {}", args[i - 1]).into())
}

// ---------------------------------------------------------------------------------------------
// Peers (separate processes).

/// The raw peer: binds `path`, accepts one connection, and answers length-prefixed frames over a
/// blocking socket, buffered both ways and flushed whenever no further request is already
/// buffered (so a lone request is answered at once and a pipelined burst with one write). An
/// 8-byte frame is an "add" of two little-endian u32 (answered with the 4-byte sum); anything
/// else is echoed. Identical to the raw peer of ipc2's `ipc2_vs_raw`, except that here the peer
/// listens and the measuring process connects.
fn raw_echo(path: &str) -> Result<()> {
    let listener = UnixListener::bind(path)?;
    let (stream, _) = listener.accept()?;
    drop(listener);
    let mut reader = BufReader::with_capacity(64 * 1024, &stream);
    let mut writer = BufWriter::with_capacity(64 * 1024, &stream);
    let mut payload = Vec::new();
    loop {
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
        } else {
            writer.write_all(&len)?;
            writer.write_all(&payload)?;
        }
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
}

/// The tarpc server, as in tarpc's examples: a `BaseChannel` over the bincode serde transport,
/// `max_concurrent_requests`, `execute`, and every response future spawned. It serves one
/// connection and exits when the client hangs up.
fn tarpc_server(path: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut incoming = serde_transport::unix::listen(path, Bincode::default).await?;
        let transport = incoming.next().await.ok_or("the listener closed")??;
        drop(incoming);
        BaseChannel::with_defaults(transport)
            .max_concurrent_requests(SERVER_MAX_CONCURRENT)
            .execute(BenchServer.serve())
            .for_each(|response| async {
                tokio::spawn(response);
            })
            .await;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// The measuring process's ends.

fn spawn_peer(flag: &str, path: &Path) -> Result<Child> {
    Ok(Command::new(std::env::current_exe()?)
        .arg(flag)
        .arg(path)
        .spawn()?)
}

/// Fails early if the peer died before its socket accepted.
fn check_alive(child: &mut Child, what: &str) -> Result<()> {
    match child.try_wait()? {
        Some(status) => Err(format!("the {what} peer exited before accepting: {status}").into()),
        None => Ok(()),
    }
}

/// Waits (bounded) for a peer process to exit after its connection closed; kills it otherwise.
fn reap(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

struct Raw {
    stream: UnixStream,
    child: Child,
    frame: Vec<u8>,
    reply: Vec<u8>,
}

impl Raw {
    fn start(dir: &Path) -> Result<Self> {
        let path = dir.join("raw.sock");
        let mut child = spawn_peer("--raw-echo", &path)?;
        let start = Instant::now();
        let stream = loop {
            match UnixStream::connect(&path) {
                Ok(stream) => break stream,
                Err(e) if start.elapsed() > CONNECT_TIMEOUT => {
                    let _ = child.kill();
                    return Err(format!("the raw peer's socket never accepted: {e}").into());
                }
                Err(_) => {
                    check_alive(&mut child, "raw")?;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        };
        Ok(Self {
            stream,
            child,
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
        reap(&mut self.child);
    }
}

/// The tarpc client, its dispatch task (spawned here rather than by `NewClient::spawn` so that
/// shutdown can wait for it to close the socket), and the server process.
struct Tarpc {
    client: Option<BenchClient>,
    dispatch: Option<JoinHandle<()>>,
    child: Child,
}

impl Tarpc {
    fn start(runtime: &tokio::runtime::Runtime, dir: &Path) -> Result<Self> {
        let path: PathBuf = dir.join("tarpc.sock");
        let mut child = spawn_peer("--server", &path)?;
        let connected = runtime.block_on(async {
            let start = Instant::now();
            loop {
                match serde_transport::unix::connect(&path, Bincode::default).await {
                    Ok(transport) => {
                        let client::NewClient { client, dispatch } =
                            BenchClient::new(client::Config::default(), transport);
                        let dispatch = tokio::spawn(async move {
                            if let Err(e) = dispatch.await {
                                eprintln!("tarpc client dispatch ended with an error: {e}");
                            }
                        });
                        return Ok((client, dispatch));
                    }
                    Err(e) if start.elapsed() > CONNECT_TIMEOUT => {
                        return Err(format!("the tarpc server's socket never accepted: {e}"));
                    }
                    Err(_) => {
                        if let Ok(Some(status)) = child.try_wait() {
                            return Err(format!(
                                "the tarpc server exited before accepting: {status}"
                            ));
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            }
        });
        match connected {
            Ok((client, dispatch)) => Ok(Self {
                client: Some(client),
                dispatch: Some(dispatch),
                child,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e.into())
            }
        }
    }

    fn client(&self) -> &BenchClient {
        self.client.as_ref().expect("client present until shutdown")
    }

    /// Drops the client, lets the dispatch close the connection, and reaps the server.
    fn shutdown(mut self, runtime: &tokio::runtime::Runtime) {
        drop(self.client.take());
        if let Some(dispatch) = self.dispatch.take() {
            let _ = runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), dispatch).await });
        }
        reap(&mut self.child);
    }
}

impl Drop for Tarpc {
    fn drop(&mut self) {
        // Only reached without `shutdown` on an error path: do not leave the server behind.
        if self.client.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement.

fn pin_to_cpu0() -> std::io::Result<()> {
    // SAFETY: `set` is a plain bit set, zero-initialised and filled by the libc macros; the
    // kernel only reads `size_of::<cpu_set_t>()` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn measure(placement: &str, quick: bool) -> Result<()> {
    match placement {
        // Before the runtime (and any peer) exists: every thread and child inherits it.
        "pinned" => pin_to_cpu0()?,
        "free" => {}
        other => return Err(format!("unknown placement {other:?} (pinned|free)").into()),
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let scale = if quick { 50 } else { 1 };
    let dir = tempfile::tempdir()?;
    let mut raw = Raw::start(dir.path())?;
    let tarpc = Tarpc::start(&runtime, dir.path())?;

    let mut rows = Vec::new();
    rows.extend(round_trip(
        &runtime,
        &mut raw,
        tarpc.client(),
        20_000 / scale,
    )?);
    rows.push(throughput(
        &runtime,
        &mut raw,
        tarpc.client(),
        64,
        200_000 / scale,
    )?);
    rows.push(echo(
        &runtime,
        &mut raw,
        tarpc.client(),
        (200 / scale).max(3),
    )?);
    drop(raw);
    tarpc.shutdown(&runtime);

    let (rss, peak) = rss_kib();
    let mode = if quick { " (quick)" } else { "" };
    println!(
        "\ntarpc {} vs raw Unix socket, placement: {placement}{mode} (cpus allowed: {})",
        TARPC_VERSION,
        cpus_allowed()
    );
    println!("{:<36} {:>14} {:>14} {:>8}", "", "raw", "tarpc", "ratio");
    for row in &rows {
        println!(
            "{:<36} {:>14} {:>14} {:>7.2}x",
            row.label(),
            row.raw_text(),
            row.tarpc_text(),
            row.ratio()
        );
    }
    println!("client RSS: {rss} KiB now, {peak} KiB peak");
    let mut summary: Vec<String> = rows
        .iter()
        .map(|r| format!("{}={:.3}", r.key(), r.ratio()))
        .collect();
    for row in &rows {
        let unit = row.unit();
        summary.push(format!("{}_raw_{unit}={:.3}", row.key(), row.raw_value()));
        summary.push(format!(
            "{}_tarpc_{unit}={:.3}",
            row.key(),
            row.tarpc_value()
        ));
    }
    println!(
        "SUMMARY placement={placement} peer=tarpc-{TARPC_VERSION} {} rss_kib={rss} peak_rss_kib={peak}",
        summary.join(" ")
    );
    Ok(())
}

/// The tarpc release Cargo.lock resolved (set by build.rs).
const TARPC_VERSION: &str = env!("TARPC_VERSION");

/// Sequential small round trips: median and p99, after a tenth as many warm-up calls.
fn round_trip(
    runtime: &tokio::runtime::Runtime,
    raw: &mut Raw,
    client: &BenchClient,
    iters: usize,
) -> Result<Vec<Row>> {
    let add = [1u8, 0, 0, 0, 2, 0, 0, 0];
    for _ in 0..iters / 10 {
        raw.round_trip(&add)?;
    }
    let raw_rtt = percentiles(
        (0..iters)
            .map(|_| raw.round_trip(&add))
            .collect::<Result<_, _>>()?,
    );
    let tarpc_rtt = runtime.block_on(async {
        let sum = client.add(context::current(), 1, 2).await?;
        assert_eq!(sum, 3, "tarpc add answered wrongly");
        for _ in 0..iters / 10 {
            client.add(context::current(), 1, 2).await?;
        }
        let mut times = Vec::with_capacity(iters);
        for _ in 0..iters {
            let start = Instant::now();
            client.add(context::current(), 1, 2).await?;
            times.push(start.elapsed());
        }
        Ok::<_, RpcError>(percentiles(times))
    })?;
    Ok(vec![
        Row::Time("round trip, median", raw_rtt.0, tarpc_rtt.0),
        Row::Time("round trip, p99", raw_rtt.1, tarpc_rtt.1),
    ])
}

/// Calls per second with `in_flight` outstanding: raw pipelining against `in_flight` tasks, each
/// with a clone of the tarpc client making sequential calls.
fn throughput(
    runtime: &tokio::runtime::Runtime,
    raw: &mut Raw,
    client: &BenchClient,
    in_flight: usize,
    total: usize,
) -> Result<Row> {
    let raw_rate = raw.throughput(in_flight, total)?;
    let tarpc_rate = runtime.block_on(async {
        let per_caller = total / in_flight;
        let start = Instant::now();
        let callers: Vec<_> = (0..in_flight)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    for _ in 0..per_caller {
                        client.add(context::current(), 1, 2).await?;
                    }
                    Ok::<_, RpcError>(())
                })
            })
            .collect();
        for caller in callers {
            caller.await??;
        }
        Ok::<_, BoxError>((per_caller * in_flight) as f64 / start.elapsed().as_secs_f64())
    })?;
    Ok(Row::Rate("calls/s, 64 in flight", raw_rate, tarpc_rate))
}

/// 1 MiB echo median (the request buffer is cloned inside the timed section on the tarpc side,
/// as ipc2's bench does; the raw side copies it into its frame buffer).
fn echo(
    runtime: &tokio::runtime::Runtime,
    raw: &mut Raw,
    client: &BenchClient,
    iters: usize,
) -> Result<Row> {
    let payload = vec![0xabu8; 1 << 20];
    let raw_echo = percentiles(
        (0..iters)
            .map(|_| raw.round_trip(&payload))
            .collect::<Result<_, _>>()?,
    );
    if raw.reply != payload {
        return Err("the raw peer echoed wrongly".into());
    }
    let tarpc_echo = runtime.block_on(async {
        let mut times = Vec::with_capacity(iters);
        for _ in 0..iters {
            let start = Instant::now();
            let reply = client
                .echo(context::current(), ByteBuf::from(payload.clone()))
                .await?;
            times.push(start.elapsed());
            if reply.len() != payload.len() {
                return Err::<_, BoxError>("tarpc echoed the wrong length".into());
            }
        }
        Ok(percentiles(times))
    })?;
    Ok(Row::Time(
        "1 MiB echo, serde_bytes",
        raw_echo.0,
        tarpc_echo.0,
    ))
}

enum Row {
    /// Label, raw time, tarpc time.
    Time(&'static str, Duration, Duration),
    /// Label, raw calls/s, tarpc calls/s.
    Rate(&'static str, f64, f64),
}

impl Row {
    fn label(&self) -> &'static str {
        match self {
            Row::Time(label, ..) | Row::Rate(label, ..) => label,
        }
    }

    /// For times, tarpc over raw (1.0 = as fast, higher is slower); for rates, tarpc's share of
    /// the raw rate (1.0 = as fast, lower is slower). The same convention as `ipc2_vs_raw`.
    fn ratio(&self) -> f64 {
        match self {
            Row::Time(_, raw, tarpc) => tarpc.as_secs_f64() / raw.as_secs_f64(),
            Row::Rate(_, raw, tarpc) => tarpc / raw,
        }
    }

    fn raw_text(&self) -> String {
        match self {
            Row::Time(_, raw, _) => format!("{raw:.1?}"),
            Row::Rate(_, raw, _) => format!("{raw:.0}/s"),
        }
    }

    fn tarpc_text(&self) -> String {
        match self {
            Row::Time(_, _, tarpc) => format!("{tarpc:.1?}"),
            Row::Rate(_, _, tarpc) => format!("{tarpc:.0}/s"),
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Row::Time(..) => "us",
            Row::Rate(..) => "per_s",
        }
    }

    fn raw_value(&self) -> f64 {
        match self {
            Row::Time(_, raw, _) => raw.as_secs_f64() * 1e6,
            Row::Rate(_, raw, _) => *raw,
        }
    }

    fn tarpc_value(&self) -> f64 {
        match self {
            Row::Time(_, _, tarpc) => tarpc.as_secs_f64() * 1e6,
            Row::Rate(_, _, tarpc) => *tarpc,
        }
    }

    /// The label as a `snake_case` key, as `ipc2_vs_raw` makes its keys.
    fn key(&self) -> String {
        self.label()
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

fn proc_status_field(name: &str) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_string())
}

fn rss_kib() -> (u64, u64) {
    let field = |name: &str| {
        proc_status_field(name)
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn cpus_allowed() -> String {
    proc_status_field("Cpus_allowed_list:").unwrap_or_else(|| "?".into())
}
