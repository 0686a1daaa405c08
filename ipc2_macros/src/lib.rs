//! Implementation detail of the `ipc2` crate: the `#[ipc2::service]` attribute and the
//! `ipc2::combine!` macro.
//!
//! Use them through `ipc2`; this crate's version is pinned by `ipc2`, and its generated code
//! names only `::core` and `ipc2::__private` paths. Both macros are split like thiserror's and
//! serde's derives, each module owning one step:
//!
//! - `ast`: the models of the input (a service trait, a `combine!` list), parsed tolerantly;
//! - `attr`: the macros' own options (`crate = "..."`, `#[ipc2(oneway)]`, the call policy), their
//!   keywords, and the one duplicate-option check;
//! - `ctxt`: the error collector, so every independent error is reported in one compile;
//! - `valid`: the checks on a model, which report into the `ctxt`;
//! - `reserved`: `WorkerSet`'s method names, which service methods may not take, and the test
//!   that keeps them in step with `ipc2_host`;
//! - `expand`: the service pipeline and the service generator, one method per generated item;
//! - `combine`: the same for `combine!`;
//! - `emit`: pieces of output both generators emit;
//! - `fallback`: what is emitted instead when there are errors, so they do not cascade.

mod ast;
mod attr;
mod combine;
mod ctxt;
mod emit;
mod expand;
mod fallback;
mod reserved;
#[cfg(test)]
mod ui_cases;
mod valid;

use proc_macro::TokenStream;
use syn::{Item, parse_macro_input};

