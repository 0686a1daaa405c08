//! File descriptors as values (`#[serde(with = "ipc2::fd")]`), passed with `SCM_RIGHTS` between
//! real processes: an open file and a socket go to a worker, which reads them there; a pipe
//! comes back. A rogue worker that sends descriptors the host never asked for leaks none of them
//! into the host.

use ipc2_test_support as support;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use ipc2::Error;
use support::jobs::{Fd, TestJob, TestReply};
use support::{HANG_GUARD, TestSet, eventually, only_worker};

async fn send(workers: &TestSet, job: TestJob) -> Result<TestReply, Error> {
    tokio::time::timeout(HANG_GUARD, workers.send(job))
        .await
        .expect("the call ended instead of hanging")
}

fn fd(owned: impl Into<OwnedFd>) -> Fd {
    Fd(Arc::new(owned.into()))
}

#[tokio::test]
async fn an_open_file_and_a_socket_are_read_by_the_worker_they_are_sent_to() {
    let workers = support::set(1).await;

    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"written by the host").unwrap();
    let got = send(&workers, TestJob::ReadFd(fd(file))).await.unwrap();
    assert_eq!(got, TestReply::Bytes(b"written by the host".to_vec()));

    let (mut ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    ours.write_all(b"through a socket").unwrap();
    ours.shutdown(std::net::Shutdown::Write).unwrap();
    let got = send(&workers, TestJob::ReadFd(fd(theirs))).await.unwrap();
    assert_eq!(got, TestReply::Bytes(b"through a socket".to_vec()));
}

#[tokio::test]
async fn a_worker_answers_with_a_descriptor_the_host_reads() {
    let workers = support::set(1).await;
    let reply = send(&workers, TestJob::MakePipe("from the worker".into())).await;
    let Ok(TestReply::Fd(Fd(pipe))) = reply else {
        panic!("expected a pipe, got {reply:?}");
    };
    let mut read = std::fs::File::from(Arc::try_unwrap(pipe).expect("the only reference"));
    let mut text = String::new();
    read.read_to_string(&mut text).unwrap();
    assert_eq!(text, "from the worker");
}

/// How many descriptors this process holds on the rogue's memfds.
fn rogue_fds_held() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("this process's fd table")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("memfd:rogue-fd"))
        .count()
}

async fn rogue(mode: &str, scratch: &tempfile::TempDir) -> TestSet {
    TestSet::builder()
        .worker_count(1)
        .worker_path(support::helper("rogue_worker"))
        .env("ROGUE_MODE", mode)
        .env("ROGUE_ONCE", scratch.path().join("misbehaved"))
        .finish()
        .await
        .expect("the rogue worker starts")
}

#[tokio::test]
async fn descriptors_a_rogue_worker_sends_unasked_are_closed_and_the_worker_replaced() {
    for mode in ["fds-flood", "fds-garbage"] {
        let scratch = tempfile::tempdir().unwrap();
        let workers = rogue(mode, &scratch).await;
        let before = only_worker(&workers);
        let outcome = send(&workers, TestJob::Add(1, 2)).await;
        assert!(
            matches!(outcome, Err(Error::WorkerExited(_))),
            "{mode}: {outcome:?}"
        );
        let replacement = support::replacement(&workers, &before).await;
        assert_ne!(replacement.pid, before.pid);
        assert_eq!(support::add(&workers, 2, 3).await.0, 5);
        assert!(
            eventually(HANG_GUARD, || rogue_fds_held() == 0).await,
            "{mode}: the host still holds {} of the rogue's descriptors",
            rogue_fds_held()
        );
    }
}

#[tokio::test]
async fn a_service_method_takes_and_returns_a_file() {
    use support::calc::CalcClient;
    let workers = support::calc_builder(1)
        .finish()
        .await
        .expect("calc starts");
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"quiet words").unwrap();
    let shouted = tokio::time::timeout(HANG_GUARD, workers.shout(file))
        .await
        .expect("the call ended")
        .unwrap();
    let mut text = String::new();
    (&shouted).read_to_string(&mut text).unwrap();
    assert_eq!(text, "QUIET WORDS");
}
