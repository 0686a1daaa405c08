//! Compiles and runs expansions against a stand-in for the `ipc2` facade.
//!
//! The real facade depends on this crate, so this crate cannot depend on it; the `stub` module
//! below has the same paths and signatures as the runtime items the generated code names
//! (`__private::{serde, Answer, Call, Dispatch, Error, NoEvents, Policy, ReplyStream,
//! ServiceEvent, WorkerSet, unexpected_reply, UnixListener}`).
//! The client is wired straight to the server, so one test exercises request building, dispatch,
//! and reply matching end to end, without processes. The trybuild cases in the workspace's
//! `ui-tests/` cover the real facade.
//!
//! The lints below are denied so that a warning in generated code fails this test, and
//! `cargo clippy --all-targets` checks the expansion against clippy's lints too.

#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unused_qualifications,
    rust_2018_idioms
)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Stand-in for the `ipc2` facade.
pub mod stub {
    /// The facade's error type.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Error(pub String);

    /// Items only generated code names.
    pub mod __private {
        use std::future::Future;

        pub use super::Error;
        pub use serde;
        pub use serde_bytes;

        /// Runs synchronous work.
        pub fn run_blocking<T>(work: impl FnOnce() -> T) -> T {
            work()
        }

        /// The set of workers; only its type matters here.
        #[derive(Debug)]
        pub struct WorkerSet<S, R, W, E>(std::marker::PhantomData<(S, R, W, E)>);

        /// The event type of a service without events.
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        pub enum NoEvents {}

        /// A service's event type, by its request type.
        pub trait ServiceEvent {
            /// The event type.
            type Event;
        }

        /// The default transport.
        #[derive(Debug)]
        pub struct UnixListener;

        /// A call's options; only its type matters here.
        #[derive(Debug)]
        pub struct Policy;

        /// A streaming call's items; only its type matters here.
        #[derive(Debug)]
        pub struct ReplyStream<T>(pub Vec<T>);

        /// How a dispatch answers.
        #[derive(Debug)]
        pub enum Answer<R> {
            /// One-way.
            None,
            /// One reply.
            Reply(R),
        }

        /// Sends jobs of type `W` and turns replies of type `R` into results.
        pub trait Call<W, R> {
            /// What a call gives back for a result `T`.
            type Output<T: Send + 'static>: Send;
            /// Sends a job and turns its reply into the result with `reply`.
            fn call<T, F>(
                &self,
                job: W,
                policy: Option<Policy>,
                reply: F,
            ) -> impl Future<Output = Self::Output<T>> + Send
            where
                T: Send + 'static,
                F: Fn(R) -> Result<T, Error> + Send + Sync + 'static;
            /// Sends a job without waiting for a reply.
            fn call_oneway(&self, job: W) -> impl Future<Output = Self::Output<()>> + Send;
            /// Sends a streaming job.
            fn call_stream<T, F>(
                &self,
                job: W,
                policy: Option<Policy>,
                item: F,
            ) -> impl Future<Output = Self::Output<ReplyStream<T>>> + Send
            where
                T: Send + 'static,
                F: Fn(R) -> Result<T, Error> + Send + Sync + 'static;
        }

        /// Runs requests against a service implementation.
        pub trait Dispatch: Send + Sync + 'static {
            /// The request type.
            type Request: serde::de::DeserializeOwned + Send + 'static;
            /// The response type.
            type Response: serde::Serialize + Send + 'static;
            /// The event type.
            type Event: serde::Serialize + Send + 'static;
            /// Runs one request.
            fn dispatch(
                &self,
                request: Self::Request,
            ) -> impl Future<Output = Answer<Self::Response>> + Send;
        }

        /// The error for a reply of the wrong variant.
        pub fn unexpected_reply(service: &'static str, method: &'static str) -> Error {
            Error(format!("unexpected reply to {service}::{method}"))
        }
    }
}

/// A client wired straight to a server, standing in for a `WorkerSet`.
#[derive(Debug)]
pub struct Direct<D>(pub D);

impl<D: stub::__private::Dispatch> stub::__private::Call<D::Request, D::Response> for Direct<D> {
    type Output<T: Send + 'static> = Result<T, stub::Error>;

