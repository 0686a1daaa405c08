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

#[renamed::service(crate = "renamed")]
pub trait Store {
    async fn get(&self, key: ::std::string::String) -> ::std::option::Option<u8>;
}

renamed::combine!(#[ipc2(crate = "renamed")] pub Tools: Calc, Store);

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

impl Store for MyCalc {
    async fn get(&self, _key: ::std::string::String) -> ::std::option::Option<u8> {
        ::std::option::Option::None
    }
}

async fn _tools(t: &ToolsWorkers) -> ::std::result::Result<u32, renamed::Error> {
    t.get(::std::string::String::new()).await?;
    t.add(1, 2).await
}

fn _serve() {
    let _ = renamed::worker::serve(CalcServer(MyCalc));
    let _ = renamed::worker::serve(ToolsServer(CalcServer(MyCalc), StoreServer(MyCalc)));
}

fn main() {
    _serve();
}
