//! [`emit`]: events from inside a service's handlers, with no handle to pass around.
//!
//! [`serve`](crate::serve()) runs each handler inside a task-local scope that knows the service's
//! event type and how to send one. A service combined with others by `ipc2::combine!` gets a
//! scope of its own inside the combination's ([`with_events`]), which wraps each of its events in
//! the combination's event enum, so every service emits its own type and nothing is global.

use std::any::{Any, TypeId, type_name};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Serialize;

use crate::{Answer, Error, EventSender, Stream};

tokio::task_local! {
    static SCOPE: Scope;
}

/// Sends one event, given as `Box<dyn Any>`, of the scope's type.
type SendEvent = dyn Fn(Box<dyn Any + Send>) -> Result<(), Error> + Send + Sync;

/// The events the running handler may emit: their type, and how to send one.
#[derive(Clone)]
pub(crate) struct Scope {
    event: TypeId,
    event_name: &'static str,
    send: Arc<SendEvent>,
}

impl Scope {
    /// Events of type `E`, sent through `sender`.
    pub(crate) fn new<E: Serialize + Send + 'static>(sender: EventSender<E>) -> Self {
        Self::of::<E>(Arc::new(move |event: Box<dyn Any + Send>| {
            match event.downcast::<E>() {
                Ok(event) => sender.send(*event),
                Err(_) => Err(Error::EventType {
                    expected: type_name::<E>(),
                    emitted: "another type",
                }),
            }
        }))
    }

    fn of<E: 'static>(send: Arc<SendEvent>) -> Self {
        Self {
            event: TypeId::of::<E>(),
            event_name: type_name::<E>(),
            send,
        }
    }

    /// Runs `work` with this scope: what it emits goes through this scope.
    pub(crate) fn run<F: Future>(self, work: F) -> impl Future<Output = F::Output> {
        SCOPE.scope(self, work)
    }

    fn emit<E: Send + 'static>(&self, event: E) -> Result<(), Error> {
        if TypeId::of::<E>() != self.event {
            return Err(Error::EventType {
                expected: self.event_name,
                emitted: type_name::<E>(),
            });
        }
        (self.send)(Box::new(event))
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("event", &self.event_name)
            .finish_non_exhaustive()
    }
}

/// Sends `event` to the host from inside a handler of a service that [`serve`](crate::serve())
/// runs; the host reads it from `workers.events()`, tagged with this worker's id.
///
/// `E` must be the event type the service declares (`#[ipc2::service(event = Progress)]`);
/// anything else is [`Error::EventType`]. Called outside a handler (or from a task the handler
/// spawned, which does not inherit the handler's scope), it is [`Error::NotInHandler`]. A
/// handler can also write `Self::emit(event)`, which the service trait provides and which checks
/// the type at compile time.
///
/// ```no_run
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
///         let _ = ipc2::worker::emit(Progress { percent: 50 });
///         input.to_uppercase()
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), ipc2::worker::Error> {
///     ipc2::worker::serve(ConvertServer(Converter)).await
/// }
/// ```
pub fn emit<E: Send + 'static>(event: E) -> Result<(), Error> {
    SCOPE
        .try_with(|scope| scope.emit(event))
        .unwrap_or(Err(Error::NotInHandler))
}

/// Runs `work` (a combined service's handler) in a scope whose events, of type `E`, are wrapped by
/// `wrap` and sent through the current scope; a stream it answers with produces its items in that
/// scope too. Without a current scope `work` runs as it is. Used by `ipc2::combine!`.
#[doc(hidden)]
pub fn with_events<E, O, R, F>(wrap: fn(E) -> O, work: F) -> impl Future<Output = Answer<R>>
where
    E: Send + 'static,
    O: Send + 'static,
    R: 'static,
    F: Future<Output = Answer<R>>,
{
    let outer = SCOPE.try_with(Scope::clone).ok();
    let inner = outer.map(|outer| {
        Scope::of::<E>(Arc::new(move |event: Box<dyn Any + Send>| {
            match event.downcast::<E>() {
                Ok(event) => outer.emit(wrap(*event)),
                Err(_) => Err(Error::EventType {
                    expected: type_name::<E>(),
                    emitted: "another type",
                }),
            }
        }))
    });
    async move {
        let Some(scope) = inner else {
            return work.await;
        };
        match scope.clone().run(work).await {
            Answer::Stream(items) => Answer::Stream(Stream::new(Scoped { scope, items })),
            other => other,
        }
    }
}

/// A stream whose items are produced in `scope`.
struct Scoped<R> {
    scope: Scope,
    items: Stream<R>,
}

impl<R> futures_util::Stream for Scoped<R> {
    type Item = R;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R>> {
        let this = self.get_mut();
        SCOPE.sync_scope(this.scope.clone(), || {
            Pin::new(&mut this.items).poll_next(cx)
        })
    }
}
