//! A worker serving two services at once, `Calc` and `Store`, combined as `Tools`.

#[path = "../support/calc.rs"]
mod calc;
#[path = "../support/store.rs"]
mod store;

use std::collections::HashMap;
use std::sync::Mutex;

use calc::{Calc, CalcServer, DivByZero, Point, Shape};
use store::{Store, StoreServer};

ipc2::combine!(pub Tools: calc::Calc, store::Store);

struct MyCalc;

impl Calc for MyCalc {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }
    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero> {
        a.checked_div(b).ok_or(DivByZero)
    }
    async fn reset(&self) {}
    async fn log(&self, _line: String) {}
    async fn lines(&self) -> Vec<String> {
        Vec::new()
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
    async fn sleep(&self, _ms: u64) {}
    async fn hog_memory(&self) -> u64 {
        0
    }
    fn spin(&self) -> u64 {
        0
    }
    async fn bounded_sleep(&self, ms: u64) -> u64 {
        ms
    }
    async fn crash_once(&self, _marker: String) -> u32 {
        1
    }
    async fn crash_once_retried(&self, _marker: String) -> u32 {
        1
    }
    async fn progress(&self, steps: u32) -> u32 {
        if let Some(events) = ipc2::worker::service_events::<calc::CalcResponse>() {
            for step in 0..steps {
                let _ = events.send(calc::CalcResponse::Add(step));
            }
        }
        steps
    }

    async fn panic(&self) -> u32 {
        0
    }
}

#[derive(Default)]
struct MyStore {
    map: Mutex<HashMap<String, String>>,
}

impl Store for MyStore {
    async fn put(&self, key: String, value: String) {
        self.map.lock().unwrap().insert(key, value);
    }
    async fn get(&self, key: String) -> Option<String> {
        self.map.lock().unwrap().get(&key).cloned()
    }
}

#[tokio::main]
async fn main() -> Result<(), ipc2::worker::Error> {
    ipc2::worker::serve(ToolsServer(
        CalcServer(MyCalc),
        StoreServer(MyStore::default()),
    ))
    .await
}
