//! A worker's stdout and stderr: where their lines go, and the tail kept for crash reports.
//!
//! Each captured stream is read line by line as it arrives (so a chatty worker never blocks on a
//! full pipe) and each line goes where [`Output`] says. Whatever the destination, the stderr lines
//! since the last job was sent to the worker are kept, the first [`FIRST_LINES`] and the last
//! [`LAST_LINES`] of them, and go into the worker's [`crate::WorkerExit`] when it dies: so
//! "worker 2 exited with code 101" comes with the panic message that explains it, even when a long
//! backtrace follows it, and without the lines of earlier jobs.
//!
//! Once the worker has exited, its capture takes what is already in the pipe (everything the
//! worker wrote before it died) and stops: it does not wait for the end of the stream, which a
//! descendant still holding the pipe would put off for as long as it lives, and closing its end
//! lets such a descendant fail its next write instead of keeping the host's reader alive.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

/// How many of the first lines since a job began a crash report keeps.
pub(crate) const FIRST_LINES: usize = 10;
/// How many of the last lines since a job began a crash report keeps.
pub(crate) const LAST_LINES: usize = 20;
/// Longer lines are cut to this many bytes in the tail.
const MAX_LINE: usize = 1024;
/// Longer lines are cut to this many bytes where they are passed on (the rest of the line is
/// read and dropped), so a worker writing endlessly without a newline cannot grow the host.
const MAX_PASSED_LINE: usize = 64 * 1024;

/// A callback for [`Output::Callback`]: called with the worker's slot id and one line, without
/// its line ending.
pub type LineCallback = Arc<dyn Fn(usize, &str) + Send + Sync>;

/// Where a worker's stdout or stderr goes. Set with
/// [`WorkerSetBuilder::stdout`](crate::WorkerSetBuilder::stdout) and
/// [`WorkerSetBuilder::stderr`](crate::WorkerSetBuilder::stderr).
///
/// ```no_run
/// use std::sync::Arc;
/// use ipc2::host::Output;
///
/// let log = Output::Callback(Arc::new(|worker, line| eprintln!("[worker {worker}] {line}")));
/// # let _ = log;
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Output {
    /// The worker writes to the host's own descriptor directly. Nothing is read, so crash
    /// reports carry no stderr tail.
    Inherit,
    /// Each line is written to the host's own stdout or stderr (the default for stderr;
    /// stdout's is [`Inherit`](Self::Inherit)).
    #[default]
    Forward,
    /// Each line becomes a `tracing` event with the worker's id (INFO for stdout, WARN for
    /// stderr, target `ipc2::worker`).
    Tracing,
    /// Each line is handed to the callback with the worker's slot id.
    Callback(LineCallback),
    /// Lines are read and dropped (stderr's tail is still kept for crash reports).
    Discard,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Output::Inherit => "Inherit",
            Output::Forward => "Forward",
            Output::Tracing => "Tracing",
            Output::Callback(_) => "Callback(..)",
            Output::Discard => "Discard",
        })
    }
}

impl Output {
    /// How the child's descriptor is set up.
    pub(crate) fn stdio(&self) -> Stdio {
        match self {
            Output::Inherit => Stdio::inherit(),
            _ => Stdio::piped(),
        }
    }
}

/// Which stream a capture reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// At most this much of what a pipe holds after the worker has exited is kept (the newest part),
/// and at most four times this much is read, so a descendant that keeps writing cannot keep the
/// capture going.
const AFTER_EXIT: usize = 256 * 1024;

/// The stderr lines kept for a crash report: the first and last of those since the last job
/// was sent.
#[derive(Debug, Default)]
struct Tail {
    /// How many jobs had been sent when these lines began.
    job: u64,
    first: Vec<String>,
    last: VecDeque<String>,
    omitted: usize,
}

impl Tail {
    fn push(&mut self, job: u64, line: String) {
        if job != self.job {
            *self = Tail {
                job,
                ..Tail::default()
            };
        }
        if self.first.len() < FIRST_LINES {
            self.first.push(line);
            return;
        }
        if self.last.len() == LAST_LINES {
            self.last.pop_front();
            self.omitted += 1;
        }
        self.last.push_back(line);
    }

    /// The kept lines, if they belong to the job `job` (the last one sent): a worker that died
    /// without writing anything during that job has no lines of its own.
    fn render(&self, job: u64) -> String {
        if job != self.job {
            return String::new();
        }
        let mut lines: Vec<String> = self.first.clone();
        if self.omitted > 0 {
            lines.push(format!("[... {} lines ...]", self.omitted));
        }
        lines.extend(self.last.iter().cloned());
        lines.join("\n")
    }
}

