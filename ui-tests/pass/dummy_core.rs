// Local modules named like the crates the expansion uses must not capture its paths.

mod core {}
mod serde {}

#[ipc2::service]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
    #[ipc2(oneway)]
    async fn log(&self, line: String);
    fn square(&self, x: u64) -> u64;
}

struct MyCalc;

impl Calc for MyCalc {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }
    async fn log(&self, _line: String) {}
    fn square(&self, x: u64) -> u64 {
        x * x
    }
}

async fn _client(w: &CalcWorkers) -> Result<u32, ipc2::Error> {
    w.add(1, 2).await
}

fn _serve() {
    let _ = ipc2::worker::serve(CalcServer(MyCalc));
}

fn main() {
    _serve();
}
