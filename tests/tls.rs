//! TCP with TLS 1.3 and mutual authentication, on loopback: real worker processes dial the host
//! over TLS with certificates a test CA signed (`support::certs`), and every way in without the
//! right credentials is refused before a byte of ipc2 is read.

use ipc2_test_support as support;

use std::time::Duration;

use ipc2::host::WorkerSetBuilder;
use ipc2::transport::{TlsConfig, TlsConfigError, TlsListener};
use ipc2::{Error, WorkerSet};
use support::HANG_GUARD;
use support::certs::{Credentials, Pki};
use support::jobs::{TestJob, TestReply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type TlsSet = WorkerSet<TlsListener, TestReply, TestJob>;

/// Long enough for a worker on a loaded machine; a refused one is reported long before.
const STARTUP: Duration = Duration::from_secs(20);

/// A CA, the host's credentials (for `localhost` and 127.0.0.1) and a worker's.
fn deployment() -> (Pki, Credentials, Credentials) {
    let pki = Pki::new("test-ca");
    let host = pki.issue_host("host", &["localhost", "127.0.0.1"]);
    let worker = pki.issue_worker("worker", &["worker-1"]);
    (pki, host, worker)
}

/// A builder for `count` test workers that dial `tls://{dial}:{port}`, where a listener with
/// `host`'s credentials is bound on loopback, with `worker`'s credentials.
async fn tls_builder(
    count: usize,
    host: &Credentials,
    worker: &Credentials,
    dial: &str,
) -> WorkerSetBuilder<TlsListener, TestReply, TestJob> {
    tls_builder_with_env(count, host, worker.env(), dial).await
}

/// [`tls_builder`], with the worker's environment given variable by variable.
async fn tls_builder_with_env(
    count: usize,
    host: &Credentials,
    env: impl IntoIterator<Item = (&'static str, std::path::PathBuf)>,
    dial: &str,
) -> WorkerSetBuilder<TlsListener, TestReply, TestJob> {
    let listener = TlsListener::bind("127.0.0.1:0", &host.config())
        .await
        .expect("the listener binds");
    let port = support::port_of(listener.address());
    let mut builder = WorkerSetBuilder::new()
        .listen(listener, format!("tls://{dial}:{port}"))
        .worker_count(count)
        .worker_path(support::helper("test_worker"))
        .startup_timeout(STARTUP);
    for (name, value) in env {
        builder = builder.env(name, value);
    }
    builder
}

/// `count` test workers dialling `tls://localhost:{port}`, started.
async fn tls_set(count: usize, host: &Credentials, worker: &Credentials) -> TlsSet {
    tls_builder(count, host, worker, "localhost")
        .await
        .finish()
        .await
        .expect("the workers connect over TLS")
}

/// The address a worker of `workers` dialled.
async fn dialled(workers: &TlsSet) -> String {
    match send(workers, TestJob::Address).await {
        Ok(TestReply::Address(address)) => address,
        other => panic!("unexpected reply {other:?}"),
    }
}

async fn send(workers: &TlsSet, job: TestJob) -> Result<TestReply, Error> {
    tokio::time::timeout(HANG_GUARD, workers.send(job))
        .await
        .expect("the call ended instead of hanging")
}

/// What the refused start of a set reports, as text.
async fn refusal(builder: WorkerSetBuilder<TlsListener, TestReply, TestJob>) -> String {
    match tokio::time::timeout(HANG_GUARD, builder.finish()).await {
        Ok(Ok(_)) => panic!("the set started"),
        Ok(Err(err)) => err.to_string(),
        Err(_) => panic!("the start neither failed nor succeeded"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_tls_reach_workers_the_set_started_and_a_killed_one_reconnects() {
    let (_pki, host, worker) = deployment();
    let workers = tls_set(2, &host, &worker).await;
    let address = dialled(&workers).await;
    assert!(address.starts_with("tls://localhost:"), "{address}");
    let calls = (0..20u32).map(|i| send(&workers, TestJob::Add(i, i)));
    for (i, result) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        match result {
            Ok(TestReply::Sum { sum, .. }) => assert_eq!(sum, 2 * i as u32),
            other => panic!("unexpected reply {other:?}"),
        }
    }
    let echoed = vec![0x5a; 3 << 20];
    match send(&workers, TestJob::Echo(echoed.clone())).await {
        Ok(TestReply::Bytes(bytes)) => assert!(bytes == echoed, "3 MiB came back changed"),
        other => panic!("unexpected reply {other:?}"),
    }

    let victim = workers.workers()[0].clone();
    support::sigkill(victim.pid);
    let replacement = support::replacement(&workers, &victim).await;
    assert_ne!(replacement.pid, victim.pid);
    for _ in 0..4 {
        assert!(matches!(
            send(&workers, TestJob::Add(1, 2)).await,
            Ok(TestReply::Sum { sum: 3, .. })
        ));
    }
}

#[tokio::test]
async fn a_worker_whose_certificate_another_ca_signed_is_refused() {
    let (_pki, host, honest) = deployment();
    let stranger = Pki::new("stranger-ca");
    // It trusts the host's CA, but its own certificate comes from another.
    let forged = Credentials {
        ca: honest.ca.clone(),
        ..stranger.issue_worker("worker", &["worker-1"])
    };
    let why = refusal(tls_builder(1, &host, &forged, "localhost").await).await;
    assert!(why.contains("ended before connecting"), "{why}");
    // The host's alert, or a reset if the host closed with the worker's hello unread.
    assert!(
        why.contains("did not accept this worker")
            && (why.contains("alert") || why.contains("reset")),
        "{why}"
    );
}

#[tokio::test]
async fn a_worker_refuses_a_host_whose_certificate_names_another_host() {
    let pki = Pki::new("test-ca");
    let host = pki.issue_host("host", &["localhost"]);
    let worker = pki.issue_worker("worker", &["worker-1"]);
    // The certificate names localhost, the worker dials 127.0.0.1.
    let why = refusal(tls_builder(1, &host, &worker, "127.0.0.1").await).await;
    assert!(why.contains("ended before connecting"), "{why}");
    assert!(why.contains("not valid for name \"127.0.0.1\""), "{why}");
}

#[tokio::test]
async fn a_worker_without_credentials_says_which_variables_it_needs() {
    let (_pki, host, worker) = deployment();
    let without_key = worker
        .env()
        .into_iter()
        .filter(|(name, _)| *name != "IPC2_TLS_KEY");
    let builder = tls_builder_with_env(1, &host, without_key, "localhost").await;
    let why = refusal(builder).await;
    assert!(
        why.contains("environment variable IPC2_TLS_KEY is not set"),
        "{why}"
    );
}

#[tokio::test]
async fn a_plaintext_client_is_refused_and_the_set_serves_on() {
    let (_pki, host, worker) = deployment();
    let workers = tls_set(1, &host, &worker).await;
    let address = dialled(&workers).await;
    let target = address
        .trim_start_matches("tls://")
        .replace("localhost", "127.0.0.1");

    // An ipc2 hello frame, in the clear.
    let mut plain = tokio::net::TcpStream::connect(&target)
        .await
        .expect("TCP connects");
    let frame =
        ipc2_common::codec::encode_frame(&ipc2_common::ToHost::Hello, Some(&"let me in"), 1024)
            .expect("a frame");
    plain.write_all(&frame).await.expect("the bytes are sent");
    let mut answer = [0; 1];
    let read = tokio::time::timeout(HANG_GUARD, plain.read(&mut answer))
        .await
        .expect("the host answered or closed the connection");
    // A TLS alert record (content type 21), never an ipc2 frame.
    assert!(matches!(read, Ok(1)), "{read:?}");
    assert_eq!(answer[0], 21, "a TLS alert");

    assert!(matches!(
        send(&workers, TestJob::Add(2, 2)).await,
        Ok(TestReply::Sum { sum: 4, .. })
    ));
}

#[test]
fn configuration_errors_name_the_file_and_what_was_wrong() {
    let (pki, host, worker) = deployment();
    let missing = pki_dir(&host).join("missing.crt");
    let err = TlsConfig::from_pem_files(&missing, &host.key, &host.ca).unwrap_err();
    assert!(matches!(err, TlsConfigError::Read { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("certificate chain from {}", missing.display())),
        "{err}"
    );

    // A key where the certificate should be.
    let err = TlsConfig::from_pem_files(&host.key, &host.key, &host.ca).unwrap_err();
    assert!(err.to_string().contains("no certificate in it"), "{err}");
    assert!(err.to_string().contains("BEGIN CERTIFICATE"), "{err}");

    // A certificate where the key should be.
    let err = TlsConfig::from_pem_files(&host.cert, &host.cert, &host.ca).unwrap_err();
    assert!(err.to_string().contains("no private key in it"), "{err}");

    // The worker's key with the host's certificate.
    let err = TlsConfig::from_pem_files(&host.cert, &worker.key, &host.ca).unwrap_err();
    assert!(matches!(err, TlsConfigError::Rejected { .. }), "{err}");

    let err = TlsConfig::from_pem(b"", b"", b"").unwrap_err();
    assert!(err.to_string().contains("the PEM given"), "{err}");
    drop(pki);
}

fn pki_dir(credentials: &Credentials) -> std::path::PathBuf {
    credentials
        .cert
        .parent()
        .expect("the files are in a directory")
        .to_owned()
}
