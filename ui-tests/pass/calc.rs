// Every accepted method form on one trait: async, sync, unit, `Result`, one-way, `mut` argument,
// plus the worker-side impl, client calls (direct and through `with_timeout`) and `serve`.

use std::time::Duration;

use ipc2::host::workerset::TimeoutAction;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DivByZero;

#[ipc2::service]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: u32, b: u32) -> u32;
    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero>;
    async fn reset(&self);
    async fn reset_explicit(&self) -> ();
    #[ipc2(oneway)]
    async fn log(&self, line: String);
    #[ipc2(oneway)]
    fn log_sync(&self, mut line: String) -> ();
    fn square(&self, x: u64) -> u64;
    async fn no_args(&self) -> Vec<u8>;
}

struct MyCalc;

impl Calc for MyCalc {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }
    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero> {
        a.checked_div(b).ok_or(DivByZero)
    }
    async fn reset(&self) {}
    async fn reset_explicit(&self) {}
    async fn log(&self, line: String) {
        let _ = line;
    }
    fn log_sync(&self, mut line: String) {
        line.push('!');
    }
    fn square(&self, x: u64) -> u64 {
        x * x
    }
    async fn no_args(&self) -> Vec<u8> {
        Vec::new()
    }
}

async fn _client(w: &CalcWorkers) -> Result<u32, ipc2::Error> {
    let _: Result<i64, DivByZero> = w.div(7, 2).await?;
    w.reset().await?;
    w.reset_explicit().await?;
    w.log("hello".to_owned()).await?;
    w.log_sync(String::new()).await?;
    let _: u64 = w.square(3).await?;
    let _: Vec<u8> = w.no_args().await?;
    let _: u32 = w
        .with_timeout(Duration::from_secs(1), TimeoutAction::Restart)
        .add(1, 2)
        .await?;
    w.add(1, 2).await
}

fn _serve() {
    let _ = ipc2::worker::serve(CalcServer(MyCalc));
}

fn _raw(job: CalcRequest) -> Option<CalcResponse> {
    match job {
        CalcRequest::Add { a, b } => Some(CalcResponse::Add(a + b)),
        CalcRequest::Reset => Some(CalcResponse::Reset(())),
        _ => None,
    }
}

fn main() {
    _serve();
}
