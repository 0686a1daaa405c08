//! The worker program of ipc2's integration tests: each `TestJob` asks for one behaviour.
//!
//! It runs on a multi-thread runtime, or a current-thread one with
//! `TEST_WORKER_RUNTIME=current-thread`. `TEST_WORKER_MODE` changes how it starts (the exit codes are in `ipc2_test_support::codes`):
//! `exit-at-start` prints a message to stderr and exits with `EXIT_AT_START`; `never-connect`
//! sleeps without ever connecting; `start-once` starts normally the first time (it creates the
//! file named by `TEST_WORKER_STARTED`) and exits at start with `STARTED_BEFORE` every later time;
//! `crash-loop` appends a line to the file named by `TEST_WORKER_COUNTER` at every start, starts
//! normally the first time and exits with `CRASH_LOOP` every later time; `probe-connect` is not a
//! worker at all: it tries to connect to the Unix socket named by `TEST_WORKER_PROBE_ADDRESS` and
//! exits with `PROBE_CONNECTED`, `PROBE_PERMISSION_DENIED` or `PROBE_OTHER_ERROR`;
//! `leak-invitation` writes its `IPC2_*` invitation to `$TEST_WORKER_DIR/invitation` and
//! connects only once `$TEST_WORKER_DIR/go` exists; `dial-in-code` dials the host at
//! `TEST_WORKER_DIAL` with the TLS files `TEST_WORKER_CERT`, `TEST_WORKER_KEY` and
//! `TEST_WORKER_CA`, given to `ipc2::worker::connect_to` in code.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ipc2::worker::Job;
use ipc2_test_support::codes::{
    CRASH_LOOP, EXIT_AT_START, PROBE_CONNECTED, PROBE_OTHER_ERROR, PROBE_PERMISSION_DENIED,
    STARTED_BEFORE,
};
use ipc2_test_support::jobs::{StreamEnd, TestJob, TestReply};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runtime = match std::env::var("TEST_WORKER_RUNTIME").as_deref() {
        Ok("current-thread") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all().build()?.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("TEST_WORKER_MODE").as_deref() {
        Ok("probe-connect") => {
            let address = std::env::var("TEST_WORKER_PROBE_ADDRESS")?;
            let code = match std::os::unix::net::UnixStream::connect(&address) {
                Ok(_) => PROBE_CONNECTED,
                Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                    PROBE_PERMISSION_DENIED
                }
                Err(err) => {
                    eprintln!("test worker: connecting to {address} failed: {err}");
                    PROBE_OTHER_ERROR
                }
            };
            std::process::exit(code);
        }
        Ok("crash-loop") => {
            let counter = std::env::var("TEST_WORKER_COUNTER")?;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&counter)?;
            writeln!(file, "{}", std::process::id())?;
            drop(file);
            let starts = std::fs::read_to_string(&counter)?.lines().count();
            if starts > 1 {
                eprintln!("test worker: start number {starts}, crashing (crash-loop)");
                std::process::exit(CRASH_LOOP);
            }
        }
        Ok("exit-at-start") => {
            eprintln!("test worker: refusing to start (exit-at-start)");
            std::process::exit(EXIT_AT_START);
        }
        Ok("start-once") => {
            let started = std::env::var("TEST_WORKER_STARTED")?;
            if std::fs::exists(&started)? {
                eprintln!("test worker: already started once (start-once)");
                std::process::exit(STARTED_BEFORE);
            }
            std::fs::write(started, "")?;
        }
        Ok("leak-invitation") => {
            // Hand the invitation to an impostor (the test), then connect only once told to.
            let dir = std::path::PathBuf::from(std::env::var("TEST_WORKER_DIR")?);
            let token = std::fs::read_to_string(std::env::var("IPC2_TOKEN_FILE")?)?;
            let invitation = [
                std::env::var("IPC2_ADDRESS")?,
                token,
                std::env::var("IPC2_WORKER_ID")?,
            ]
            .join("\n");
            std::fs::write(dir.join("invitation.tmp"), invitation)?;
            std::fs::rename(dir.join("invitation.tmp"), dir.join("invitation"))?;
            while !std::fs::exists(dir.join("go"))? {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok("never-connect") => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        _ => {}
    }
    let mut jobs = match std::env::var("TEST_WORKER_MODE").as_deref() {
        Ok("dial-in-code") => {
            // The host and credentials given in code, as a program that knows them would.
            let [address, cert, key, ca] = ["DIAL", "CERT", "KEY", "CA"]
                .map(|name| std::env::var(format!("TEST_WORKER_{name}")));
            let config = ipc2::transport::TlsConfig::from_pem_files(cert?, key?, ca?)?;
            let dial = ipc2::worker::Dial::tls(address?, config);
            ipc2::worker::connect_to::<TestJob, TestReply, TestReply>(dial).await?
        }
        _ => ipc2::worker::connect::<ipc2::transport::AnyClient, TestJob, TestReply>().await?,
    };
    let mut notes = 0;
    let produced = Arc::new(AtomicU64::new(0));
    while let Some(job) = jobs.recv().await {
        let (job, tx) = match job {
            Job::Bidirectional { data, tx } => (data, tx),
            Job::Unidirectional {
                data: TestJob::Note,
            } => {
                notes += 1;
                continue;
            }
            Job::Unidirectional { data } => panic!("unexpected one-way job {data:?}"),
        };
        let reply = match job {
            TestJob::Add(a, b) => TestReply::Sum {
                sum: a + b,
                pid: std::process::id(),
            },
            TestJob::Address => TestReply::Address(
                std::env::var("IPC2_ADDRESS").or_else(|_| std::env::var("IPC2_CONNECT"))?,
            ),
            TestJob::Echo(bytes) => TestReply::Bytes(bytes),
            TestJob::Sleep(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                TestReply::Done
            }
            TestJob::Block(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                TestReply::Done
            }
            TestJob::Pause { marker, ms } => {
                ipc2_test_support::write_pid(&marker)?;
                tokio::time::sleep(Duration::from_millis(ms.min(3_600_000))).await;
                TestReply::Done
            }
            TestJob::Stream {
                count,
                gap_ms,
                end,
                marker,
            } => {
                tokio::spawn(stream(tx, count, gap_ms, end, marker, produced.clone()));
                continue;
            }
            TestJob::Produced => TestReply::Count(produced.load(Ordering::Relaxed)),
            TestJob::DropReply => {
                drop(tx);
                continue;
            }
            TestJob::Fail(chars) => {
                tx.fail(&"é".repeat(chars));
                continue;
            }
            TestJob::Exit(code) => std::process::exit(code),
            TestJob::Note => TestReply::Done,
            TestJob::Count => TestReply::Count(notes),
            TestJob::Freeze => {
                rustix::process::kill_process(
                    rustix::process::getpid(),
                    rustix::process::Signal::STOP,
                )?;
                TestReply::Done
            }
            TestJob::Crash { lines } => {
                eprintln!("the first line of the crash");
                for i in 0..lines {
                    eprintln!("  {i}: backtrace frame {i}");
                }
                std::process::exit(101);
            }
            TestJob::ReadFd(fd) => {
                use std::io::{Read, Seek};
                let mut file = std::fs::File::from(fd.0.try_clone()?);
                // A file is read from its start; a socket or pipe cannot seek, and is read as is.
                let _ = file.rewind();
                let mut held = Vec::new();
                file.read_to_end(&mut held)?;
                TestReply::Bytes(held)
            }
            TestJob::MakePipe(text) => {
                use std::io::Write;
                let (read, mut write) = std::io::pipe()?;
                write.write_all(text.as_bytes())?;
                drop(write);
                TestReply::Fd(ipc2_test_support::jobs::Fd(std::sync::Arc::new(
                    read.into(),
                )))
            }
            TestJob::Env => {
                let env = Command::new("sh").args(["-c", "env"]).output()?;
                let env = String::from_utf8_lossy(&env.stdout);
                TestReply::Args(env.lines().map(str::to_owned).collect())
            }
            TestJob::RunSelf => {
                let child = Command::new(std::env::current_exe()?)
                    .stdin(Stdio::null())
                    .output()?;
                let code = child.status.code().unwrap_or(-1).to_string();
                TestReply::Args(vec![code, String::from_utf8_lossy(&child.stderr).into()])
            }
            TestJob::Numbers(numbers) => TestReply::Numbers(numbers),
            TestJob::Nest(_) => TestReply::Done,
            TestJob::Emit(n) => {
                let events = jobs.event_sender();
                for i in 0..n {
                    events.send(TestReply::Count(i))?;
                }
                TestReply::Done
            }
            TestJob::Print(text) => {
                println!("{text} out");
                eprintln!("{text} err");
                TestReply::Done
            }
            TestJob::Args => TestReply::Args(std::env::args().skip(1).collect()),
            TestJob::SpawnGrandchild => TestReply::Pid(spawn_grandchild("sleep 30 & echo $!")?),
            TestJob::SpawnDetached => TestReply::Pid(spawn_grandchild(DETACHED)?),
        };
        tx.send(reply)?;
    }
    Ok(())
}

