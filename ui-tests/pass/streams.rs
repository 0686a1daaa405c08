//! Streaming methods as users write them: the worker returns any stream of items, the caller
//! reads `Result<T, ipc2::Error>`s; with the service's error inside the items, an item timeout,
//! and from a plain `fn`.

use std::time::Duration;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Line(pub String);

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct EvalError(pub String);

#[ipc2::service]
pub trait Eval {
    /// Runs a script, yielding each line it prints.
    async fn run(&self, script: String) -> ipc2::Stream<Line>;
    #[ipc2(timeout = "10s", item_timeout = "1s")]
    async fn checked(&self, script: String) -> ipc2::Stream<Result<Line, EvalError>>;
    fn numbers(&self, up_to: u64) -> ipc2::Stream<u64>;
    async fn bytes(&self) -> ipc2::Stream<Vec<u8>>;
}

struct Evaluator;

impl Eval for Evaluator {
    async fn run(&self, script: String) -> ipc2::Stream<Line> {
        let lines: Vec<Line> = script.lines().map(|l| Line(l.to_owned())).collect();
        ipc2::Stream::iter(lines)
    }
    async fn checked(&self, script: String) -> ipc2::Stream<Result<Line, EvalError>> {
        ipc2::Stream::iter([Ok(Line(script)), Err(EvalError("done".into()))])
    }
    fn numbers(&self, up_to: u64) -> ipc2::Stream<u64> {
        ipc2::Stream::iter(0..up_to)
    }
    async fn bytes(&self) -> ipc2::Stream<Vec<u8>> {
        ipc2::Stream::iter([vec![1, 2, 3]])
    }
}

async fn host(workers: EvalWorkers) -> Result<(), ipc2::Error> {
    let mut lines = workers.run("a\nb".into()).await?;
    while let Some(line) = lines.next().await {
        println!("{:?}", line?);
    }
    let mut checked = workers
        .with_timeout(Duration::from_secs(1), ipc2::TimeoutAction::Restart)
        .checked("x".into())
        .await?;
    while let Some(item) = checked.next().await {
        match item? {
            Ok(line) => println!("{line:?}"),
            Err(err) => println!("the script failed: {err:?}"),
        }
    }
    let everywhere: Vec<(usize, Result<ipc2::host::ReplyStream<u64>, ipc2::Error>)> =
        workers.on_all().numbers(3).await;
    drop(everywhere);
    Ok(())
}

fn main() {
    let _ = host;
    let _ = EvalServer(Evaluator);
}
