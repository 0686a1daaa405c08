//! Memory behaviour measured with a counting global allocator: what a request costs the host, and
//! that hostile lengths cost nothing.
//!
//! Counting is per thread (only the measuring thread's allocations count), so tests running in
//! parallel do not disturb each other; each measurement runs the host on a current-thread runtime
//! so all of the host's work for a request happens on the measuring thread.

use ipc2_test_support as support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use ipc2_common::{FrameCodec, codec};
use support::jobs::{TestJob, TestReply};
use tokio_util::codec::Decoder;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn record_alloc(size: usize) {
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            let live = LIVE.with(|live| {
                live.set(live.get() + size);
                live.get()
            });
            PEAK.with(|peak| peak.set(peak.get().max(live)));
        }
    });
}

fn record_dealloc(size: usize) {
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            LIVE.with(|live| live.set(live.get().saturating_sub(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record_dealloc(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record_alloc(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record_dealloc(layout.size());
        record_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` with counting on; returns its result, the number of allocations and the peak of
/// bytes allocated and not yet freed during it.
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    LIVE.with(|n| n.set(0));
    PEAK.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, ALLOCATIONS.with(Cell::get), PEAK.with(Cell::get))
}

const MAX_FRAME: usize = 64 * 1024 * 1024;

#[test]
fn a_header_claiming_4_gib_is_refused_before_anything_is_allocated_for_it() {
    let mut codec = FrameCodec::new(MAX_FRAME);
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(&u32::MAX.to_le_bytes());
    buf.extend_from_slice(b"junk");
    let (result, _, peak) = counted(|| codec.decode(&mut buf));
    assert!(matches!(
        result,
        Err(ipc2_common::Error::FrameTooLarge { .. })
    ));
    assert!(peak < 64 * 1024, "peak allocation {peak} bytes");
}

#[test]
fn a_forged_length_inside_a_small_frame_allocates_nothing_large() {
    // A Vec/String length of 2^40 in a 9-byte body (varint marker 253, then a u64).
    let mut body = vec![253];
    body.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let (string, _, peak_string) = counted(|| codec::decode_body::<String>(&body));
    let (bytes, _, peak_bytes) = counted(|| codec::decode_body::<serde_bytes::ByteBuf>(&body));
    let (list, _, peak_list) = counted(|| codec::decode_body::<Vec<u64>>(&body));
    assert!(string.is_err() && bytes.is_err() && list.is_err());
    // Strings and byte buffers are checked against the payload before allocating.
    assert!(peak_string < 64 * 1024, "string: peak {peak_string} bytes");
    assert!(peak_bytes < 64 * 1024, "bytes: peak {peak_bytes} bytes");
    // serde pre-allocates at most 1 MiB for a sequence, whatever length it claims
    // (`serde::de::size_hint::cautious`); the decode then fails on the missing elements.
    assert!(peak_list <= 1024 * 1024, "list: peak {peak_list} bytes");
}

// A 15 KB body of sequences inside sequences, each claiming u32::MAX elements, once made the
// host reserve 1 MiB per level, 3 GB in all. What the decode reserves now shares one budget of
// the body's length in elements, and the nesting stops at the depth limit.
#[test]
fn nested_sequences_each_claiming_4_billion_elements_reserve_about_the_frames_size() {
    let body = support::hostile::as_reply(&support::hostile::claiming_nest(15_000));
    let (result, _, peak) = counted(|| codec::decode_body::<TestReply>(&body));
    assert!(
        matches!(result, Err(ipc2_common::Error::TooDeep { .. })),
        "{result:?}"
    );
    // At most the body's length in elements of the largest element type (a `Nest`, 24 bytes),
    // and a little for the error.
    let bound = body.len() * std::mem::size_of::<support::jobs::Nest>() + 4096;
    assert!(
        peak <= bound,
        "peak {peak} bytes for a {}-byte body",
        body.len()
    );
}

// `map` takes jobs only as room frees up: 100,000 jobs through it cost the memory of a few.
#[test]
fn map_over_100_000_jobs_keeps_the_hosts_memory_bounded() {
    use futures_util::StreamExt;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let workers = runtime
        .block_on(support::builder(2).max_in_flight_per_worker(8).finish())
        .unwrap();
    const JOBS: u32 = 100_000;
    let (answered, _, peak) = counted(|| {
        runtime.block_on(async {
            let replies = workers.map((0..JOBS).map(|i| TestJob::Add(i, 1)));
            futures_util::pin_mut!(replies);
            let mut answered = 0;
            while let Some(reply) = replies.next().await {
                assert!(
                    matches!(reply, Ok(TestReply::Sum { sum, .. }) if sum == answered + 1),
                    "{reply:?}"
                );
                answered += 1;
            }
            answered
        })
    });
    assert_eq!(answered, JOBS);
    // 16 jobs in flight; futures for all 100,000 would be tens of MB.
    println!("map over {JOBS} jobs: host peak {peak} bytes");
    assert!(peak < 1 << 20, "peak {peak} bytes");
}

// The figure this prints is the one the benchmark notes quote (0: the reply slot lives in the
// connection's call map, the frame buffer is recycled). The bound leaves room for the runtime's
// own occasional allocations, but not for one per request.
#[test]
fn a_small_request_costs_the_host_no_allocation() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let workers = runtime.block_on(support::set(1));
    runtime.block_on(async {
        for _ in 0..1000 {
            workers.send(TestJob::Add(1, 2)).await.unwrap();
        }
    });
    const CALLS: usize = 10_000;
    let (_, allocations, _) = counted(|| {
        runtime.block_on(async {
            for i in 0..CALLS as u32 {
                let reply = workers.send(TestJob::Add(i, 1)).await.unwrap();
                assert!(matches!(reply, TestReply::Sum { sum, .. } if sum == i + 1));
            }
        })
    });
    let per_call = allocations as f64 / CALLS as f64;
    println!("host allocations per small request: {per_call:.2}");
    assert!(per_call < 1.0, "{per_call:.2} allocations per request");
}
