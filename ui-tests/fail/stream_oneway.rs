#[ipc2::service]
pub trait Eval {
    #[ipc2(oneway)]
    async fn run(&self, script: String) -> ipc2::Stream<String>;
}

fn main() {}
