//! The README's host program, exactly as the README shows it (so neither rustfmt nor
//! the unused-import lint may touch it).
#![cfg_attr(rustfmt, rustfmt::skip)]
#![allow(unused_imports)]

use ipc2_host::workerset::WorkerSet;
use tokio::net::UnixListener;
use test_common::HostMessage;
use std::error::Error;

type MyWorkerSet = WorkerSet<
    /* Type of server to use for IPC */ UnixListener,
    /* Type of worker->host message */ u32,
    /* Type of host->worker message */ HostMessage
>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let workers: MyWorkerSet = WorkerSet::builder()
        .worker_count(4)
        .worker_path("./target/debug/worker_test")
        .finish()
        .await?;

    // Let the worker process add two numbers together
    // And receive a `u32` in response.
    let resp: u32 = workers.send(HostMessage::Add(6, 7)).await?;

    println!("Result -> {}", resp);

    Ok(())
}