/// One stream of one worker, read by a background task.
#[derive(Debug)]
pub(crate) struct Capture {
    tail: Arc<Mutex<Tail>>,
    jobs_sent: Arc<AtomicU64>,
    /// Tells the reader the worker has exited.
    exited: Option<oneshot::Sender<()>>,
    ended: Option<oneshot::Receiver<()>>,
}

impl Capture {
    /// Starts reading `pipe` (absent when the stream is inherited) and routing its lines.
    /// `jobs_sent` counts the jobs sent to the worker; the tail restarts with each.
    pub(crate) fn start(
        pipe: Option<impl Into<OwnedFd>>,
        stream: Stream,
        worker: usize,
        output: Output,
        jobs_sent: Arc<AtomicU64>,
    ) -> Self {
        let tail = Arc::new(Mutex::new(Tail::default()));
        let (ended_tx, ended) = oneshot::channel();
        let (exited_tx, exited) = oneshot::channel();
        let receiver = pipe.and_then(|fd| pipe::Receiver::from_owned_fd(fd.into()).ok());
        if let Some(receiver) = receiver {
            let mut lines = Lines {
                tail: tail.clone(),
                jobs_sent: jobs_sent.clone(),
                stream,
                worker,
                output,
                callback_panicked: false,
            };
            tokio::spawn(async move {
                lines.read(receiver, exited).await;
                let _ = ended_tx.send(());
            });
        }
        Self {
            tail,
            jobs_sent,
            exited: Some(exited_tx),
            ended: Some(ended),
        }
    }

    /// The kept tail, once the worker has exited: what the pipe holds is taken without waiting
    /// for its end (see the [module docs](self)); `grace` only bounds a slow [`Output::Callback`].
    pub(crate) async fn finish(&mut self, grace: Duration) -> String {
        if let Some(exited) = self.exited.take() {
            let _ = exited.send(());
        }
        if let Some(ended) = self.ended.take() {
            let _ = tokio::time::timeout(grace, ended).await;
        }
        let job = self.jobs_sent.load(Ordering::Relaxed);
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .render(job)
    }
}

/// Where a capture's lines go.
struct Lines {
    tail: Arc<Mutex<Tail>>,
    jobs_sent: Arc<AtomicU64>,
    stream: Stream,
    worker: usize,
    output: Output,
    callback_panicked: bool,
}

impl Lines {
    /// Reads lines until the end of the stream, or, once `exited` fires, until the pipe is
    /// empty for now.
    async fn read(&mut self, receiver: pipe::Receiver, mut exited: oneshot::Receiver<()>) {
        let mut reader = BufReader::new(receiver);
        let mut line = Vec::new();
        loop {
            tokio::select! {
                more = read_line(&mut reader, &mut line, MAX_PASSED_LINE) => match more {
                    Ok(true) => {
                        self.take(&line);
                        line.clear();
                    }
                    _ => return,
                },
                _ = &mut exited => break,
            }
        }
        // The worker is gone: what it wrote is in `line` (a line cut short), the reader's
        // buffer and the pipe. Take that much and no more.
        let mut rest = std::mem::take(&mut line);
        rest.extend_from_slice(reader.buffer());
        let pipe = reader.into_inner();
        let mut chunk = [0; 16 * 1024];
        let mut read = 0;
        // A descendant may keep writing: read at most this much, and keep the newest part,
        // which holds the worker's last words.
        while read < 4 * AFTER_EXIT {
            // Straight from the descriptor (which is non-blocking): tokio's `try_read` reports
            // "would block" until its reactor has seen the pipe readable.
            match rustix::io::read(&pipe, &mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    read += n;
                    rest.extend_from_slice(&chunk[..n]);
                    if rest.len() > AFTER_EXIT {
                        rest.drain(..rest.len() - AFTER_EXIT);
                    }
                }
            }
        }
        for piece in rest.split_inclusive(|&b| b == b'\n') {
            self.take(&piece[..piece.len().min(MAX_PASSED_LINE)]);
        }
    }

    /// Passes one line on, and keeps it for the tail if it is stderr.
    fn take(&mut self, line: &[u8]) {
        route(
            line,
            self.stream,
            self.worker,
            &self.output,
            &mut self.callback_panicked,
        );
        if self.stream == Stream::Stderr {
            let text = String::from_utf8_lossy(&line[..line.len().min(MAX_LINE)]);
            let job = self.jobs_sent.load(Ordering::Relaxed);
            self.tail
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(job, text.trim_end().to_owned());
        }
    }
}

