//! What a handler gives back: [`Answer`], and [`Stream`], a service method's stream of items.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;

/// The items a streaming service method answers with: any `futures::Stream` of them, boxed.
///
/// A method declared `async fn lines(&self, script: String) -> ipc2::Stream<Line>` returns one
/// of these; the caller reads a `ReplyStream` of `Result<Line, ipc2::Error>`. The items are sent
/// as the host's window allows, so a stream that produces faster than its caller reads is polled
/// no further meanwhile; when the caller drops its end, this stream is dropped.
///
/// ```
/// let numbers = ipc2::Stream::iter(1..=3);
/// let words = ipc2::Stream::new(futures_util::stream::iter(["a", "b"]));
/// # let _ = (numbers, words);
/// ```
pub struct Stream<T> {
    items: Pin<Box<dyn futures_util::Stream<Item = T> + Send + 'static>>,
}

impl<T> Stream<T> {
    /// The items `stream` yields.
    pub fn new(stream: impl futures_util::Stream<Item = T> + Send + 'static) -> Self {
        Self {
            items: Box::pin(stream),
        }
    }

    /// The items of `items`, one after another.
    pub fn iter<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Self::new(futures_util::stream::iter(items))
    }

    /// Each item turned into another by `f`. Used by `#[ipc2::service]` to wrap items in the
    /// service's response enum.
    pub fn map<U>(self, f: impl FnMut(T) -> U + Send + 'static) -> Stream<U>
    where
        T: 'static,
        U: 'static,
    {
        Stream::new(self.items.map(f))
    }
}

impl<T> futures_util::Stream for Stream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.items.as_mut().poll_next(cx)
    }
}

impl<T> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").finish_non_exhaustive()
    }
}

/// How a [`Dispatch`](crate::Dispatch) answers one request.
#[derive(Debug)]
pub enum Answer<R> {
    /// No answer: the request was one-way.
    None,
    /// One reply.
    Reply(R),
    /// A stream of replies, sent as the host reads them.
    Stream(Stream<R>),
}

impl<R: 'static> Answer<R> {
    /// The answer with its reply, or each of its items, turned into another type by `f`.
    pub fn map<U: 'static>(self, f: fn(R) -> U) -> Answer<U> {
        match self {
            Answer::None => Answer::None,
            Answer::Reply(reply) => Answer::Reply(f(reply)),
            Answer::Stream(items) => Answer::Stream(items.map(f)),
        }
    }
}
