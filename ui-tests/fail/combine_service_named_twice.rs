#[ipc2::service]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
}

ipc2::combine!(pub Tools: Calc, Calc);

// The fallback still generates the set, with `Calc` once, so this compiles: no cascade.
async fn _client(tools: &ToolsWorkers) -> Result<u32, ipc2::Error> {
    tools.add(1, 2).await
}

fn main() {}