/// A grandchild in a session of its own, writing a line to its stderr (the host's pipe) every
/// 200 ms for a minute, and ignoring SIGPIPE so that the host closing that pipe does not end it;
/// its `sh` is its own pid (`setsid` only forks for a group leader).
const DETACHED: &str = "setsid sh -c 'trap \"\" PIPE; for i in $(seq 300); do echo detached tick >&2; sleep 0.2; done' & echo $!";

/// Runs `script` (which starts a grandchild in the background and prints its pid) through `sh`,
/// and returns that pid. The grandchild keeps its stdout (our pipe, so only one line is read,
/// never to its end) and stderr (the host's pipe).
fn spawn_grandchild(script: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let mut sh = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(sh.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    sh.wait()?;
    Ok(line.trim().parse()?)
}

/// Answers a `TestJob::Stream`.
async fn stream(
    tx: ipc2::worker::ReplySender<TestReply>,
    count: u64,
    gap_ms: u64,
    end: StreamEnd,
    marker: Option<PathBuf>,
    produced: Arc<AtomicU64>,
) {
    let mut items = tx.into_stream();
    for i in 0..count {
        if gap_ms > 0 {
            tokio::time::sleep(Duration::from_millis(gap_ms)).await;
        }
        match items.send(TestReply::Count(i)).await {
            Ok(()) => {
                produced.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                eprintln!("test worker: the stream stopped after {i} items: {err}");
                if let Some(marker) = marker {
                    let _ = std::fs::write(marker, i.to_string());
                }
                return;
            }
        }
    }
    match end {
        StreamEnd::End => drop(items),
        StreamEnd::Fail => items.fail("the stream failed on purpose"),
        StreamEnd::Hang => {
            items.cancelled().await;
            if let Some(marker) = marker {
                let _ = std::fs::write(marker, count.to_string());
            }
        }
    }
}
