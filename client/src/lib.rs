//! redwire-client: the async Redis client of redwire, written once for every runtime.
//!
//! A [`Client`] is a cheap, cloneable handle to one logical connection. Behind it a single
//! driver task runs the sans-IO state machine of `redwire-core` over sockets and timers from a
//! [`Runtime`]: the runtime crates (`redwire-tokio`, `redwire-async-std`, `redwire-smol`) supply
//! that trait and nothing else, and the `redwire` crate picks one with a feature flag.
//!
//! - Any number of tasks share the connection; what they queue while the driver is busy leaves
//!   in one write (auto-pipelining). [`Client::pipeline`] and [`Client::transaction`] are
//!   written contiguously and never split across connections.
//! - The connection heals itself: after a restart, a failover or a proxy dropping it, queued
//!   requests wait and go out on the next connection. Every request is answered exactly once,
//!   with its reply or an [`Error`] that says whether it was written ([`Error::was_written`]).
//! - [`Client::events`] streams every state transition with its typed [`CloseReason`].
//!
//! ```no_run
//! use redwire_client::{cmd, Client, ClientConfig, Error, Runtime, StateKind};
//!
//! async fn example(runtime: impl Runtime) -> Result<(), Error> {
//!     let config = ClientConfig::from_url("redis://127.0.0.1:6379/0")?;
//!     let client = Client::connect(runtime, config).await?;
//!     let mut events = client.events();
//!
//!     client.send(&cmd("SET").arg("greeting").arg("hello")).await?;
//!     let greeting: String = client.query(&cmd("GET").arg("greeting")).await?;
//!     assert_eq!(greeting, "hello");
//!
//!     // Several commands written back to back, answered together.
//!     let (a, b): (i64, i64) = client
//!         .pipeline()
//!         .cmd(cmd("INCR").arg("counter"))
//!         .cmd(cmd("INCR").arg("counter"))
//!         .query()
//!         .await?;
//!     assert_eq!(b, a + 1);
//!
//!     match client.query::<i64>(&cmd("INCR").arg("greeting")).await {
//!         Err(Error::Server(e)) => println!("typed server error: {}", e.code),
//!         other => println!("unexpected: {other:?}"),
//!     }
//!
//!     client.close().await;
//!     while let Some(t) = events.next().await {
//!         println!("{:?} -> {:?} ({:?})", t.from, t.to, t.reason);
//!     }
//!     assert_eq!(client.state(), StateKind::Closed);
//!     Ok(())
//! }
//! ```
//!
//! With the `tracing` feature, transitions are logged: reconnecting as a warning, failed as an
//! error, the rest at debug level.
//!
//! # Pub/Sub, keyspace events and invalidations
//!
//! [`Client::subscriber`] makes a [`Subscriber`]: it subscribes to channels, patterns and
//! shard channels, and streams typed [`PubSubEvent`]s through a bounded buffer (drop-oldest,
//! with a counted [`Received::Lagged`]). With RESP3 it shares the client's connection; with
//! RESP2 it opens a dedicated one. Subscriptions survive reconnects with no user action: they
//! are restored before any queued request, and the stream gets [`PubSubEvent::Gap`] (what was
//! published during the outage is lost) and [`PubSubEvent::Resubscribed`]. With
//! `CLIENT TRACKING ON` (RESP3; put it in [`ClientConfig::handshake_command`] so every new
//! connection turns it on again) invalidations arrive as [`PubSubEvent::Invalidate`]. See the
//! [`pubsub`] module for the details.
//!
//! ```no_run
//! use redwire_client::{cmd, Client, ClientConfig, Error, PubSubEvent, Received, Runtime};
//!
//! async fn listen(runtime: impl Runtime) -> Result<(), Error> {
//!     let client = Client::connect(runtime, ClientConfig::tcp("127.0.0.1", 6379)).await?;
//!     let mut subscriber = client.subscriber();
//!     subscriber.subscribe(&["news"]).await?;
//!     subscriber.psubscribe(&["__keyspace@0__:*"]).await?;
//!     client.send(&cmd("PUBLISH").arg("news").arg("hello")).await?;
//!     while let Some(received) = subscriber.next().await {
//!         match received {
//!             Received::Event(PubSubEvent::Message { channel, payload }) => {
//!                 println!("{channel:?}: {payload:?}")
//!             }
//!             Received::Event(PubSubEvent::Gap { from, to }) => {
//!                 println!("messages between {from:?} and {to:?} may be lost")
//!             }
//!             Received::Lagged(n) => println!("reading too slowly: {n} events dropped"),
//!             other => println!("{other:?}"),
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Other RESP3 push frames (none that Redis 7 sends unasked) are dropped, logged at debug
//! level with `tracing`.
#![warn(missing_docs)]

