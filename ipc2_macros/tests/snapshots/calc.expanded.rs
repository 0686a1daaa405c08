pub trait Calc: ::core::marker::Send + ::core::marker::Sync + 'static {
    /// Adds two numbers.
    fn add(
        &self,
        a: u32,
        b: u32,
    ) -> impl ::core::future::Future<Output = u32> + ::core::marker::Send;
    fn div(
        &self,
        a: i64,
        b: i64,
    ) -> impl ::core::future::Future<
        Output = Result<i64, DivByZero>,
    > + ::core::marker::Send;
    fn reset(&self) -> impl ::core::future::Future<Output = ()> + ::core::marker::Send;
    fn log(
        &self,
        line: String,
    ) -> impl ::core::future::Future<Output = ()> + ::core::marker::Send;
    fn square(&self, x: u64) -> u64;
}
///A request to the [`Calc`] service: one variant per method, holding its arguments.
#[derive(
    ::core::fmt::Debug,
    ::ipc2::__private::serde::Serialize,
    ::ipc2::__private::serde::Deserialize,
)]
#[serde(crate = "::ipc2::__private::serde")]
#[allow(clippy::large_enum_variant)]
pub enum CalcRequest {
    ///Request for [`Calc::add`].
    #[serde(rename = "add")]
    Add {
        ///Argument `a` of [`Calc::add`].
        a: u32,
        ///Argument `b` of [`Calc::add`].
        b: u32,
    },
    ///Request for [`Calc::div`].
    #[serde(rename = "div")]
    Div {
        ///Argument `a` of [`Calc::div`].
        a: i64,
        ///Argument `b` of [`Calc::div`].
        b: i64,
    },
    ///Request for [`Calc::reset`].
    #[serde(rename = "reset")]
    Reset,
    ///Request for [`Calc::log`].
    #[serde(rename = "log")]
    Log {
        ///Argument `line` of [`Calc::log`].
        line: String,
    },
    ///Request for [`Calc::square`].
    #[serde(rename = "square")]
    Square {
        ///Argument `x` of [`Calc::square`].
        x: u64,
    },
}
///A reply from the [`Calc`] service: one variant per method that answers.
#[derive(
    ::core::fmt::Debug,
    ::ipc2::__private::serde::Serialize,
    ::ipc2::__private::serde::Deserialize,
)]
#[serde(crate = "::ipc2::__private::serde")]
#[allow(clippy::large_enum_variant)]
pub enum CalcResponse {
    ///Reply to [`Calc::add`].
    #[serde(rename = "add")]
    Add(u32),
    ///Reply to [`Calc::div`].
    #[serde(rename = "div")]
    Div(Result<i64, DivByZero>),
    ///Reply to [`Calc::reset`].
    #[serde(rename = "reset")]
    Reset(()),
    ///Reply to [`Calc::square`].
    #[serde(rename = "square")]
    Square(u64),
}
/**Calls the [`Calc`] service on workers: each method sends its request and, unless it is one-way, waits for the reply.

Implemented for [`CalcWorkers`] (a method gives `Result<T, ipc2::Error>`) and for every other type that can send [`CalcRequest`]s: the set's `with_timeout(..)` and `on(worker)` views (the same), and its `on_all()` view (each worker's result, by slot id).*/
pub trait CalcClient: ::ipc2::__private::Call<CalcRequest, CalcResponse> {
    /// Adds two numbers.
    fn add(
        &self,
        a: u32,
        b: u32,
    ) -> impl ::core::future::Future<
        Output = <Self as ::ipc2::__private::Call<
            CalcRequest,
            CalcResponse,
        >>::Output<u32>,
    > + ::core::marker::Send;
    ///Calls [`Calc::div`] on a worker and waits for its reply.
    fn div(
        &self,
        a: i64,
        b: i64,
    ) -> impl ::core::future::Future<
        Output = <Self as ::ipc2::__private::Call<
            CalcRequest,
            CalcResponse,
        >>::Output<Result<i64, DivByZero>>,
    > + ::core::marker::Send;
    ///Calls [`Calc::reset`] on a worker and waits for its reply.
    fn reset(
        &self,
    ) -> impl ::core::future::Future<
        Output = <Self as ::ipc2::__private::Call<CalcRequest, CalcResponse>>::Output<()>,
    > + ::core::marker::Send;
    ///Sends [`Calc::log`] to a worker without waiting for it to run.
    fn log(
        &self,
        line: String,
    ) -> impl ::core::future::Future<
        Output = <Self as ::ipc2::__private::Call<CalcRequest, CalcResponse>>::Output<()>,
    > + ::core::marker::Send;
    ///Calls [`Calc::square`] on a worker and waits for its reply.
    fn square(
        &self,
        x: u64,
    ) -> impl ::core::future::Future<
        Output = <Self as ::ipc2::__private::Call<
            CalcRequest,
            CalcResponse,
        >>::Output<u64>,
    > + ::core::marker::Send;
}
/**A set of worker processes serving [`Calc`]; call its methods through [`CalcClient`].

The raw `send`/`Job` API of the set stays available.*/
pub type CalcWorkers<S = ::ipc2::__private::UnixListener> = ::ipc2::__private::WorkerSet<
    S,
    CalcResponse,
    CalcRequest,
    ::ipc2::__private::NoEvents,