/// Turns a trait into a typed RPC service served by `ipc2` worker processes.
///
/// ```no_run
/// use std::time::Duration;
/// use ipc2::TimeoutAction;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// pub struct DivByZero;
///
/// #[ipc2::service]
/// pub trait Calc {
///     /// Adds two numbers.
///     async fn add(&self, a: u32, b: u32) -> u32;
///     /// Divides, with the service's own error.
///     async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero>;
///     /// Forgets everything.
///     async fn reset(&self);
///     /// Nobody waits for this one.
///     #[ipc2(oneway)]
///     async fn log(&self, line: String);
///     /// A synchronous method, run inline by the worker's dispatcher.
///     fn square(&self, x: u64) -> u64;
/// }
///
/// // Worker side.
/// struct MyCalc;
///
/// impl Calc for MyCalc {
///     async fn add(&self, a: u32, b: u32) -> u32 { a + b }
///     async fn div(&self, a: i64, b: i64) -> Result<i64, DivByZero> {
///         a.checked_div(b).ok_or(DivByZero)
///     }
///     async fn reset(&self) {}
///     async fn log(&self, line: String) { eprintln!("{line}") }
///     fn square(&self, x: u64) -> u64 { x * x }
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     if ipc2::worker::started_by_host() {
///         return Ok(ipc2::worker::serve(CalcServer(MyCalc)).await?);
///     }
///     // Host side.
///     let workers = CalcWorkers::builder()
///         .worker_count(2)
///         .worker_path(std::env::current_exe()?)
///         .finish()
///         .await?;
///     assert_eq!(workers.add(6, 7).await?, 13);
///     let limited = workers.with_timeout(Duration::from_secs(1), TimeoutAction::Restart);
///     assert_eq!(limited.square(12).await?, 144);
///     Ok(())
/// }
/// ```
///
/// # Generated items
///
/// For a trait `Calc`, with the trait's visibility:
///
/// - the trait itself, with each `async fn m(..) -> T` rewritten to
///   `fn m(..) -> impl Future<Output = T> + Send` and `Send + Sync + 'static` supertraits, so the
///   worker can run jobs on a multi-threaded runtime. Implement it with plain `async fn`s;
/// - `CalcRequest`: one variant per method holding its arguments (`Add { a, b }`, `Reset`);
/// - `CalcResponse`: one variant per method that replies, holding its return value
///   (`Add(u32)`, `Reset(())`);
/// - `CalcClient`: the same methods, implemented for anything that implements `ipc2`'s `Call`
///   for these two enums: on `CalcWorkers` and its `with_timeout(..)` and `on(worker)` views
///   each returns `Result<T, ipc2::Error>`; on `workers.on_all()` it runs on every worker and
///   returns each one's `(worker, Result<T, ipc2::Error>)`;
/// - `CalcWorkers<S = UnixListener>`: an alias for the `WorkerSet` carrying these enums and the
///   event type;
/// - `CalcServer<T>(pub T)`: wraps an `impl Calc` for `ipc2::worker::serve`;
/// - with `event = Progress`, the trait also gets `fn emit(event: Progress) -> Result<(),
///   ipc2::worker::Error>`, for handlers: `Self::emit(Progress { .. })`.
///
/// The request and response variants are named after the methods for serde
/// (`#[serde(rename = "add")]`; on the wire a variant is its index), so that a worker built from
/// another version of the service is refused at start with `method add: ...`.
///
/// # Methods
///
/// - `async fn m(&self, ..) -> T`: a call that waits for the reply; `-> ()` may be left out.
/// - `fn m(&self, ..) -> T` (not `async`): CPU work. The client still awaits the reply; the
///   worker runs the method with `tokio::task::block_in_place` on a multi-threaded runtime, so
///   its I/O (heartbeats, cancellation, other frames) goes on meanwhile (on a current-thread
///   runtime it simply runs). Such a method cannot be cancelled midway.
/// - `#[ipc2(oneway)]`: fire-and-forget; the client returns once the request is sent, and the
///   method must not return a value.
/// - `async fn m(&self, ..) -> ipc2::Stream<T>`: a streaming method. The worker returns any
///   stream of `T`s (`ipc2::Stream::new(stream)`); the client method returns an
///   `ipc2::host::ReplyStream<T>` of `Result<T, ipc2::Error>`s, with flow control and
///   cancellation when dropped. A return type whose last path segment is `Stream<T>` is taken to
///   be `ipc2::Stream<T>`, however it is imported. `#[ipc2(item_timeout = "1s")]` bounds the gap
///   between two items. Stream arguments, one-way streams and `idempotent` streams are compile
///   errors.
/// - Arguments are named (`x: T`; `mut x: T` is accepted and the `mut` is dropped from the
///   generated items, implementations may keep it). Argument and return types are owned,
///   `'static`, `Debug`, `Serialize` and `Deserialize`: references and `impl Trait` are rejected.
/// - `#[cfg(..)]` on a method is copied onto everything generated for it; doc comments and
///   `#[deprecated]` are copied onto the client method.
///
/// # Options
///
/// `#[ipc2::service(event = Progress)]` declares the type of the events the service's handlers
/// send the host: any owned `Serialize + Deserialize` type. A handler emits one with
/// `Self::emit(Progress { .. })` (checked at compile time; if one type implements two services,
/// `<Self as Calc>::emit(..)`) or `ipc2::worker::emit(..)` (checked when called); the host reads
/// `WorkerEvent<Progress>`s from `workers.events()`. Without it the event type is
/// `ipc2::NoEvents`, which has no values.
///
/// ```
/// #[derive(Debug, serde::Serialize, serde::Deserialize)]
/// pub struct Progress { pub percent: u8 }
///
/// #[ipc2::service(event = Progress)]
/// pub trait Convert {
///     async fn convert(&self, input: String) -> String;
/// }
///
/// struct Converter;
///
/// impl Convert for Converter {
///     async fn convert(&self, input: String) -> String {
///         let _ = Self::emit(Progress { percent: 50 });
///         input.to_uppercase()
///     }
/// }
///
/// async fn watch(workers: ConvertWorkers) {
///     let mut events = workers.events().expect("taken once");
///     while let Some(Ok(event)) = events.recv().await {
///         println!("worker {}: {}%", event.worker, event.event.percent);
///     }
/// }
/// # let _ = (watch, ConvertServer(Converter));
/// ```
///
/// `#[ipc2::service(crate = "path::to::ipc2")]` names the `ipc2` crate when it is not reachable
/// as `::ipc2` (renamed dependency, re-export), like serde's `crate = "..."`.
///
/// On methods, `#[ipc2(...)]` takes:
/// - `oneway`: nobody waits for the call (no reply variant; the method must return nothing);
/// - `timeout = "5s"` (`ms`, `s` or `m`): each call gets that long, then fails with `Timeout`;
/// - `on_timeout = "restart"` or `"error"` (the default): whether a timed-out call kills its
///   worker, or only fails and cancels the call;
/// - `idempotent`: the call is safe to run twice, so it is sent again once after a worker
///   crash; `retries = N` sets how many times.
///
/// `retries` without `idempotent`, `on_timeout` without `timeout`, and any of them on a `oneway`
/// method are compile errors.
///
/// # Errors
///
/// A misuse is a compile error on the offending tokens, and every independent one is reported at
/// once: generic traits or methods, argument patterns, references or `impl Trait` in arguments or
/// return types, a receiver other than `&self`, a method named like one of `WorkerSet`'s own
/// (`send`, `notify`, `shutdown`, ... which would shadow it), `#[ipc2(oneway)]` with a return
/// type, associated types, consts, macros or default bodies, two methods mapping to the same
/// variant name, `unsafe`/`extern`/`const`/variadic methods, unknown or repeated options, and
/// options that contradict each other (above).
#[proc_macro_attribute]
pub fn service(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as Item);
    expand::service(args.into(), &input).into()
}