pub mod config;
mod driver;
mod error;
pub mod pubsub;
pub mod runtime;
mod shared;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::mpsc;
use futures_core::Stream;

pub use config::{ClientConfig, UrlError};
pub use error::Error;
pub use pubsub::{Received, Subscriber, SubscriberConfig};
pub use redwire_core::conn::{
    Backoff, CloseReason, Endpoint, Invalidation, ProtocolVersion, PubSubEvent, QueuePolicy,
    RequestOptions, StateKind, SubscriptionKind, Subscriptions, TimeoutKind, Transition,
};
pub use redwire_core::resp::{
    cmd, from_value, Cmd, ConversionError, FromValue, Limits, ServerError, ServerErrorCode, ToArg,
    Value,
};
pub use runtime::Runtime;

use redwire_core::conn::{Connection, Request};
use shared::{Msg, Shared, SlotId};

/// A handle to one multiplexed, self-healing connection. Clone it freely: every clone shares
/// the connection, and the connection closes gracefully when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

/// Dropped with the last [`Client`] clone: asks the driver to close.
struct Handle {
    shared: Arc<Shared>,
    /// Kept to open a dedicated Pub/Sub connection (RESP2).
    config: ClientConfig,
    runtime: Arc<dyn Runtime>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Already ended is fine: there is nothing left to close.
        let _ = self.shared.push(Msg::Close);
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts the connection on `runtime` and returns at once; the first connection is made in
    /// the background and requests queue until it is up (see [`ClientConfig`]'s queue policy).
    pub fn new(runtime: impl Runtime, config: ClientConfig) -> Client {
        Client::start(Arc::new(runtime), config)
    }

    /// Like [`Client::new`] for a runtime already shared.
    pub fn start(runtime: Arc<dyn Runtime>, config: ClientConfig) -> Client {
        // The unused stream is dropped here; the driver forgets it at its first transition.
        Client::launch(runtime, config).0
    }

    /// Spawns the driver, with an event stream that sees even the very first transition.
    fn launch(runtime: Arc<dyn Runtime>, config: ClientConfig) -> (Client, Events) {
        let shared = Arc::new(Shared::new());
        let (rx, state) = shared.subscribe();
        let events = Events { rx, state };
        let connection = Connection::new(config.clone().into_core(), runtime.now());
        let driver = driver::Driver::new(connection, runtime.clone(), shared.clone());
        runtime.spawn(Box::pin(driver));
        let client = Client {
            handle: Arc::new(Handle {
                shared,
                config,
                runtime,
            }),
        };
        (client, events)
    }

    /// Connects and waits until the connection is ready.
    ///
    /// Fails with [`Error::Connect`] and the typed reason if the first attempt fails (refused,
    /// timed out, authentication rejected...): a caller that wants to wait for a server that is
    /// not up yet uses [`Client::new`], which keeps retrying.
    pub async fn connect(runtime: impl Runtime, config: ClientConfig) -> Result<Client, Error> {
        let (client, mut events) = Client::launch(Arc::new(runtime), config);
        loop {
            let Some(t) = events.next().await else {
                return Err(Error::Closed);
            };
            match t.to {
                StateKind::Connected => return Ok(client),
                StateKind::Reconnecting | StateKind::Failed => {
                    // Dropping the only handle closes the connection and stops the driver.
                    return Err(t.reason.map(Error::Connect).unwrap_or(Error::Closed));
                }
                StateKind::Closed => return Err(Error::Closed),
                StateKind::Connecting | StateKind::Draining => {}
            }
        }
    }

    /// Sends one command; a server error reply becomes [`Error::Server`].
    ///
    /// The request is queued when `send` is called, not when the future is first polled, so
    /// several `send`s followed by a join are pipelined in call order. Dropping the future does
    /// not cancel the request: it is still written and answered, the answer is just not read.
    #[inline]
    pub fn send(&self, cmd: &Cmd) -> Reply<Value> {
        self.submit(Request::single(cmd), convert_value)
    }

