//! Workers on other machines, measured on loopback: ipc2 over TCP with TLS and over unencrypted
//! TCP, each beside a raw TCP baseline in the same run (a tokio client of the raw peer, over
//! TCP with `TCP_NODELAY`). Multi-thread runtimes on both sides, as `#[tokio::main]` builds;
//! the builder's defaults but `max_in_flight_per_worker(64)`.

use std::time::{Duration, Instant};

use ipc2::Server;
use ipc2::host::WorkerSetBuilder;
use ipc2::transport::{SharedSecret, TlsListener, UnencryptedTcpListener};
use ipc2_test_support::certs::Pki;

use super::{BenchJob, BenchReply, MULTI_THREAD, Row, Rows, calls_per_second, median};

/// The rows of this section: `iters` sequential round trips and `total` calls at 64 in flight
/// for each transport.
pub(crate) fn network(runtime: &tokio::runtime::Runtime, iters: usize, total: usize) -> Rows {
    let (tcp_rtt, tcp_rate) = runtime.block_on(raw_tcp(iters, total))?;

    let pki = Pki::new("bench-ca");
    let host = pki.issue_host("host", &["localhost"]);
    let worker = pki.issue_worker("worker", &["bench-worker"]);
    let tls = runtime.block_on(async {
        let listener = TlsListener::bind("127.0.0.1:0", &host.config()).await?;
        let port = listener
            .address()
            .rsplit_once(':')
            .map(|(_, port)| port.to_owned());
        let dial = format!("tls://localhost:{}", port.unwrap_or_default());
        let mut builder = set_builder(listener, dial);
        for (name, value) in worker.env() {
            builder = builder.env(name, value);
        }
        Ok::<_, Box<dyn std::error::Error>>(builder.finish().await?)
    })?;
    let (tls_rtt, tls_rate) = runtime.block_on(measure(tls, iters, total))?;

    let dir = tempfile::tempdir()?;
    let secret = "a bench secret of 32 bytes, ok?!";
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, secret)?;
    let plain = runtime.block_on(async {
        let listener =
            UnencryptedTcpListener::bind_unencrypted("127.0.0.1:0", SharedSecret::new(secret)?)
                .await?;
        let dial = listener.address().to_owned();
        let workers = set_builder(listener, dial)
            .env(ipc2::transport::env::ENV_SECRET_FILE, &secret_file)
            .finish()
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(workers)
    })?;
    let (plain_rtt, plain_rate) = runtime.block_on(measure(plain, iters, total))?;

    Ok(vec![
        Row::time("round trip, TLS, vs raw TCP", tcp_rtt, tls_rtt),
        Row::time(
            "round trip, unencrypted TCP, vs raw TCP",
            tcp_rtt,
            plain_rtt,
        ),
        Row::rate("64 in flight, TLS, vs raw TCP", tcp_rate, tls_rate),
        Row::rate(
            "64 in flight, unencrypted TCP, vs raw TCP",
            tcp_rate,
            plain_rate,
        ),
    ])
}

/// A one-worker set of this binary's raw-job workers on `listener`, dialling `dial`.
fn set_builder<S: Server>(listener: S, dial: String) -> WorkerSetBuilder<S, BenchReply, BenchJob> {
    WorkerSetBuilder::new()
        .listen(listener, dial)
        .worker_count(1)
        .worker_path(std::env::current_exe().expect("own path"))
        .arg(MULTI_THREAD)
        .max_in_flight_per_worker(64)
}

/// The median of `iters` sequential small calls, then calls per second at 64 in flight.
async fn measure<S: Server>(
    workers: ipc2::WorkerSet<S, BenchReply, BenchJob>,
    iters: usize,
    total: usize,
) -> Result<(Duration, f64), Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        workers.send(BenchJob::Add(1, 2)).await?;
        times.push(start.elapsed());
    }
    let rate = calls_per_second(workers, 64, total).await?;
    Ok((median(times), rate))
}

/// The raw peer over TCP: the median of `iters` round trips from a tokio client, then calls
/// per second from one task pipelining 64.
async fn raw_tcp(
    iters: usize,
    total: usize,
) -> Result<(Duration, f64), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut peer = std::process::Command::new(std::env::current_exe()?)
        .arg("--raw-echo-tcp")
        .arg(listener.local_addr()?.to_string())
        .spawn()?;
    let (mut stream, _) = listener.accept().await?;
    stream.set_nodelay(true)?;
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        times.push(super::tokio_round_trip(&mut stream).await?);
    }
    let (read, write) = stream.into_split();
    let rate = super::tokio_pipelined(read, write, 64, total).await?;
    peer.wait()?;
    Ok((median(times), rate))
}
