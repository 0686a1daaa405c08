//! A service with events, and a combination of two with events of their own: what handlers and
//! hosts write.

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    pub percent: u8,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum Log {
    Line(String),
}

#[ipc2::service(event = Progress)]
pub trait Convert {
    async fn convert(&self, input: String) -> String;
}

#[ipc2::service(event = Log)]
pub trait Store {
    async fn put(&self, key: String);
}

ipc2::combine!(pub Tools: Convert, Store);

struct Worker;

impl Convert for Worker {
    async fn convert(&self, input: String) -> String {
        // One type serves both services, so `Self::emit` would be ambiguous.
        let _ = <Self as Convert>::emit(Progress { percent: 50 });
        let _ = ipc2::worker::emit(Progress { percent: 100 });
        input
    }
}

impl Store for Worker {
    async fn put(&self, key: String) {
        let _ = <Self as Store>::emit(Log::Line(key));
    }
}

async fn host(workers: ToolsWorkers) -> Option<()> {
    let mut events = workers.events()?;
    match events.recv().await?.ok()?.event {
        ToolsEvent::Convert(Progress { percent }) => println!("{percent}%"),
        ToolsEvent::Store(Log::Line(line)) => println!("{line}"),
    }
    let one: Option<ipc2::host::Events<Progress>> = None::<ConvertWorkers>?.events();
    drop(one);
    Some(())
}

fn main() {
    let _ = host;
    let _ = ToolsServer(ConvertServer(Worker), StoreServer(Worker));
}