    /// [`Client::send`], taking the command by value: its buffer is written as it is, without
    /// the copy (and allocation) that keeping a borrowed command usable costs.
    #[inline]
    pub fn send_owned(&self, cmd: Cmd) -> Reply<Value> {
        self.submit(Request::from(cmd), convert_value)
    }

    /// [`Client::send`] with per-request options (timeout, safe to retry).
    pub fn send_with(&self, cmd: &Cmd, options: RequestOptions) -> Reply<Value> {
        self.submit(Request::single(cmd).with_options(options), convert_value)
    }

    /// Sends one command and converts its reply to `T`.
    pub fn query<T: FromValue>(&self, cmd: &Cmd) -> Reply<T> {
        self.submit(Request::single(cmd), convert_to::<T>)
    }

    /// [`Client::query`], taking the command by value (see [`Client::send_owned`]).
    pub fn query_owned<T: FromValue>(&self, cmd: Cmd) -> Reply<T> {
        self.submit(Request::from(cmd), convert_to::<T>)
    }

    /// [`Client::query`] with per-request options (timeout, safe to retry).
    pub fn query_with<T: FromValue>(&self, cmd: &Cmd, options: RequestOptions) -> Reply<T> {
        self.submit(Request::single(cmd).with_options(options), convert_to::<T>)
    }

    /// Starts a pipeline: commands written contiguously and answered together.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            client: self.clone(),
            cmds: Vec::new(),
            options: RequestOptions::default(),
        }
    }

    /// Starts a `MULTI`/`EXEC` transaction, written as one unit.
    pub fn transaction(&self) -> Transaction {
        Transaction {
            client: self.clone(),
            cmds: vec![cmd("MULTI")],
            options: Default::default(),
        }
    }

    /// The connection's current state.
    pub fn state(&self) -> StateKind {
        self.handle.shared.state()
    }

    /// A stream of every state transition from now on, each with its typed reason. It ends
    /// when the connection is closed or failed for good.
    ///
    /// A transition made before the call is not in the stream: to wait for a state, check
    /// [`Events::state`] first (see there).
    pub fn events(&self) -> Events {
        let (rx, state) = self.handle.shared.subscribe();
        Events { rx, state }
    }

    /// Closes gracefully, for every clone: stops accepting requests, writes what is queued,
    /// waits for the outstanding replies (up to the drain timeout), then closes the socket.
    /// Returns once the connection is Closed (or Failed).
    pub async fn close(&self) {
        let (mut rx, state) = self.handle.shared.subscribe();
        if matches!(state, StateKind::Closed | StateKind::Failed) {
            return;
        }
        if self.handle.shared.push(Msg::Close).is_err() {
            return;
        }
        while let Some(t) = std::future::poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await {
            if matches!(t.to, StateKind::Closed | StateKind::Failed) {
                return;
            }
        }
    }

    #[inline]
    fn submit<T>(&self, request: Request, convert: fn(Value) -> Result<T, Error>) -> Reply<T> {
        let shared = &self.handle.shared;
        let state = match shared.push_request(request) {
            Some(slot) => ReplyState::Waiting(slot),
            // The reason stays in the shared state (it never changes once set): the future
            // reads it when polled, and stays small meanwhile.
            None => ReplyState::Ended,
        };
        Reply {
            shared: shared.clone(),
            state,
            convert,
            _t: PhantomData,
        }
    }
}

/// The answer to a request, converted to `T`.
///
/// The request is already queued; awaiting this only waits for its answer.
#[must_use = "the request is sent either way; await the reply to learn its outcome"]
pub struct Reply<T> {
    shared: Arc<Shared>,
    state: ReplyState,
    convert: fn(Value) -> Result<T, Error>,
    _t: PhantomData<fn() -> T>,
}

/// Kept small (no error inside): a reply future is moved into its caller's state on every
/// request.
#[derive(Clone, Copy)]
enum ReplyState {
    /// Owns this reply slot until the answer is read (or the future dropped).
    Waiting(SlotId),
    /// The driver had ended when the request was made; the reason is in the shared state.
    Ended,
    /// The answer was read (the slot is freed).
    Done,
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if let ReplyState::Waiting(slot) = self.state {
            self.shared.abandon(slot);
        }
    }
}

impl<T> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply").finish_non_exhaustive()
    }
}

