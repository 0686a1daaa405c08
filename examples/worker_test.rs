//! The README's worker program, exactly as the README shows it (so neither rustfmt nor
//! the unused-import lint may touch it).
#![cfg_attr(rustfmt, rustfmt::skip)]
#![allow(unused_imports)]

use ipc2_worker::Job;
use test_common::HostMessage;
use test_common::WorkerMessage;
use tokio::net::UnixStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rx = ipc2_worker::connect::<
        /* Type of client to use for IPC */ UnixStream,
        /* Type of host->worker message */ HostMessage,
        /* Type of worker->host message */ u32
    >().await?;

    while let Some(job) = rx.recv().await {
        match job {
            Job::Bidirectional { data, tx } => {
                let _ = tx.send(match data {
                    HostMessage::Add(a, b) => a + b,
                    HostMessage::Sub(a, b) => a - b
                });
            },
            Job::Unidirectional { .. } => unreachable!()
        };
    }

    Ok(())
}
