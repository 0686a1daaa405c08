//! Unencrypted TCP with a shared-secret challenge, on loopback: real worker processes that know
//! the secret serve, one that does not is refused, and a peer that sends ipc2 in the clear gets
//! the host's challenge and nothing else.

use ipc2_test_support as support;

use std::path::Path;

use ipc2::host::WorkerSetBuilder;
use ipc2::transport::env::ENV_SECRET_FILE;
use ipc2::transport::{SharedSecret, UnencryptedTcpListener};
use ipc2::{Error, WorkerSet};
use support::HANG_GUARD;
use support::jobs::{TestJob, TestReply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type TcpSet = WorkerSet<UnencryptedTcpListener, TestReply, TestJob>;

const SECRET: &str = "9f2c1e0b7a6d5c4b3a29180716f5e4d3";

/// A builder for `count` test workers that dial an unencrypted listener knowing [`SECRET`],
/// with the secret in the file `worker_secret`.
async fn tcp_builder(
    count: usize,
    worker_secret: &Path,
) -> WorkerSetBuilder<UnencryptedTcpListener, TestReply, TestJob> {
    let secret = SharedSecret::new(SECRET).expect("a long enough secret");
    let listener = UnencryptedTcpListener::bind_unencrypted("127.0.0.1:0", secret)
        .await
        .expect("the listener binds");
    let address = listener.address().to_owned();
    WorkerSetBuilder::new()
        .listen(listener, address)
        .worker_count(count)
        .worker_path(support::helper("test_worker"))
        .env(ENV_SECRET_FILE, worker_secret)
}

fn secret_file(dir: &tempfile::TempDir, secret: &str) -> std::path::PathBuf {
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{secret}\n")).expect("the secret is written");
    path
}

async fn send(workers: &TcpSet, job: TestJob) -> Result<TestReply, Error> {
    tokio::time::timeout(HANG_GUARD, workers.send(job))
        .await
        .expect("the call ended instead of hanging")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_that_know_the_secret_serve_and_a_peer_speaking_ipc2_in_the_clear_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let workers: TcpSet = tcp_builder(2, &secret_file(&dir, SECRET))
        .await
        .finish()
        .await
        .expect("the workers connect");
    let address = match send(&workers, TestJob::Address).await {
        Ok(TestReply::Address(address)) => address,
        other => panic!("unexpected reply {other:?}"),
    };
    assert!(
        address.starts_with("unencrypted-tcp://127.0.0.1:"),
        "{address}"
    );
    let calls = (0..20u32).map(|i| send(&workers, TestJob::Add(i, 1)));
    for (i, result) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        assert!(
            matches!(result, Ok(TestReply::Sum { sum, .. }) if sum == i as u32 + 1),
            "{result:?}"
        );
    }

    // A hello frame, with no answer to the challenge: 64 bytes and more of it.
    let target = address.trim_start_matches("unencrypted-tcp://");
    let mut intruder = tokio::net::TcpStream::connect(target).await.unwrap();
    let hello =
        ipc2_common::codec::encode_frame(&ipc2_common::ToHost::Hello, Some(&"x".repeat(100)), 1024)
            .unwrap();
    intruder.write_all(&hello).await.unwrap();
    let mut challenge = [0; 32];
    tokio::time::timeout(HANG_GUARD, intruder.read_exact(&mut challenge))
        .await
        .expect("the challenge came")
        .expect("the challenge came whole");
    let mut more = [0; 1];
    let after = tokio::time::timeout(HANG_GUARD, intruder.read(&mut more))
        .await
        .expect("the host closed the connection");
    // The end of the stream, or a reset if the host closed with the rest of the hello unread.
    assert!(
        matches!(after, Ok(0) | Err(_)),
        "nothing after the challenge: {after:?}"
    );

    assert!(matches!(
        send(&workers, TestJob::Add(2, 2)).await,
        Ok(TestReply::Sum { sum: 4, .. })
    ));
}

#[tokio::test]
async fn a_worker_with_another_secret_is_refused_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let builder = tcp_builder(1, &secret_file(&dir, "0000000000000000000000000000000000")).await;
    let why = match tokio::time::timeout(HANG_GUARD, builder.finish()).await {
        Ok(Ok(_)) => panic!("a worker with the wrong secret was accepted"),
        Ok(Err(err)) => err.to_string(),
        Err(_) => panic!("the start neither failed nor succeeded"),
    };
    assert!(why.contains("ended before connecting"), "{why}");
    assert!(
        why.contains("during the shared-secret challenge") && why.contains(ENV_SECRET_FILE),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_shared_memory_asked_for_large_bodies_still_cross_over_tcp_through_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let workers: TcpSet = tcp_builder(1, &secret_file(&dir, SECRET))
        .await
        .shared_memory_above(1024)
        .finish()
        .await
        .expect("the worker joins");
    let bytes: Vec<u8> = (0..200_000).map(|i| (i % 251) as u8).collect();
    let reply = send(&workers, TestJob::Echo(bytes.clone())).await;
    assert_eq!(reply.expect("the echo comes back"), TestReply::Bytes(bytes));
}