impl<T> Future for Reply<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        let this = self.get_mut();
        match this.state {
            ReplyState::Waiting(slot) => {
                let polled = this.shared.poll_reply(slot, cx, this.convert);
                if polled.is_ready() {
                    // `poll_reply` freed the slot: it must not be abandoned as well.
                    this.state = ReplyState::Done;
                }
                polled
            }
            ReplyState::Ended => {
                this.state = ReplyState::Done;
                Poll::Ready(Err(this.shared.ended_error()))
            }
            ReplyState::Done => panic!("Reply polled after completion"),
        }
    }
}

fn convert_value(value: Value) -> Result<Value, Error> {
    match value {
        Value::Error(e) => Err(Error::Server(e)),
        v => Ok(v),
    }
}

fn convert_to<T: FromValue>(value: Value) -> Result<T, Error> {
    from_value(value).map_err(Error::from)
}

fn convert_replies(value: Value) -> Result<Vec<Value>, Error> {
    match value {
        Value::Array(replies) => Ok(replies),
        Value::Error(e) => Err(Error::Server(e)),
        other => Err(ConversionError {
            expected: "array of replies",
            found: other.type_name(),
        }
        .into()),
    }
}

/// The `EXEC` reply of a `MULTI ... EXEC` batch (its last reply).
fn exec_reply(value: Value) -> Result<Value, Error> {
    let mut replies = convert_replies(value)?;
    // A rejected MULTI (nested transaction) shows in its own reply; EXEC then fails too.
    if let Some(Value::Error(e)) = replies.first() {
        return Err(Error::Server(e.clone()));
    }
    match replies.pop() {
        Some(Value::Error(e)) => Err(Error::Server(e)),
        Some(v) => Ok(v),
        None => Err(ConversionError {
            expected: "EXEC reply",
            found: "empty batch",
        }
        .into()),
    }
}

fn convert_exec<T: FromValue>(value: Value) -> Result<T, Error> {
    convert_to(exec_reply(value)?)
}

/// Commands written contiguously and answered together (one round trip).
///
/// Built with [`Client::pipeline`]; nothing is sent until [`Pipeline::send`] or
/// [`Pipeline::query`].
#[derive(Debug, Clone)]
pub struct Pipeline {
    client: Client,
    cmds: Vec<Cmd>,
    options: RequestOptions,
}

impl Pipeline {
    /// Appends a command.
    pub fn cmd(mut self, cmd: Cmd) -> Self {
        self.cmds.push(cmd);
        self
    }
    /// Appends a command, for building in a loop.
    pub fn push(&mut self, cmd: Cmd) -> &mut Self {
        self.cmds.push(cmd);
        self
    }
    /// Number of commands so far.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }
    /// Whether no command was added.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
    /// Options for the whole pipeline (one timeout for all of it).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }
    /// Sends it; one reply per command, in order. Server error replies stay in the list as
    /// [`Value::Error`], since each command succeeds or fails on its own.
    pub fn send(&self) -> Reply<Vec<Value>> {
        self.client.submit(
            Request::batch(&self.cmds).with_options(self.options),
            convert_replies,
        )
    }
    /// Sends it and converts the array of replies (a tuple or a `Vec`, say); a server error in
    /// any reply becomes [`Error::Server`].
    pub fn query<T: FromValue>(&self) -> Reply<T> {
        self.client.submit(
            Request::batch(&self.cmds).with_options(self.options),
            convert_to::<T>,
        )
    }
}

/// A `MULTI`/`EXEC` transaction: its commands are written together with `MULTI` and `EXEC`,
/// and never split across connections.
///
/// Built with [`Client::transaction`].
#[derive(Debug, Clone)]
pub struct Transaction {
    client: Client,
    /// `MULTI` followed by the user's commands; `EXEC` is added when sending.
    cmds: Vec<Cmd>,
    options: RequestOptions,
}

