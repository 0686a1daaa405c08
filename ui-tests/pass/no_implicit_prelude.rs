// Generated code uses absolute paths only: it compiles without the prelude and with the facade
// reachable only under another name.

#![no_implicit_prelude]

extern crate ipc2 as renamed;

#[renamed::service(crate = "renamed")]
pub trait Calc {
    async fn add(&self, a: u32, b: u32) -> u32;
    async fn div(&self, a: i64, b: i64) -> ::std::result::Result<i64, ::std::string::String>;
    async fn reset(&self);
    #[ipc2(oneway)]
    async fn log(&self, line: ::std::string::String);
    fn square(&self, x: u64) -> u64;
}

struct MyCalc;

impl Calc for MyCalc {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }
    async fn div(&self, a: i64, b: i64) -> ::std::result::Result<i64, ::std::string::String> {
        ::std::result::Result::Ok(a / b)
    }
    async fn reset(&self) {}
    async fn log(&self, _line: ::std::string::String) {}
    fn square(&self, x: u64) -> u64 {
        x * x
    }
}

async fn _client(w: &CalcWorkers) -> ::std::result::Result<u32, renamed::Error> {
    w.reset().await?;
    w.log(::std::string::String::new()).await?;
    w.add(1, 2).await
}

fn _serve() {
    let _ = renamed::worker::serve(CalcServer(MyCalc));
}

fn main() {
    _serve();
}