/// Puts several `#[ipc2::service]` services on one worker set.
///
/// `ipc2::combine!(pub Tools: Calc, store::Store);` names each service by the path of its trait,
/// next to which its generated `…Request` and `…Response` types live. It generates, with the
/// given visibility, `ToolsRequest` and `ToolsResponse` enums wrapping each service's own, the
/// `ToolsWorkers<S = UnixListener>` set, on which every service's client methods work
/// (`tools.add(1, 2)`, `tools.put(key, value)`), and `ToolsServer`, which a worker serves with
/// one server per service, in the order named:
///
/// ```no_run
/// #[ipc2::service]
/// pub trait Calc {
///     async fn add(&self, a: u32, b: u32) -> u32;
/// }
///
/// #[ipc2::service]
/// pub trait Store {
///     async fn put(&self, key: String, value: String);
/// }
///
/// ipc2::combine!(pub Tools: Calc, Store);
///
/// struct MyCalc;
/// impl Calc for MyCalc {
///     async fn add(&self, a: u32, b: u32) -> u32 { a + b }
/// }
///
/// struct MyStore;
/// impl Store for MyStore {
///     async fn put(&self, _key: String, _value: String) {}
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     if ipc2::worker::started_by_host() {
///         let server = ToolsServer(CalcServer(MyCalc), StoreServer(MyStore));
///         return Ok(ipc2::worker::serve(server).await?);
///     }
///     let tools = ToolsWorkers::builder()
///         .worker_count(2)
///         .worker_path(std::env::current_exe()?)
///         .finish()
///         .await?;
///     assert_eq!(tools.add(1, 2).await?, 3);
///     tools.put("k".into(), "v".into()).await?;
///     Ok(())
/// }
/// ```
///
/// Besides `ToolsRequest` and `ToolsResponse` it generates `ToolsEvent`, with one variant per
/// service holding that service's event type (`ToolsEvent::Calc(Progress)`): each service's
/// handlers emit their own type, and the host reads `WorkerEvent<ToolsEvent>`s.
///
/// # Options
///
/// `ipc2::combine!(#[ipc2(crate = "path::to::ipc2")] pub Tools: Calc, Store);` names the `ipc2`
/// crate when it is not reachable as `::ipc2`, as `#[ipc2::service(crate = "...")]` does.
///
/// # Errors
///
/// Compile errors, all reported at once: an empty list, a service named twice (or two services
/// with the same last segment, which would be one variant), generic arguments on a service, a
/// set named like one of its services, any attribute other than `#[ipc2(crate = "...")]`, and
/// unknown, repeated or malformed options.
#[proc_macro]
pub fn combine(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as ast::CombineInput);
    combine::combine(&input).into()
}