impl Transaction {
    /// Appends a command.
    pub fn cmd(mut self, cmd: Cmd) -> Self {
        self.cmds.push(cmd);
        self
    }
    /// Appends a command, for building in a loop.
    pub fn push(&mut self, cmd: Cmd) -> &mut Self {
        self.cmds.push(cmd);
        self
    }
    /// Options for the whole transaction.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }
    fn request(&self) -> Request {
        let mut cmds = self.cmds.clone();
        cmds.push(cmd("EXEC"));
        Request::batch(&cmds).with_options(self.options)
    }
    /// Runs it; the reply of `EXEC`: an array with one reply per command, or `Null` when a
    /// `WATCH`ed key changed. A rejected transaction (`EXECABORT`) is [`Error::Server`].
    pub fn send(&self) -> Reply<Value> {
        self.client.submit(self.request(), exec_reply)
    }
    /// Runs it and converts the `EXEC` reply (a tuple of the commands' results, say).
    pub fn query<T: FromValue>(&self) -> Reply<T> {
        self.client.submit(self.request(), convert_exec::<T>)
    }
}

/// Every state transition of a connection, as a [`Stream`] or through [`Events::next`].
///
/// Events are buffered without bound (there are few); the stream ends when the connection
/// is closed or failed and its driver has stopped.
///
/// The stream starts at the state the connection was in when it was opened
/// ([`Events::state`]): a client started with [`Client::start`] may already be connected by
/// then, and that transition is not repeated. Waiting for a state therefore checks
/// [`Events::state`] before each transition, which misses nothing:
///
/// ```no_run
/// # async fn example(client: redwire_client::Client) {
/// use redwire_client::StateKind;
///
/// let mut events = client.events();
/// while events.state() != StateKind::Connected {
///     if events.next().await.is_none() {
///         return; // closed or failed for good
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Transition>,
    /// The state after the last transition returned, or when the stream was opened.
    state: StateKind,
}

impl Events {
    /// The next transition, or `None` once the connection has ended.
    pub async fn next(&mut self) -> Option<Transition> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The state the connection is in as far as this stream has told: the state after the
    /// last transition it returned, or, before the first, the state when it was opened.
    /// Every later transition is still to come from the stream, so a state checked here and
    /// then awaited through [`Events::next`] cannot be missed in between.
    pub fn state(&self) -> StateKind {
        self.state
    }
}

impl Stream for Events {
    type Item = Transition;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Transition>> {
        let next = Pin::new(&mut self.rx).poll_next(cx);
        if let Poll::Ready(Some(t)) = &next {
            self.state = t.to;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use redwire_core::conn::RequestError;

    use super::*;

    fn err(code: ServerErrorCode) -> ServerError {
        ServerError {
            code,
            message: "m".into(),
        }
    }

    #[test]
    fn handles_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Client>();
        send_sync::<Pipeline>();
        send_sync::<Transaction>();
        send_sync::<Error>();
        send::<Reply<Value>>();
        send::<Events>();
        send_sync::<Subscriber>();
    }

    fn noop_waker() -> std::task::Waker {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        std::task::Waker::from(Arc::new(Noop))
    }

    /// A reply future for `slot`, as `Client::send` makes it.
    fn reply_in(shared: &Arc<Shared>, slot: SlotId) -> Reply<Value> {
        Reply {
            shared: shared.clone(),
            state: ReplyState::Waiting(slot),
            convert: convert_value,
            _t: PhantomData,
        }
    }

    /// A reply future gives its slot back with its answer: the slot then serves the next
    /// request, and dropping the answered future does not disturb that request.
    #[test]
    fn an_answered_reply_lets_go_of_its_slot() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let shared = Arc::new(Shared::new());
        let ping = || Request::single(&cmd("PING"));
        let first = shared.push_request(ping()).unwrap();
        let mut reply = reply_in(&shared, first);
        assert!(Pin::new(&mut reply).poll(&mut cx).is_pending());
        shared.answer(&mut vec![(first, Ok(Value::Integer(1)))], &mut Vec::new());
        assert_eq!(
            Pin::new(&mut reply).poll(&mut cx),
            Poll::Ready(Ok(Value::Integer(1)))
        );
        let second = shared.push_request(ping()).unwrap();
        drop(reply);
        shared.answer(&mut vec![(second, Ok(Value::Integer(2)))], &mut Vec::new());
        assert_eq!(
            shared.poll_reply(second, &mut cx, Ok),
            Poll::Ready(Ok(Value::Integer(2)))
        );
    }

