//! The test workers' implementation of [`Calc`], shared by `calc_worker` and `tools_worker`.

use std::path::Path;
use std::sync::Mutex;

use crate::calc::{self, Calc, DivByZero, Point, Shape};

/// The test implementation of `Calc`.
#[derive(Default)]
pub struct Worker {
    lines: Mutex<Vec<String>>,
}

impl Calc for Worker {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }

    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero> {
        a.checked_div(b).ok_or(DivByZero)
    }

    async fn reset(&self) {
        self.lines.lock().unwrap().clear();
    }

    async fn log(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    async fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn square(&self, x: u64) -> u64 {
        x * x
    }

    async fn describe(&self, at: Point, shape: Shape) -> String {
        format!("{shape:?} at ({}, {})", at.x, at.y)
    }

    async fn echo(&self, bytes: Vec<u8>) -> Vec<u8> {
        bytes
    }

    async fn pid(&self) -> u32 {
        std::process::id()
    }

    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }

    async fn pause(&self, marker: String, ms: u64) {
        crate::write_pid(Path::new(&marker)).expect("the marker is written");
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }

    async fn pause_in(&self, dir: String, ms: u64) {
        let marker = Path::new(&dir).join(std::process::id().to_string());
        crate::write_pid(&marker).expect("the marker is written");
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }

    async fn hog_memory(&self) -> u64 {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1; 1 << 20]);
            if hoard.len() == usize::MAX {
                return hoard.len() as u64;
            }
        }
    }

    fn burn(&self, ms: u64) -> u64 {
        let cpu = || {
            let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
            std::time::Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
        };
        let until = cpu() + std::time::Duration::from_millis(ms);
        let mut x = 0u64;
        while cpu() < until {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        ms
    }

    fn spin(&self) -> u64 {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
            if x == u64::MAX {
                return x;
            }
        }
    }

    async fn bounded_sleep(&self, ms: u64) -> u64 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        ms
    }

    async fn crash_once(&self, marker: String) -> u32 {
        if std::fs::exists(&marker).unwrap_or(false) {
            return 1;
        }
        let _ = std::fs::write(&marker, "");
        std::process::exit(1)
    }

    async fn crash_once_retried(&self, marker: String) -> u32 {
        self.crash_once(marker).await
    }

    async fn progress(&self, steps: u32) -> u32 {
        for step in 0..steps {
            let progress = calc::Progress { step, of: steps };
            let sent = match step % 2 {
                0 => ipc2::worker::emit(progress),
                _ => Self::emit(progress),
            };
            sent.expect("the event is sent");
        }
        steps
    }

    async fn misuse_emit(&self) -> Vec<String> {
        let wrong_type = ipc2::worker::emit(String::from("not a Progress"));
        let spawned = tokio::spawn(async { ipc2::worker::emit(calc::Progress { step: 0, of: 1 }) })
            .await
            .expect("the task runs");
        [wrong_type, spawned]
            .into_iter()
            .map(|sent| match sent {
                Ok(()) => "sent".to_owned(),
                Err(err) => err.to_string(),
            })
            .collect()
    }

    async fn panic(&self) -> u32 {
        panic!("the panic method was called")
    }

    async fn count_to(&self, n: u64, gap_ms: u64, marker: String) -> ipc2::Stream<u64> {
        counter(n, gap_ms, Marker(marker))
    }

    async fn words(&self, text: String, fail: bool) -> ipc2::Stream<Result<String, DivByZero>> {
        let words: Vec<_> = text.split_whitespace().map(|w| Ok(w.to_owned())).collect();
        let end = fail.then_some(Err(DivByZero));
        ipc2::Stream::iter(words.into_iter().chain(end))
    }

    async fn count_slowly(&self, n: u64, gap_ms: u64) -> ipc2::Stream<u64> {
        counter(n, gap_ms, Marker(String::new()))
    }

    async fn shout(&self, mut file: std::fs::File) -> std::fs::File {
        use std::io::{Read, Seek, Write};
        let mut text = String::new();
        file.rewind().expect("a file the test made");
        file.read_to_string(&mut text)
            .expect("a file the test made");
        let (read, mut write) = std::io::pipe().expect("a pipe");
        write
            .write_all(text.to_uppercase().as_bytes())
            .expect("a pipe with room");
        std::fs::File::from(std::os::fd::OwnedFd::from(read))
    }
}

/// Creates the file it names when dropped, unless the name is empty.
struct Marker(String);

impl Drop for Marker {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = std::fs::write(&self.0, "");
        }
    }
}

/// `0..n`, `gap_ms` apart, each after a `Progress` event; `marker` is created if the stream is
/// dropped before its end.
fn counter(n: u64, gap_ms: u64, marker: Marker) -> ipc2::Stream<u64> {
    ipc2::Stream::new(futures_util::stream::unfold(
        (0, marker),
        move |(i, mut marker)| async move {
            if i == n {
                marker.0.clear();
                return None;
            }
            if gap_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(gap_ms)).await;
            }
            let progress = calc::Progress {
                step: i as u32,
                of: n.min(u64::from(u32::MAX)) as u32,
            };
            ipc2::worker::emit(progress).expect("a stream's items are made in its handler's scope");
            Some((i, (i + 1, marker)))
        },
    ))
}