>;
/**Wraps an implementation of [`Calc`] so the worker runtime can serve it: `ipc2::worker::serve(CalcServer(MyImpl)).await`.

Each request runs the matching method. Methods declared without `async` are CPU work: on a multi-threaded runtime they run with `block_in_place`, so the worker's I/O (heartbeats, cancellation) goes on meanwhile.*/
#[derive(
    ::core::fmt::Debug,
    ::core::clone::Clone,
    ::core::marker::Copy,
    ::core::default::Default,
)]
pub struct CalcServer<T>(
    ///The service implementation.
    pub T,
);
const _: () = {
    #[automatically_derived]
    #[allow(unused_qualifications, deprecated)]
    impl<__Caller> CalcClient for __Caller
    where
        __Caller: ::ipc2::__private::Call<CalcRequest, CalcResponse>
            + ::core::marker::Sync,
    {
        fn add(
            &self,
            a: u32,
            b: u32,
        ) -> impl ::core::future::Future<
            Output = <Self as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::Output<u32>,
        > + ::core::marker::Send {
            <__Caller as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::call(
                self,
                CalcRequest::Add { a, b },
                ::core::option::Option::None,
                |reply| match reply {
                    CalcResponse::Add(reply) => ::core::result::Result::Ok(reply),
                    #[allow(unreachable_patterns)]
                    _ => {
                        ::core::result::Result::Err(
                            ::ipc2::__private::unexpected_reply("Calc", "add"),
                        )
                    }
                },
            )
        }
        fn div(
            &self,
            a: i64,
            b: i64,
        ) -> impl ::core::future::Future<
            Output = <Self as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::Output<Result<i64, DivByZero>>,
        > + ::core::marker::Send {
            <__Caller as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::call(
                self,
                CalcRequest::Div { a, b },
                ::core::option::Option::None,
                |reply| match reply {
                    CalcResponse::Div(reply) => ::core::result::Result::Ok(reply),
                    #[allow(unreachable_patterns)]
                    _ => {
                        ::core::result::Result::Err(
                            ::ipc2::__private::unexpected_reply("Calc", "div"),
                        )
                    }
                },
            )
        }
        fn reset(
            &self,
        ) -> impl ::core::future::Future<
            Output = <Self as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::Output<()>,
        > + ::core::marker::Send {
            <__Caller as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::call(
                self,
                CalcRequest::Reset,
                ::core::option::Option::None,
                |reply| match reply {
                    CalcResponse::Reset(reply) => ::core::result::Result::Ok(reply),
                    #[allow(unreachable_patterns)]
                    _ => {
                        ::core::result::Result::Err(
                            ::ipc2::__private::unexpected_reply("Calc", "reset"),
                        )
                    }
                },
            )
        }
        fn log(
            &self,
            line: String,
        ) -> impl ::core::future::Future<
            Output = <Self as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::Output<()>,
        > + ::core::marker::Send {
            <__Caller as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::call_oneway(self, CalcRequest::Log { line })
        }
        fn square(
            &self,
            x: u64,
        ) -> impl ::core::future::Future<
            Output = <Self as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::Output<u64>,
        > + ::core::marker::Send {
            <__Caller as ::ipc2::__private::Call<
                CalcRequest,
                CalcResponse,
            >>::call(
                self,
                CalcRequest::Square { x },
                ::core::option::Option::None,
                |reply| match reply {
                    CalcResponse::Square(reply) => ::core::result::Result::Ok(reply),
                    #[allow(unreachable_patterns)]
                    _ => {
                        ::core::result::Result::Err(
                            ::ipc2::__private::unexpected_reply("Calc", "square"),
                        )
                    }
                },
            )
        }
    }
    #[automatically_derived]
    #[allow(unused_qualifications, deprecated)]
    impl<__Impl: Calc> ::ipc2::__private::Dispatch for CalcServer<__Impl> {
        type Request = CalcRequest;
        type Response = CalcResponse;
        type Event = ::ipc2::__private::NoEvents;
        fn dispatch(
            &self,
            request: CalcRequest,
        ) -> impl ::core::future::Future<
            Output = ::ipc2::__private::Answer<CalcResponse>,
        > + ::core::marker::Send {
            async move {
                match request {
                    CalcRequest::Add { a, b } => {
                        ::ipc2::__private::Answer::Reply(
                            CalcResponse::Add(<__Impl as Calc>::add(&self.0, a, b).await),
                        )
                    }
                    CalcRequest::Div { a, b } => {
                        ::ipc2::__private::Answer::Reply(
                            CalcResponse::Div(<__Impl as Calc>::div(&self.0, a, b).await),
                        )
                    }
                    CalcRequest::Reset => {
                        <__Impl as Calc>::reset(&self.0).await;
                        ::ipc2::__private::Answer::Reply(CalcResponse::Reset(()))
                    }
                    CalcRequest::Log { line } => {
                        <__Impl as Calc>::log(&self.0, line).await;
                        ::ipc2::__private::Answer::None
                    }
                    CalcRequest::Square { x } => {
                        ::ipc2::__private::Answer::Reply(
                            CalcResponse::Square(
                                ::ipc2::__private::run_blocking(|| <__Impl as Calc>::square(
                                    &self.0,
                                    x,
                                )),
                            ),
                        )
                    }
                }
            }
        }
    }
    #[automatically_derived]
    impl ::ipc2::__private::ServiceEvent for CalcRequest {
        type Event = ::ipc2::__private::NoEvents;
    }
};
