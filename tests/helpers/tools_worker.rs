//! A worker serving two services at once, `Calc` and `Store`, combined as `Tools`.

#[path = "../support/calc.rs"]
mod calc;
#[path = "../support/calc_impl.rs"]
mod calc_impl;
#[path = "../support/store.rs"]
mod store;

use std::collections::HashMap;
use std::sync::Mutex;

use calc::CalcServer;
use store::{Store, StoreServer};

ipc2::combine!(pub Tools: calc::Calc, store::Store);

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
        CalcServer(calc_impl::Worker::default()),
        StoreServer(MyStore::default()),
    ))
    .await
}
