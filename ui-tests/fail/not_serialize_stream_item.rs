/// Not `Serialize`, nor `Deserialize`.
pub struct Line(pub String);

#[ipc2::service]
pub trait Eval {
    async fn run(&self, script: String) -> ipc2::Stream<Line>;
}

fn main() {}