    async fn call<T, F>(
        &self,
        job: D::Request,
        _: Option<stub::__private::Policy>,
        reply: F,
    ) -> Result<T, stub::Error>
    where
        T: Send + 'static,
        F: Fn(D::Response) -> Result<T, stub::Error> + Send + Sync + 'static,
    {
        match self.0.dispatch(job).await {
            stub::__private::Answer::Reply(response) => reply(response),
            stub::__private::Answer::None => Err(stub::Error("no reply".into())),
        }
    }

    async fn call_oneway(&self, job: D::Request) -> Result<(), stub::Error> {
        match self.0.dispatch(job).await {
            stub::__private::Answer::None => Ok(()),
            stub::__private::Answer::Reply(_) => Err(stub::Error("reply to a one-way call".into())),
        }
    }

    async fn call_stream<T, F>(
        &self,
        _: D::Request,
        _: Option<stub::__private::Policy>,
        _: F,
    ) -> Result<stub::__private::ReplyStream<T>, stub::Error>
    where
        T: Send + 'static,
        F: Fn(D::Response) -> Result<T, stub::Error> + Send + Sync + 'static,
    {
        Err(stub::Error("the stub does not stream".into()))
    }
}

/// Always answers with a fixed reply, to reach the client's "unexpected reply" arm.
#[derive(Debug)]
pub struct Fixed<R>(pub fn() -> R);

impl<W: Send, R: Send> stub::__private::Call<W, R> for Fixed<R> {
    type Output<T: Send + 'static> = Result<T, stub::Error>;

    fn call<T, F>(
        &self,
        _: W,
        _: Option<stub::__private::Policy>,
        reply: F,
    ) -> impl Future<Output = Result<T, stub::Error>> + Send
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, stub::Error> + Send + Sync + 'static,
    {
        let outcome = reply((self.0)());
        async move { outcome }
    }

    async fn call_oneway(&self, _: W) -> Result<(), stub::Error> {
        Ok(())
    }

    async fn call_stream<T, F>(
        &self,
        _: W,
        _: Option<stub::__private::Policy>,
        item: F,
    ) -> Result<stub::__private::ReplyStream<T>, stub::Error>
    where
        T: Send + 'static,
        F: Fn(R) -> Result<T, stub::Error> + Send + Sync + 'static,
    {
        Ok(stub::__private::ReplyStream(vec![item((self.0)())?]))
    }
}

/// Polls a future that never waits to completion.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("stub futures never wait"),
    }
}

/// Error type of a fallible method.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DivByZero;

/// A calculator.
#[ipc2_macros::service(crate = "crate::stub")]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: u32, b: u32) -> u32;
    /// Divides.
    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero>;
    /// Resets the running total.
    async fn reset(&self);
    /// Logs a line.
    #[ipc2(oneway)]
    async fn log(&self, line: String);
    /// Squares, synchronously.
    fn square(&self, mut x: u64) -> u64;
    /// Notes a value, synchronously and one-way.
    #[ipc2(oneway)]
    fn note(&self, value: Vec<u8>) -> ();
}

#[derive(Debug, Default)]
struct MyCalc {
    log: std::sync::Mutex<Vec<String>>,
}

impl Calc for MyCalc {
    async fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }

    async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero> {
        a.checked_div(b).ok_or(DivByZero)
    }

    async fn reset(&self) {}

    async fn log(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    fn square(&self, mut x: u64) -> u64 {
        x *= x;
        x
    }

    fn note(&self, value: Vec<u8>) {
        self.log.lock().unwrap().push(format!("{value:?}"));
    }
}

/// A service with one two-way method: its client's fallback arm must not warn.
#[ipc2_macros::service(crate = "crate::stub")]
pub trait Single {
    /// Echoes.
    async fn echo(&self, text: String) -> String;
}

/// A service with only one-way methods: an uninhabited response enum.
#[ipc2_macros::service(crate = "crate::stub")]
pub(crate) trait OnlyOneway {
    /// Fires.
    #[ipc2(oneway)]
    async fn fire(&self);
}

