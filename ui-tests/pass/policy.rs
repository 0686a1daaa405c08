//! Per-method call policies: a deadline with its action, and retries for idempotent methods.

#[ipc2::service]
pub trait Store {
    /// Gives up after 5 s and restarts the worker.
    #[ipc2(timeout = "5s", on_timeout = "restart")]
    async fn compact(&self) -> u64;
    /// Gives up after 250 ms, leaving the worker alone.
    #[ipc2(timeout = "250ms")]
    async fn peek(&self, key: String) -> Option<String>;
    /// Safe to run twice: retried once after a crash.
    #[ipc2(idempotent)]
    async fn get(&self, key: String) -> Option<String>;
    /// Retried up to three times, each attempt within 2 minutes.
    #[ipc2(idempotent, retries = 3, timeout = "2m")]
    async fn scan(&self, prefix: String) -> Vec<String>;
}

async fn _client(workers: &StoreWorkers) -> Result<(), ipc2::Error> {
    workers.compact().await?;
    workers.peek("k".into()).await?;
    workers.get("k".into()).await?;
    workers.scan("k".into()).await?;
    Ok(())
}

fn main() {}