    /// A reply future made after the driver ended gives the reason it ended, read from the
    /// shared state when polled.
    #[test]
    fn a_reply_after_the_end_gives_the_reason() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let shared = Arc::new(Shared::new());
        drop(shared.end(shared::Ended::Failed(CloseReason::PeerClosed)));
        assert!(shared.push_request(Request::single(&cmd("PING"))).is_none());
        let mut reply: Reply<Value> = Reply {
            shared: shared.clone(),
            state: ReplyState::Ended,
            convert: convert_value,
            _t: PhantomData,
        };
        assert_eq!(
            Pin::new(&mut reply).poll(&mut cx),
            Poll::Ready(Err(Error::Failed(CloseReason::PeerClosed)))
        );
    }

    /// Polling a reply future again after its answer is a bug of the caller's, reported as
    /// such rather than answered with an error that would look like the driver's.
    #[test]
    #[should_panic(expected = "Reply polled after completion")]
    fn a_reply_polled_after_its_answer_panics() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let shared = Arc::new(Shared::new());
        let slot = shared.push_request(Request::single(&cmd("PING"))).unwrap();
        let mut reply = reply_in(&shared, slot);
        shared.answer(&mut vec![(slot, Ok(Value::Integer(1)))], &mut Vec::new());
        assert!(Pin::new(&mut reply).poll(&mut cx).is_ready());
        let _ = Pin::new(&mut reply).poll(&mut cx);
    }

    #[test]
    fn server_error_replies_become_typed_errors() {
        assert_eq!(convert_value(Value::Integer(1)), Ok(Value::Integer(1)));
        assert_eq!(
            convert_value(Value::Error(err(ServerErrorCode::WrongType))),
            Err(Error::Server(err(ServerErrorCode::WrongType)))
        );
        assert_eq!(convert_to::<i64>(Value::Integer(7)), Ok(7));
        assert!(matches!(
            convert_to::<i64>(Value::Null),
            Err(Error::Conversion(_))
        ));
    }

    #[test]
    fn pipeline_replies_keep_per_command_errors() {
        let replies = Value::Array(vec![
            Value::Integer(1),
            Value::Error(err(ServerErrorCode::Err)),
        ]);
        assert_eq!(convert_replies(replies).unwrap().len(), 2);
        assert!(matches!(
            convert_replies(Value::Integer(1)),
            Err(Error::Conversion(_))
        ));
    }

    #[test]
    fn transaction_reply_is_the_exec_reply() {
        let queued = || Value::SimpleString("QUEUED".into());
        let ok = Value::Array(vec![
            Value::SimpleString("OK".into()),
            queued(),
            queued(),
            Value::Array(vec![Value::Integer(1), Value::Integer(2)]),
        ]);
        assert_eq!(convert_exec::<(i64, i64)>(ok), Ok((1, 2)));
        // WATCH saw a change: EXEC answers null.
        let aborted = Value::Array(vec![
            Value::SimpleString("OK".into()),
            queued(),
            Value::Null,
        ]);
        assert_eq!(exec_reply(aborted), Ok(Value::Null));
        let rejected = Value::Array(vec![
            Value::SimpleString("OK".into()),
            Value::Error(err(ServerErrorCode::Err)),
            Value::Error(err(ServerErrorCode::ExecAbort)),
        ]);
        assert_eq!(
            exec_reply(rejected).unwrap_err().server_code(),
            Some(&ServerErrorCode::ExecAbort)
        );
        let nested = Value::Array(vec![
            Value::Error(err(ServerErrorCode::Err)),
            Value::Error(err(ServerErrorCode::ExecAbort)),
        ]);
        assert_eq!(
            exec_reply(nested).unwrap_err().server_code(),
            Some(&ServerErrorCode::Err)
        );
    }

    #[test]
    fn request_errors_keep_their_information() {
        let reason = CloseReason::PeerClosed;
        let cases = [
            (RequestError::ConnectionLost(reason.clone()), true),
            (RequestError::Timeout { written: true }, true),
            (RequestError::Timeout { written: false }, false),
            (RequestError::QueueFull, false),
            (RequestError::NotConnected(Some(reason.clone())), false),
            (RequestError::Failed(reason.clone()), false),
            (RequestError::Closed, false),
        ];
        for (core, written) in cases {
            let e = Error::from(core.clone());
            assert_eq!(e.was_written(), written, "{core:?}");
            assert_eq!(e.was_written(), core.was_written(), "{core:?}");
        }
        assert_eq!(
            Error::from(RequestError::ConnectionLost(reason.clone())).close_reason(),
            Some(&reason)
        );
    }
}
