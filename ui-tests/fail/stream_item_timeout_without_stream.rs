#[ipc2::service]
pub trait Eval {
    #[ipc2(item_timeout = "1s")]
    async fn run(&self, script: String) -> String;
    #[ipc2(item_timeout = "soon")]
    async fn lines(&self, script: String) -> ipc2::Stream<String>;
    #[ipc2(idempotent)]
    async fn again(&self, script: String) -> ipc2::Stream<String>;
}

fn main() {}
