//! Message bodies through shared memory (`WorkerSetBuilder::shared_memory_above`), between real
//! processes: large jobs and replies arrive whole both ways with the test worker; a worker that
//! speaks the wire protocol by hand (`tests/helpers/rogue_worker.rs`) shows that the host sends
//! large jobs in sealed memory files and reads replies from them, that a file that is not
//! sealed, not the size announced, over the frame limit, or announced for a frame with a body of
//! its own gets its worker replaced, and that a thousand workers dying with a region on its way
//! leak no descriptor and no memory into the host.

use ipc2_test_support as support;

use std::time::Duration;

use ipc2::{Error, ExitCause};
use support::jobs::{TestJob, TestReply};
use support::{HANG_GUARD, TestSet, add, eventually, only_worker};

/// The threshold of these tests: bodies of 64 KiB and more go through shared memory.
const SHARE_ABOVE: usize = 64 * 1024;

async fn send(workers: &TestSet, job: TestJob) -> Result<TestReply, Error> {
    tokio::time::timeout(HANG_GUARD, workers.send(job))
        .await
        .expect("the call ended instead of hanging")
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A one-worker set of rogue workers in `mode`, sharing bodies from [`SHARE_ABOVE`] up unless
/// `sharing` is false; `scratch` holds the file that makes only the first misbehave.
async fn rogue_set(mode: &str, scratch: &tempfile::TempDir, sharing: bool) -> TestSet {
    let builder = TestSet::builder()
        .worker_count(1)
        .worker_path(support::helper("rogue_worker"))
        .env("ROGUE_MODE", mode)
        .env("ROGUE_ONCE", scratch.path().join("misbehaved"))
        .max_frame_len(4 << 20);
    let builder = if sharing {
        builder.shared_memory_above(SHARE_ABOVE)
    } else {
        builder
    };
    builder.finish().await.expect("the rogue worker starts")
}

#[tokio::test]
async fn large_jobs_and_replies_arrive_whole_through_shared_memory_with_a_real_worker() {
    let workers = support::builder(1)
        .shared_memory_above(SHARE_ABOVE)
        .finish()
        .await
        .expect("the test worker starts");
    // Around the threshold (a body is the bytes and a few of envelope), and well past it.
    for len in [
        100,
        SHARE_ABOVE - 8,
        SHARE_ABOVE,
        SHARE_ABOVE + 1,
        (1 << 20) + 3,
    ] {
        let bytes = pattern(len);
        let reply = send(&workers, TestJob::Echo(bytes.clone())).await;
        assert!(
            matches!(&reply, Ok(TestReply::Bytes(got)) if *got == bytes),
            "a {len}-byte echo came back as {:?}",
            reply.map(|r| format!("{r:?}").len())
        );
    }
    assert_eq!(add(&workers, 2, 3).await.0, 5);
}

#[tokio::test]
async fn the_host_sends_large_jobs_in_sealed_memory_files_and_reads_replies_from_them() {
    let scratch = tempfile::tempdir().unwrap();
    // The rogue answers an echo only if the job came in shared memory, and puts every reply's
    // body in a sealed memory file of its own.
    let workers = rogue_set("shm-echo", &scratch, true).await;
    let bytes = pattern(1 << 20);
    let reply = send(&workers, TestJob::Echo(bytes.clone())).await;
    assert!(
        matches!(&reply, Ok(TestReply::Bytes(got)) if *got == bytes),
        "{:?}",
        reply.map(|_| "the wrong bytes")
    );
    assert_eq!(add(&workers, 2, 3).await.0, 5);
    drop(workers);

    let workers = rogue_set("shm-echo", &scratch, false).await;
    let reply = send(&workers, TestJob::Echo(bytes)).await;
    let Err(Error::Remote { reason }) = reply else {
        panic!("without shared memory the echo went another way: {reply:?}");
    };
    assert!(reason.contains("did not come in shared memory"), "{reason}");
}

#[tokio::test]
async fn a_shared_body_that_cannot_be_trusted_gets_its_worker_replaced() {
    for (mode, reason) in [
        ("shm-unsealed", "not sealed against changes"),
        ("shm-wrong-size", "not the"),
        ("shm-oversized", "maximum of 4194304"),
        ("shm-with-body", "a body of its own"),
    ] {
        let scratch = tempfile::tempdir().unwrap();
        let workers = rogue_set(mode, &scratch, true).await;
        let rogue = only_worker(&workers);
        let outcome = send(&workers, TestJob::Add(2, 3)).await;
        let Err(Error::WorkerExited(exit)) = outcome else {
            panic!("{mode}: expected WorkerExited, got {outcome:?}");
        };
        let ExitCause::ProtocolViolation(why) = &exit.cause else {
            panic!("{mode}: expected a protocol violation: {exit}");
        };
        assert!(why.contains(reason), "{mode}: {why}");
        support::replaced_and_serving(&workers, &rogue).await;
    }
}

/// The memory files this process holds: those ipc2 makes for bodies, and the rogue's.
fn memory_files_held() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("this process's fd table")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| {
            let target = target.to_string_lossy();
            target.contains("memfd:rogue-shm") || target.contains("memfd:ipc2-message-body")
        })
        .count()
}

/// This machine's shared memory in use (`Shmem` of `/proc/meminfo`), in KiB: memory files count
/// there until their last reference, a descriptor or a mapping anywhere, is gone.
fn shmem_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("Shmem:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a Shmem line")
}

// The leak check: 1,000 deaths, each with a 1 MiB region on its way to the host and the
// job's own region (64 KiB) held by the dying worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_workers_dying_with_shared_memory_on_its_way_leak_nothing() {
    const DEATHS: usize = 1000;
    const WORKERS: usize = 4;
    // Each set's slots back off a little more at each young death, so each set sees only a few.
    const ROUNDS_PER_SET: usize = 5;
    let baseline_files = memory_files_held();
    let baseline_shmem = shmem_kib();
    let job = TestJob::Echo(pattern(SHARE_ABOVE + 100));
    let mut deaths = 0;
    while deaths < DEATHS {
        let scratch = tempfile::tempdir().unwrap();
        let workers = TestSet::builder()
            .worker_count(WORKERS)
            .worker_path(support::helper("rogue_worker"))
            .env("ROGUE_MODE", "shm-dies")
            .env("ROGUE_ONCE", scratch.path().join("unused"))
            .shared_memory_above(SHARE_ABOVE)
            .restart_limit(usize::MAX, Duration::from_secs(1))
            .stderr(ipc2::host::Output::Discard)
            .finish()
            .await
            .expect("the rogue workers start");
        for _ in 0..ROUNDS_PER_SET {
            let calls = (0..WORKERS).map(|_| send(&workers, job.clone()));
            for outcome in futures_util::future::join_all(calls).await {
                assert!(
                    matches!(outcome, Err(Error::WorkerExited(_))),
                    "after {deaths} deaths: {outcome:?}"
                );
                deaths += 1;
            }
        }
        drop(workers);
    }
    assert!(
        eventually(HANG_GUARD, || memory_files_held() <= baseline_files).await,
        "after {deaths} deaths the host holds {} memory files ({baseline_files} before)",
        memory_files_held()
    );
    // Other processes may use some shared memory meanwhile; 1,000 leaked regions would be 2 GiB.
    let slack_kib = 64 * 1024;
    assert!(
        eventually(HANG_GUARD, || shmem_kib() <= baseline_shmem + slack_kib).await,
        "after {deaths} deaths shared memory grew from {baseline_shmem} KiB to {} KiB",
        shmem_kib()
    );
}