/// Arguments named like the generated code's own locals (`call`, `reply`, `request`), which
/// are `Span::mixed_site()` and so cannot capture or shadow them.
#[ipc2_macros::service(crate = "crate::stub")]
pub trait Shadow {
    /// Combines its arguments.
    async fn run(&self, call: u8, reply: u8, request: u8) -> u8;
}

/// Generated code must not depend on the prelude or on a local `core`.
#[no_implicit_prelude]
pub mod hygiene {
    /// Shadows `::core` for relative paths.
    pub mod core {}

    /// A service declared without the prelude.
    #[::ipc2_macros::service(crate = "crate::stub")]
    pub trait Hygienic {
        /// Counts.
        async fn count(&self, items: ::std::vec::Vec<::std::string::String>) -> usize;
        /// May fail.
        fn check(&self) -> ::core::result::Result<(), ::std::string::String>;
    }
}

fn assert_serde<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static>() {}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn client_calls_reach_the_server_and_return_its_replies() {
    let client = Direct(CalcServer(MyCalc::default()));
    assert_eq!(run(client.add(6, 7)), Ok(13));
    assert_eq!(run(client.div(7, 2)), Ok(Ok(3)));
    assert_eq!(run(client.div(7, 0)), Ok(Err(DivByZero)));
    assert_eq!(run(client.reset()), Ok(()));
    assert_eq!(run(client.square(9)), Ok(81));
    assert_eq!(run(client.log("hello".into())), Ok(()));
    assert_eq!(run(client.note(vec![1, 2])), Ok(()));
    assert_eq!(*client.0.0.log.lock().unwrap(), ["hello", "[1, 2]"]);
}

#[test]
fn client_wrong_variant_reply_is_an_error() {
    let client = Fixed(|| CalcResponse::Square(1));
    assert_eq!(
        run(client.add(1, 2)),
        Err(stub::Error("unexpected reply to Calc::add".into()))
    );
}

#[test]
fn single_method_service_round_trips() {
    let client = Direct(SingleServer(SingleImpl));
    assert_eq!(run(client.echo("hi".into())), Ok("hi".to_string()));
}

#[derive(Debug)]
struct SingleImpl;

impl Single for SingleImpl {
    async fn echo(&self, text: String) -> String {
        text
    }
}

#[test]
fn oneway_only_service_dispatches_without_reply() {
    struct Fire;
    impl OnlyOneway for Fire {
        async fn fire(&self) {}
    }
    let client = Direct(OnlyOnewayServer(Fire));
    assert_eq!(run(client.fire()), Ok(()));
}

#[test]
fn arguments_named_like_generated_locals_reach_the_method() {
    struct Impl;
    impl Shadow for Impl {
        async fn run(&self, call: u8, reply: u8, request: u8) -> u8 {
            call * 100 + reply * 10 + request
        }
    }
    let client = Direct(ShadowServer(Impl));
    assert_eq!(run(client.run(1, 2, 3)), Ok(123));
}

#[test]
fn hygienic_service_round_trips() {
    struct Impl;
    impl hygiene::Hygienic for Impl {
        async fn count(&self, items: Vec<String>) -> usize {
            items.len()
        }
        fn check(&self) -> Result<(), String> {
            Err("no".into())
        }
    }
    use hygiene::HygienicClient;
    let client = Direct(hygiene::HygienicServer(Impl));
    assert_eq!(run(client.count(vec!["a".into()])), Ok(1));
    assert_eq!(run(client.check()), Ok(Err("no".into())));
}

#[test]
fn generated_types_are_serde_and_futures_are_send() {
    assert_serde::<CalcRequest>();
    assert_serde::<CalcResponse>();
    assert_serde::<OnlyOnewayRequest>();
    assert_serde::<OnlyOnewayResponse>();
    let client = Direct(CalcServer(MyCalc::default()));
    assert_send(&client.add(1, 2));
    assert_send(&client.log(String::new()));
    let _: Option<CalcWorkers> = None;
    let _: Option<CalcWorkers<()>> = None;
    assert_eq!(
        format!("{:?}", CalcRequest::Add { a: 1, b: 2 }),
        "Add { a: 1, b: 2 }"
    );
    assert_eq!(format!("{:?}", CalcRequest::Reset), "Reset");
}
