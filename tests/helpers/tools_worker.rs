//! A worker serving two services at once, `Calc` and `Store`, combined as
//! `ipc2_test_support::tools::Tools`.

use std::collections::HashMap;
use std::sync::Mutex;

use ipc2_test_support::calc::CalcServer;
use ipc2_test_support::calc_impl;
use ipc2_test_support::store::{Store, StoreServer, Stored};
use ipc2_test_support::tools::ToolsServer;

#[derive(Default)]
struct MyStore {
    map: Mutex<HashMap<String, String>>,
}

impl Store for MyStore {
    async fn put(&self, key: String, value: String) {
        self.map.lock().unwrap().insert(key.clone(), value);
        Self::emit(Stored { key }).expect("the event is sent");
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