/// Reads one line (up to and including `\n`) into `line`, keeping at most `max` bytes of it.
/// Returns false at the end of the stream with nothing read.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<bool> {
    let mut read_any = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(read_any);
        }
        read_any = true;
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (buf.len(), false),
        };
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        reader.consume(take);
        if done {
            return Ok(true);
        }
    }
}

fn route(
    line: &[u8],
    stream: Stream,
    worker: usize,
    output: &Output,
    callback_panicked: &mut bool,
) {
    match output {
        Output::Inherit | Output::Discard => {}
        Output::Forward => {
            let _ = match stream {
                Stream::Stdout => std::io::stdout().lock().write_all(line),
                Stream::Stderr => std::io::stderr().lock().write_all(line),
            };
        }
        Output::Tracing => {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end();
            match stream {
                Stream::Stdout => tracing::info!(target: "ipc2::worker", worker, "{text}"),
                Stream::Stderr => tracing::warn!(target: "ipc2::worker", worker, "{text}"),
            }
        }
        Output::Callback(callback) => {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches(['\n', '\r']);
            // A panicking callback must not stop the draining of the pipe: the worker's next
            // write would then fail with EPIPE and kill it.
            let call = std::panic::AssertUnwindSafe(|| callback(worker, text));
            if std::panic::catch_unwind(call).is_err() && !*callback_panicked {
                *callback_panicked = true;
                tracing::error!(
                    worker,
                    "ipc2: the Output::Callback for this worker's {stream:?} panicked; its lines \
                     are still read, and passed to the callback"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_first_and_last_lines_since_the_job_began() {
        let mut tail = Tail::default();
        tail.push(1, "the previous job's line".into());
        tail.push(2, "memory allocation of 1048576 bytes failed".into());
        for i in 0..100 {
            tail.push(2, format!("frame {i}"));
        }
        let text = tail.render(2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "memory allocation of 1048576 bytes failed");
        assert_eq!(lines[FIRST_LINES - 1], "frame 8");
        assert_eq!(lines[FIRST_LINES], "[... 71 lines ...]");
        assert_eq!(lines.last(), Some(&"frame 99"));
        assert_eq!(lines.len(), FIRST_LINES + 1 + LAST_LINES);
        assert!(!text.contains("previous job"));
        assert_eq!(tail.render(3), "", "a later job wrote nothing");
    }

    // A worker's descendant may hold the pipe open for as long as it lives; the report must not
    // wait for it. The write end stays open here for the whole test, so waiting for the end of
    // the stream would hang until the guard below.
    #[tokio::test]
    async fn after_the_exit_the_tail_is_what_the_pipe_holds_without_waiting_for_its_end() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut capture = Capture::start(
            Some(reader),
            Stream::Stderr,
            0,
            Output::Discard,
            Arc::default(),
        );
        writer.write_all(b"first\nsecond\nthe last, cut").unwrap();
        let guard = Duration::from_secs(30);
        let tail = tokio::time::timeout(guard, capture.finish(guard))
            .await
            .expect("finish waited for the end of the stream");
        assert_eq!(tail, "first\nsecond\nthe last, cut");
        drop(writer);
    }

    #[tokio::test]
    async fn a_line_longer_than_the_cap_is_cut_and_the_next_line_is_whole() {
        let mut input = vec![b'x'; MAX_PASSED_LINE * 2 + 5];
        input.extend_from_slice(b"\nnext\n");
        // A reader that hands out a few bytes at a time, so the cut happens across reads.
        let mut reader = BufReader::with_capacity(1000, &input[..]);
        let mut line = Vec::new();
        assert!(
            read_line(&mut reader, &mut line, MAX_PASSED_LINE)
                .await
                .unwrap()
        );
        assert_eq!(line.len(), MAX_PASSED_LINE);
        assert!(line.iter().all(|&b| b == b'x'));
        line.clear();
        assert!(
            read_line(&mut reader, &mut line, MAX_PASSED_LINE)
                .await
                .unwrap()
        );
        assert_eq!(line, b"next\n");
        line.clear();
        assert!(
            !read_line(&mut reader, &mut line, MAX_PASSED_LINE)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_last_line_without_newline_is_still_read() {
        let mut reader = BufReader::new(&b"tail"[..]);
        let mut line = Vec::new();
        assert!(read_line(&mut reader, &mut line, 16).await.unwrap());
        assert_eq!(line, b"tail");
    }
}
