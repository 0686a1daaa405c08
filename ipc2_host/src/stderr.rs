//! A worker's stderr: passed through to the host's, with the last lines kept for crash reports.
//!
//! Each line a worker writes to stderr is written to the host's stderr as it arrives (the pipe is
//! always drained, so a chatty worker never blocks on a full pipe), and the last [`TAIL_LINES`]
//! lines are kept. When the worker dies, they go into its [`crate::WorkerExit`], so "worker 2
//! exited with code 101" comes with the panic message that explains it.

use std::collections::VecDeque;
use std::io::Write;
use std::process::ChildStderr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

/// How many lines of a worker's stderr a crash report keeps.
pub(crate) const TAIL_LINES: usize = 20;
/// Longer lines are cut to this many bytes in the tail (they are forwarded whole).
const MAX_LINE: usize = 1024;

/// The tail of one worker's stderr, filled by a background task.
#[derive(Debug)]
pub(crate) struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    ended: Option<oneshot::Receiver<()>>,
}

impl StderrTail {
    /// Starts forwarding `stderr` and keeping its tail.
    pub(crate) fn capture(stderr: Option<ChildStderr>) -> Self {
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let (ended_tx, ended) = oneshot::channel();
        let pipe = stderr.and_then(|s| tokio::process::ChildStderr::from_std(s).ok());
        if let Some(pipe) = pipe {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(pipe);
                let mut line = Vec::new();
                while let Ok(n) = reader.read_until(b'\n', &mut line).await {
                    if n == 0 {
                        break;
                    }
                    let _ = std::io::stderr().lock().write_all(&line);
                    let text = String::from_utf8_lossy(&line[..line.len().min(MAX_LINE)]);
                    let mut tail = lines.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(text.trim_end().to_owned());
                    line.clear();
                }
                let _ = ended_tx.send(());
            });
        }
        Self {
            lines,
            ended: Some(ended),
        }
    }

    /// The tail, once the pipe has reached its end or `grace` has passed (a grandchild may hold
    /// the pipe open).
    pub(crate) async fn finish(&mut self, grace: Duration) -> String {
        if let Some(ended) = self.ended.take() {
            let _ = tokio::time::timeout(grace, ended).await;
        }
        let tail = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}
