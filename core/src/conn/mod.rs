//! The sans-IO connection state machine: one logical connection to a Redis server through
//! any number of physical sockets.
//!
//! The caller feeds [`Input`]s with the current time ([`Connection::handle_input`]),
//! submits [`Request`]s ([`Connection::submit`]), drains [`Output`]s
//! ([`Connection::poll_output`]) until there are none, and wakes the machine at
//! [`Connection::poll_timeout`]. The machine never touches a socket or a clock. See the
//! crate docs for the state table, the close reasons and a complete event loop.
//!
//! Files: `state` (states, their data, the table of legal edges), `reason` (why a
//! connection ended), `handshake`, `backoff` (delays and jitter), `queue` (pending
//! requests and their deadlines), `config`; this file holds the machine itself.

mod backoff;
mod config;
mod handshake;
mod pubsub;
mod queue;
mod reason;
mod state;

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use thiserror::Error;

pub use backoff::Jitter;
pub use config::{Backoff, Config, Endpoint, Password, ProtocolVersion, QueuePolicy};
pub use pubsub::{Invalidation, PubSubEvent, SubscriptionKind, Subscriptions};
pub use reason::{CloseReason, TimeoutKind};
pub use state::{Edge, StateDetail, StateKind, Transition, TRANSITIONS};

use crate::resp::encode::spare;
use crate::resp::{Cmd, Decoder, Value};
use handshake::{Handshake, Progress};
use pubsub::{PubSubCommand, Route};
use queue::{Deadlines, Entry, Slot, Waiter};
use state::{Connecting, Phase, State};

/// Identifies a submitted request; its answer carries the same id.
///
/// Ids grow with each submission; they are not necessarily consecutive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Per-request options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestOptions {
    /// Response timeout for this request (overrides [`Config::response_timeout`]), counted
    /// from [`Connection::submit`].
    pub timeout: Option<Duration>,
    /// Safe to send again if the connection drops after it was written (idempotent).
    pub retry_safe: bool,
}

/// One unit of work: one command, or several written contiguously and answered together.
///
/// Built from a [`Cmd`] moved in (`Request::from(cmd)`), it takes over the command's buffer:
/// nothing is allocated or copied until the bytes reach the connection's write buffer.
// In declaration order: the encoding's tag first, where a queue's own enum (the client's
// message, say) can hide its tag, so a request moved out of such a queue is copied as
// whole aligned words. With the fields reordered by the compiler, the tag went into the
// timeout's nanoseconds, twelve bytes in: the rest was copied from there in unaligned
// words, and the reads of the fields that followed straddled those copies' stores, which
// the processor cannot forward.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct Request {
    bytes: Encoded,
    replies: u32,
    /// A subscribe/unsubscribe command, answered by its confirmations (push frames in RESP3).
    pubsub: Option<PubSubCommand>,
    /// A batch holding a subscribe-family command: refused at submission.
    refused: bool,
    /// Options.
    pub options: RequestOptions,
}

impl Request {
    /// One command, answered with its reply.
    ///
    /// A subscribe-family command (`SUBSCRIBE`, `PUNSUBSCRIBE`... in any case) is recognised
    /// and treated as by [`Request::subscribe`] and [`Request::unsubscribe`], so its
    /// confirmations (push frames in RESP3) cannot be mistaken for other replies.
    pub fn single(cmd: &Cmd) -> Request {
        let bytes = Encoded::written(cmd.encoded_len(), |b| cmd.write_to(b));
        Request::one(bytes, Request::shape(cmd))
    }

    /// How a single command is answered: whether it is a subscribe-family command, how many
    /// replies answer it, and its default options.
    #[inline]
    fn shape(cmd: &Cmd) -> (Option<PubSubCommand>, u32, RequestOptions) {
        let pubsub = pubsub::command_of(cmd);
        let (replies, options) = match pubsub {
            None => (1, RequestOptions::default()),
            // One confirmation per name; without names, one error (or, for an unsubscribe,
            // a count settled at submission).
            Some(_) => (
                u32::try_from(cmd.argc().saturating_sub(1).max(1))
                    .expect("more than u32::MAX names"),
                RequestOptions {
                    timeout: None,
                    // Subscribing or unsubscribing twice is harmless.
                    retry_safe: true,
                },
            ),
        };
        (pubsub, replies, options)
    }

    /// A single command written as `bytes`, shaped by [`Request::shape`].
    #[inline]
    fn one(
        bytes: Encoded,
        (pubsub, replies, options): (Option<PubSubCommand>, u32, RequestOptions),
    ) -> Request {
        Request {
            bytes,
            replies,
            pubsub,
            refused: false,
            options,
        }
    }
    /// Several commands (a pipeline or a `MULTI`/`EXEC` transaction), written contiguously,
    /// never split across connections, and answered once with an [`Value::Array`] of their replies.
    ///
    /// An empty batch is answered at once with an empty array. A batch holding a
    /// subscribe-family command is answered at once with
    /// [`RequestError::SubscribeInBatch`] and not written.
    pub fn batch(cmds: &[Cmd]) -> Request {
        let len = cmds.iter().map(Cmd::encoded_len).sum();
        let bytes = Encoded::written(len, |b| cmds.iter().for_each(|c| c.write_to(b)));
        let replies = u32::try_from(cmds.len()).expect("more than u32::MAX commands in one batch");
        Request {
            bytes,
            replies,
            pubsub: None,
            refused: cmds.iter().any(|c| pubsub::command_of(c).is_some()),
            options: RequestOptions::default(),
        }
    }
    /// `SUBSCRIBE`, `PSUBSCRIBE` or `SSUBSCRIBE` these names. Answered once the server has
    /// confirmed every name, with an array of the confirmations, or with the server's error
    /// reply (an empty list gets Redis's "wrong number of arguments"). Marked safe to retry
    /// (subscribing twice is harmless).
    ///
    /// Subscribe-family commands are answered only as single requests: inside a
    /// [`Request::batch`] their confirmations are not counted.
    pub fn subscribe<N: crate::resp::ToArg>(kind: SubscriptionKind, names: &[N]) -> Request {
        Request::from(crate::resp::cmd(kind.subscribe_command()).args(names.iter()))
    }
    /// `UNSUBSCRIBE`, `PUNSUBSCRIBE` or `SUNSUBSCRIBE` these names; answered like
    /// [`Request::subscribe`]. An empty list means every subscription of that kind the
    /// connection has when the request is submitted (written as that list of names, so the
    /// number of confirmations is known; with none, Redis confirms once with a null name).
    pub fn unsubscribe<N: crate::resp::ToArg>(kind: SubscriptionKind, names: &[N]) -> Request {
        Request::from(crate::resp::cmd(kind.unsubscribe_command()).args(names.iter()))
    }
    /// Sets the options.
    pub fn with_options(mut self, options: RequestOptions) -> Request {
        self.options = options;
        self
    }
    /// The encoded commands, as they will be written.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }
    /// How many replies answer this request (the number of commands).
    pub fn reply_count(&self) -> u32 {
        self.replies
    }
}

impl From<Cmd> for Request {
    /// [`Request::single`], taking over the command's buffer instead of copying it.
    #[inline]
    fn from(mut cmd: Cmd) -> Request {
        let shape = Request::shape(&cmd);
        // The header goes into the command where it is, and its buffer is moved once: a
        // command moved into `Cmd::into_encoding` was copied through the stack on the way.
        let start = cmd.write_header();
        Request::one(Encoded::Owned(cmd.args, start), shape)
    }
}

/// A request's encoded bytes: still owned by it (written by copying into the write buffer,
/// which allocates nothing), or shared once handed out whole in a `Transmit`.
#[derive(Debug)]
pub(crate) enum Encoded {
    /// The buffer (given back for the next command when the request is done) and where the
    /// encoding starts in it.
    Owned(spare::Pooled, usize),
    Shared(Bytes),
}

/// A copy of an owned encoding goes into a recycled buffer: resubmitting a clone of a
/// prepared request allocates nothing at steady state.
impl Clone for Encoded {
    fn clone(&self) -> Encoded {
        match self {
            Encoded::Owned(b, start) => {
                let bytes = &b[*start..];
                Encoded::written(bytes.len(), |b| b.extend_from_slice(bytes))
            }
            Encoded::Shared(b) => Encoded::Shared(b.clone()),
        }
    }
}

impl Encoded {
    /// `len` bytes written by `write`, into a recycled command buffer when of ordinary size.
    fn written(len: usize, write: impl FnOnce(&mut BytesMut)) -> Encoded {
        let mut buf = if len <= spare::MAX_CAPACITY {
            spare::take()
        } else {
            spare::Pooled::default()
        };
        buf.reserve(len);
        write(&mut buf);
        Encoded::Owned(buf, 0)
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Encoded::Owned(b, start) => &b[*start..],
            Encoded::Shared(b) => b,
        }
    }

    /// The bytes as a shared buffer for a `Transmit`; the request keeps them for a retry.
    fn share(&mut self) -> Bytes {
        if let Encoded::Owned(b, start) = self {
            let mut bytes = std::mem::take(&mut **b).freeze();
            bytes::Buf::advance(&mut bytes, *start);
            *self = Encoded::Shared(bytes);
        }
        match self {
            Encoded::Shared(b) => b.clone(),
            Encoded::Owned(..) => unreachable!("just shared"),
        }
    }
}

impl From<Cmd> for Encoded {
    #[inline]
    fn from(mut cmd: Cmd) -> Encoded {
        let start = cmd.write_header();
        Encoded::Owned(cmd.args, start)
    }
}

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The connection dropped after the request was (at least partly) written: it may or may not have run.
    #[error("connection lost after the request was written: {0}")]
    ConnectionLost(CloseReason),
    /// No reply within the response timeout. `written` says whether it was handed to the
    /// socket (then it may still run).
    #[error("request timed out")]
    Timeout {
        /// Whether any of the request was handed out for writing.
        written: bool,
    },
    /// Too many requests are waiting for a connection; this one was not queued (not written).
    #[error("request queue is full")]
    QueueFull,
    /// No usable connection and the policy is fail-fast (not written).
    #[error("not connected (fail-fast): {0:?}")]
    NotConnected(Option<CloseReason>),
    /// The connection failed for good (not written).
    #[error("connection failed: {0}")]
    Failed(CloseReason),
    /// The connection was closed by the client (not written).
    #[error("connection closed")]
    Closed,
    /// A batch (pipeline or transaction) holds a subscribe-family command: in RESP3 its
    /// replies are push frames a batch cannot count, so it was refused (not written). Send
    /// it alone, as [`Request::subscribe`] does.
    #[error("subscribe-family commands cannot be batched")]
    SubscribeInBatch,
}

impl RequestError {
    /// Whether any byte of the request reached the socket (outcome unknown).
    pub fn was_written(&self) -> bool {
        matches!(
            self,
            RequestError::ConnectionLost(_) | RequestError::Timeout { written: true }
        )
    }
}

/// An input from the caller (each call carries `now` separately).
#[derive(Debug)]
pub enum Input<'a> {
    /// The socket asked for by [`Output::Open`] is open.
    SocketOpened,
    /// Opening the socket failed.
    OpenFailed(io::ErrorKind),
    /// Bytes arrived.
    Received(&'a [u8]),
    /// `n` bytes arrived and were appended directly to [`Connection::read_buf`]
    /// (the zero-copy alternative to [`Input::Received`]).
    ReceivedInPlace(usize),
    /// The peer closed the stream.
    Eof,
    /// Reading or writing failed.
    IoError(io::ErrorKind),
    /// `n` more bytes of what [`Output::Transmit`] handed out were accepted by the socket.
    ///
    /// This is how the machine knows which requests may have reached the server: when a
    /// connection is lost, a request with no confirmed byte is written again on the next
    /// one, so a driver that does not report writes risks running requests twice.
    Written(usize),
    /// The deadline from [`Connection::poll_timeout`] passed.
    Timeout,
    /// Close gracefully: stop accepting requests, finish what was accepted, then close.
    Close,
}

/// What the state machine asks the caller to do, or tells it.
#[derive(Debug)]
pub enum Output {
    /// Open a socket to this endpoint, then report [`Input::SocketOpened`] or [`Input::OpenFailed`].
    Open(Endpoint),
    /// Write these bytes, in order, reporting [`Input::Written`] as they are accepted.
    Transmit(Bytes),
    /// Close the socket, or give up opening it (this is why). Input about that socket
    /// must not be fed any more. Every [`Output::Open`] is followed by exactly one
    /// `CloseSocket`, unless [`Input::OpenFailed`] was reported for it.
    CloseSocket(CloseReason),
    /// The answer to a request.
    Reply {
        /// Which request.
        id: RequestId,
        /// Its reply (a server error reply is `Ok(Value::Error(..))`), or why there is none.
        result: Result<Value, RequestError>,
    },
    /// An out-of-band push frame not recognised as Pub/Sub data (messages, subscription
    /// confirmations and invalidations come typed from [`Connection::poll_pubsub`]).
    Push(Value),
    /// The state changed.
    Transition(Transition),
}

/// Requests at least this large are handed out as their own `Transmit` (their `Bytes`,
/// shared) instead of being copied into the write buffer.
const ZERO_COPY_MIN: usize = 16 * 1024;

/// `PING`, pre-encoded: the health check must not allocate.
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// One logical connection to Redis, through any number of physical sockets.
///
/// See the [crate docs](crate) for the states, the close reasons and an event loop.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    state: State,
    /// The latest `now` seen: time never goes backwards here even if the caller's does.
    now: Instant,
    rng: Jitter,
    next_id: u64,
    outputs: VecDeque<Output>,
    /// Accepted, not yet written, in submission order.
    queue: VecDeque<Entry>,
    /// Written, waiting for replies, in the order the replies will come.
    in_flight: VecDeque<Slot>,
    /// Replies collected so far for the front slot, when it is a batch (single requests
    /// never allocate here). Only the front slot collects: replies come in order.
    collected: Vec<Value>,
    /// Buffers of requests answered during the current read, given back to the thread's
    /// list together when the read is handled (or when [`ANSWERED_BATCH`] are waiting):
    /// never held across reads, so an idle connection keeps none.
    answered: spare::Batch,
    deadlines: Deadlines,
    /// One write buffer for the connection's life: handed out with `split().freeze()`, its
    /// allocation is reclaimed once the caller drops the `Bytes`.
    wbuf: BytesMut,
    rbuf: BytesMut,
    decoder: Decoder,
    socket_open: bool,
    /// `Open` was emitted and neither `SocketOpened` nor `OpenFailed` came back yet.
    opening: bool,
    /// Bytes of this socket handed out in `Transmit`s / confirmed by `Written`.
    handed: u64,
    confirmed: u64,
    last_received: Instant,
    last_sent: Instant,
    /// When `in_flight` last became non-empty (for unresponsive detection).
    awaiting_since: Option<Instant>,
    ping_deadline: Option<Instant>,
    protocol: Option<ProtocolVersion>,
    /// Subscriptions the server confirmed; restored on every new socket.
    subscriptions: Subscriptions,
    /// Pub/Sub events for [`Connection::poll_pubsub`].
    pubsub_events: VecDeque<PubSubEvent>,
    /// Events dropped because the caller did not drain them.
    pubsub_dropped: u64,
    /// When a subscribed connection was lost and not yet fully restored.
    gap_since: Option<Instant>,
    /// Restoring commands written right after the handshake, before any request, so their
    /// confirmations come first: (kind, names, confirmations still expected).
    restoring: VecDeque<(SubscriptionKind, Vec<Bytes>, usize)>,
}

/// Most Pub/Sub events held for [`Connection::poll_pubsub`]: a driver that never drains them
/// (say one that does not use Pub/Sub, talking to a server that pushes anyway) must not make
/// the connection grow without bound. Beyond it the oldest are dropped and counted.
const PUBSUB_EVENTS_LIMIT: usize = 64 * 1024;

/// Most answered requests' buffers held before they are given back (see
/// `Connection::answered`). Its room grows to this with the first reads that answer as many,
/// then stays: a connection that answers few requests keeps little room.
const ANSWERED_BATCH: usize = 32;

impl Connection {
    /// Starts connecting: the first output is [`Output::Open`], asked for at once. The
    /// machine starts in [`StateKind::Connecting`] (attempt 1); no transition is reported
    /// for entering it.
    pub fn new(config: Config, now: Instant) -> Connection {
        let state = State::Connecting(Connecting {
            attempt: 1,
            phase: Phase::Opening,
            deadline: now + config.connect_timeout,
            last_reason: None,
        });
        let mut outputs = VecDeque::new();
        outputs.push_back(Output::Open(config.endpoint.clone()));
        Connection {
            rng: Jitter::new(config.seed),
            decoder: Decoder::new(config.limits),
            config,
            state,
            now,
            next_id: 0,
            outputs,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            collected: Vec::new(),
            answered: spare::Batch::default(),
            deadlines: Deadlines::default(),
            wbuf: BytesMut::new(),
            rbuf: BytesMut::new(),
            socket_open: false,
            opening: true,
            handed: 0,
            confirmed: 0,
            last_received: now,
            last_sent: now,
            awaiting_since: None,
            ping_deadline: None,
            protocol: None,
            subscriptions: Subscriptions::default(),
            pubsub_events: VecDeque::new(),
            pubsub_dropped: 0,
            gap_since: None,
            restoring: VecDeque::new(),
        }
    }

    /// Feeds an input. Inputs that make no sense in the current state (bytes while no
    /// socket is open, a second `Close`...) are ignored.
    pub fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        self.input(input, now, &mut |conn: &mut Connection, id, value| {
            conn.reply(id, Ok(value))
        });
    }

    /// Feeds an input as [`handle_input`](Self::handle_input) does, but hands the replies
    /// it decodes to `on_reply` at once instead of queuing each as an [`Output::Reply`]:
    /// a driver that puts each reply straight where its caller awaits it saves the trip
    /// through the output queue.
    ///
    /// Order is kept: a reply goes to `on_reply` only while no output is queued, so
    /// everything given to `on_reply` comes before every output still to be polled; a
    /// reply decoded after an output was queued (and every answer that is an error, such
    /// as [`RequestError::Timeout`]) still comes as [`Output::Reply`]. Each request is
    /// answered exactly once either way.
    pub fn handle_input_with<F>(&mut self, input: Input<'_>, now: Instant, mut on_reply: F)
    where
        F: FnMut(RequestId, Value),
    {
        self.input(input, now, &mut |conn: &mut Connection, id, value| {
            if conn.outputs.is_empty() {
                on_reply(id, value)
            } else {
                conn.reply(id, Ok(value))
            }
        });
    }

    /// [`handle_input`](Self::handle_input), with replies decoded from the input handed to
    /// `deliver`.
    #[inline]
    fn input<D>(&mut self, input: Input<'_>, now: Instant, deliver: &mut D)
    where
        D: FnMut(&mut Connection, RequestId, Value),
    {
        let now = self.advance(now);
        match input {
            Input::SocketOpened => self.on_socket_opened(now),
            Input::OpenFailed(kind) => {
                if self.is_opening() {
                    self.opening = false;
                    self.attempt_failed(CloseReason::Io(kind), now);
                }
            }
            Input::Received(data) => {
                if self.socket_open {
                    self.rbuf.extend_from_slice(data);
                    self.on_received(now, deliver);
                }
            }
            Input::ReceivedInPlace(_) => {
                if self.socket_open {
                    self.on_received(now, deliver);
                } else {
                    self.rbuf.clear();
                }
            }
            Input::Eof => {
                if self.socket_open {
                    self.connection_lost(CloseReason::PeerClosed, now);
                }
            }
            Input::IoError(kind) => {
                if self.socket_open {
                    self.connection_lost(CloseReason::Io(kind), now);
                } else if self.is_opening() {
                    self.opening = false;
                    self.attempt_failed(CloseReason::Io(kind), now);
                }
            }
            Input::Written(n) => {
                if self.socket_open {
                    self.confirmed = (self.confirmed + n as u64).min(self.handed);
                }
            }
            Input::Timeout => {}
            Input::Close => self.close_requested(now),
        }
        self.on_time(now);
    }

    /// Submits a request; its answer comes as exactly one [`Output::Reply`], possibly at
    /// once (`QueueFull`, `NotConnected`, `Closed`, `Failed`), or as one call of the
    /// callback given to [`handle_input_with`](Self::handle_input_with).
    #[inline]
    pub fn submit(&mut self, mut request: Request, now: Instant) -> RequestId {
        let now = self.advance(now);
        let id = self.alloc_id();
        // The usual case first: connected, with room.
        let connected = matches!(self.state, State::Connected { .. });
        if !(connected && self.backlog() < self.config.queue_limit) {
            if let Some(err) = self.rejection() {
                self.reply(id, Err(err));
                return id;
            }
        }
        if request.refused {
            self.reply(id, Err(RequestError::SubscribeInBatch));
            return id;
        }
        if request.pubsub.is_some_and(|p| p.all) {
            self.expand_unsubscribe_all(&mut request);
        }
        if request.replies == 0 {
            self.reply(id, Ok(Value::Array(Vec::new())));
            return id;
        }
        let deadline = request
            .options
            .timeout
            .or(self.config.response_timeout)
            .map(|t| now + t);
        if let Some(at) = deadline {
            self.deadlines.push(at, id);
        }
        // Nothing waits before it: straight into the write buffer, which is handed out
        // whole at the next `poll_output`, as `flush_queue` would.
        let write_now = self.queue.is_empty()
            && if connected {
                self.socket_open
            } else {
                self.can_write()
            };
        // Written before the entry is built, so the entry is built once, in its slot.
        let start = write_now.then(|| self.write_bytes(&mut request.bytes));
        let entry = Entry {
            id,
            bytes: request.bytes,
            replies: request.replies,
            retry_safe: request.options.retry_safe,
            retried: false,
            pubsub: request.pubsub.is_some(),
        };
        match start {
            Some(start) => self.push_slot(entry, Waiter::Request, start),
            None => self.queue.push_back(entry),
        }
        id
    }

    /// Why a request submitted now is refused, if it is: checked in full when the
    /// connection is not simply connected with room in the queue.
    #[cold]
    #[inline(never)]
    fn rejection(&self) -> Option<RequestError> {
        match &self.state {
            State::Failed { reason, .. } => Some(RequestError::Failed(reason.clone())),
            State::Closed { .. } | State::Draining { .. } => Some(RequestError::Closed),
            State::Connecting(c) if self.config.queue_policy == QueuePolicy::FailFast => {
                Some(RequestError::NotConnected(c.last_reason.clone()))
            }
            State::Reconnecting { reason, .. }
                if self.config.queue_policy == QueuePolicy::FailFast =>
            {
                Some(RequestError::NotConnected(Some(reason.clone())))
            }
            _ if self.backlog() >= self.config.queue_limit => Some(RequestError::QueueFull),
            _ => None,
        }
    }

    /// The next thing to do, until `None`. Call it after every input and submission.
    ///
    /// All requests submitted since the last call are written in one [`Output::Transmit`].
    #[inline]
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(out) = self.outputs.pop_front() {
            return Some(out);
        }
        self.flush_queue();
        if self.socket_open {
            // Handshake bytes and health checks are written outside `flush_queue`.
            self.hand_out_buffer();
        }
        self.outputs.pop_front()
    }

    /// When to deliver [`Input::Timeout`] next, if at all. Never earlier than the latest
    /// `now` given, and exactly that `now` when something is already due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = match &self.state {
            State::Connecting(c) => Some(c.deadline),
            State::Reconnecting { at, .. } => Some(*at),
            State::Draining { deadline, .. } => Some(*deadline),
            State::Connected { .. } => self.health_check_due(),
            State::Failed { .. } | State::Closed { .. } => return None,
        };
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.deadlines.next());
        consider(self.ping_deadline);
        consider(self.unresponsive_deadline());
        next.map(|t| t.max(self.now))
    }

    /// The current state.
    pub fn state(&self) -> StateKind {
        self.state.kind()
    }

    /// The current state with its data (attempt, deadlines, last reason).
    pub fn state_detail(&self) -> StateDetail {
        self.state.detail()
    }

    /// The protocol the current socket speaks, once its handshake is done.
    pub fn protocol(&self) -> Option<ProtocolVersion> {
        self.protocol
    }

    /// The read buffer, for zero-copy reads: append received bytes to it (for example
    /// with tokio's `read_buf`), then report [`Input::ReceivedInPlace`]. Append only; bytes
    /// already in it belong to a partially received reply.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.rbuf
    }

    /// Requests accepted and not yet answered (queued or in flight).
    pub fn pending_requests(&self) -> usize {
        self.queue.len()
            + self
                .in_flight
                .iter()
                .filter(|s| s.waiter == Waiter::Request)
                .count()
    }

    /// What [`Config::queue_limit`] bounds: requests queued, plus written units still owed
    /// a reply (requests, timed-out requests whose late reply is pending, health checks).
    pub fn backlog(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The next Pub/Sub event (message, confirmation, invalidation, gap, resubscription),
    /// until `None`. Drain it whenever [`Connection::poll_output`] is drained; push frames it
    /// does not recognise come as [`Output::Push`] instead. At most 65 536 events are held:
    /// beyond that the oldest are dropped (see [`Connection::pubsub_dropped`]).
    pub fn poll_pubsub(&mut self) -> Option<PubSubEvent> {
        self.pubsub_events.pop_front()
    }

    /// Pub/Sub events dropped because [`Connection::poll_pubsub`] was not drained.
    pub fn pubsub_dropped(&self) -> u64 {
        self.pubsub_dropped
    }

    /// The subscriptions the server confirmed, restored after every reconnect.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    // ---- time ----

    fn advance(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// Everything that happens because time passed; run after every input.
    ///
    /// Each deadline is handled at most once per call, so even a zero timeout or delay
    /// cannot make one input loop: the next step waits for the next input.
    fn on_time(&mut self, now: Instant) {
        while let Some(id) = self.deadlines.pop_due(now) {
            self.request_timed_out(id);
        }
        // Answered requests' deadlines must not wake the caller: drop them as they reach
        // the top (a binary search each), so `poll_timeout` reports a live deadline.
        while let Some(id) = self.deadlines.first() {
            if self.awaits_reply(id) {
                break;
            }
            self.deadlines.pop();
        }
        self.deadlines.compact(&self.queue, &self.in_flight);
        match &self.state {
            State::Connecting(c) if now >= c.deadline => {
                let kind = match c.phase {
                    Phase::Opening => TimeoutKind::Connect,
                    Phase::Handshaking(_) => TimeoutKind::Handshake,
                };
                self.attempt_failed(CloseReason::Timeout(kind), now);
            }
            State::Draining { deadline, .. } if now >= *deadline => {
                self.finish_draining(CloseReason::Timeout(TimeoutKind::Drain), now)
            }
            State::Connected { .. } | State::Draining { .. } => {
                if self.ping_deadline.is_some_and(|d| now >= d) {
                    self.connection_lost(CloseReason::Timeout(TimeoutKind::HealthCheck), now);
                } else if self.unresponsive_deadline().is_some_and(|d| now >= d) {
                    self.connection_lost(CloseReason::Timeout(TimeoutKind::Unresponsive), now);
                } else if self.health_check_due().is_some_and(|d| now >= d) {
                    self.send_ping(now);
                }
            }
            _ => {}
        }
        // Also right after a failure above: a zero delay (after a healthy connection)
        // reconnects at once.
        if matches!(self.state, State::Reconnecting { at, .. } if now >= at) {
            self.start_attempt(now);
        }
        if let State::Draining { .. } = self.state {
            self.maybe_drained(now);
        }
    }

    /// When the idle health check is due: only while connected and idle.
    fn health_check_due(&self) -> Option<Instant> {
        let interval = self.config.health_check_interval?;
        let idle = matches!(self.state, State::Connected { .. })
            && self.socket_open
            && self.in_flight.is_empty()
            && self.queue.is_empty()
            && self.wbuf.is_empty();
        idle.then(|| self.last_received.max(self.last_sent) + interval)
    }

    fn unresponsive_deadline(&self) -> Option<Instant> {
        let timeout = self.config.unresponsive_timeout?;
        let since = self.awaiting_since?;
        Some(since.max(self.last_received) + timeout)
    }

    fn send_ping(&mut self, now: Instant) {
        let id = self.alloc_id();
        let start = self.write_offset();
        self.wbuf.extend_from_slice(PING);
        let entry = Entry {
            id,
            bytes: Encoded::Shared(Bytes::new()),
            replies: 1,
            retry_safe: false,
            retried: false,
            pubsub: false,
        };
        self.push_slot(entry, Waiter::Ping, start);
        self.ping_deadline = Some(now + self.config.health_check_timeout);
    }

    // ---- requests ----

    fn alloc_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    fn reply(&mut self, id: RequestId, result: Result<Value, RequestError>) {
        self.outputs.push_back(Output::Reply { id, result });
    }

    /// Answers an accepted request that will not get a reply. One that was written on an
    /// earlier connection (and queued again to be retried) may have run: say so.
    fn fail_entry(&mut self, entry: Entry, err: RequestError, reason: &CloseReason) {
        let err = if entry.retried {
            RequestError::ConnectionLost(reason.clone())
        } else {
            err
        };
        self.reply(entry.id, Err(err));
    }

    /// Offset in this socket's output stream of the next byte appended to the write buffer.
    fn write_offset(&self) -> u64 {
        self.handed + self.wbuf.len() as u64
    }

    /// Records a unit written to the write buffer from offset `start`, awaiting its reply from
    /// the latest time given.
    ///
    /// The slot is built in place, field by field, in the ring buffer. Built on the stack
    /// and moved in, as `push_back(Slot { .. })` does, its small fields (stored one by one)
    /// were read back at once in wide words straddling those stores, which the processor
    /// cannot forward: each request's move waited for them to land (measured by a time
    /// profile with the client and server on one core: about a twentieth of the client's
    /// user time went to the two moves, entry into slot and slot into the ring).
    #[inline]
    fn push_slot(&mut self, entry: Entry, waiter: Waiter, start: u64) {
        if self.in_flight.is_empty() {
            self.awaiting_since = Some(self.now);
        }
        self.in_flight.push_back(Slot::BLANK);
        let slot = self.in_flight.back_mut().expect("a slot was just pushed");
        let Entry {
            id,
            bytes,
            replies,
            retry_safe,
            retried,
            pubsub,
        } = entry;
        // The blank's bytes are an empty static `Bytes`: nothing to drop.
        std::mem::forget(std::mem::replace(&mut slot.entry.bytes, bytes));
        slot.entry.id = id;
        slot.entry.replies = replies;
        slot.entry.retry_safe = retry_safe;
        slot.entry.retried = retried;
        slot.entry.pubsub = pubsub;
        slot.start = start;
        slot.remaining = replies;
        slot.waiter = waiter;
    }

    /// Whether requests may be written now (else they wait in the queue).
    fn can_write(&self) -> bool {
        self.socket_open && matches!(self.state, State::Connected { .. } | State::Draining { .. })
    }

    /// Moves every queued request into the write buffer, when requests may be written.
    fn flush_queue(&mut self) {
        if !self.can_write() {
            return;
        }
        while let Some(entry) = self.queue.pop_front() {
            self.write_entry(entry);
        }
        self.hand_out_buffer();
    }

    /// Writes one request (into the write buffer, or handed out whole when large) and records
    /// its slot.
    fn write_entry(&mut self, mut entry: Entry) {
        let start = self.write_bytes(&mut entry.bytes);
        self.push_slot(entry, Waiter::Request, start);
    }

    /// Writes a request's bytes (into the write buffer, or handed out whole when large);
    /// returns the offset of their first byte in this socket's output stream.
    #[inline]
    fn write_bytes(&mut self, bytes: &mut Encoded) -> u64 {
        let start = self.write_offset();
        if bytes.as_slice().len() >= ZERO_COPY_MIN {
            // Keep the order: what is buffered goes first, then the large request.
            self.hand_out_buffer();
            self.hand_out(bytes.share());
        } else {
            self.wbuf.extend_from_slice(bytes.as_slice());
        }
        start
    }

    /// Queues a `Transmit` of the write buffer's contents, if any.
    fn hand_out_buffer(&mut self) {
        if !self.wbuf.is_empty() {
            let bytes = self.wbuf.split().freeze();
            self.hand_out(bytes);
        }
    }

    /// Queues a `Transmit`: from here on these bytes belong to the socket's stream.
    fn hand_out(&mut self, bytes: Bytes) {
        self.handed += bytes.len() as u64;
        self.last_sent = self.now;
        self.outputs.push_back(Output::Transmit(bytes));
    }

    /// Whether request `id` is held and not yet answered.
    fn awaits_reply(&self, id: RequestId) -> bool {
        queue::awaits_reply(&self.queue, &self.in_flight, id)
    }

    fn request_timed_out(&mut self, id: RequestId) {
        if let Ok(i) = self.in_flight.binary_search_by_key(&id, |s| s.id()) {
            let slot = &mut self.in_flight[i];
            if slot.waiter == Waiter::Request {
                let written = slot.entry.retried || slot.start < self.handed;
                // The slot stays: its late replies must be consumed to keep the stream in step.
                slot.waiter = Waiter::Abandoned;
                slot.entry.bytes = Encoded::Shared(Bytes::new());
                if i == 0 {
                    self.collected = Vec::new();
                }
                self.reply(id, Err(RequestError::Timeout { written }));
            }
        } else if let Ok(i) = self.queue.binary_search_by_key(&id, |e| e.id) {
            if let Some(entry) = self.queue.remove(i) {
                self.reply(
                    id,
                    Err(RequestError::Timeout {
                        written: entry.retried,
                    }),
                );
            }
        }
    }

    // ---- reading ----

    fn on_received<D>(&mut self, now: Instant, deliver: &mut D)
    where
        D: FnMut(&mut Connection, RequestId, Value),
    {
        self.last_received = now;
        while self.socket_open {
            match self.decoder.decode_deferred(&mut self.rbuf) {
                Ok(Some(value)) => {
                    if !self.is_routine(&value) {
                        // A push, a RESP2 Pub/Sub message, a handshake or restoring reply:
                        // handled apart, or given back for the front slot.
                        if let Some(value) = self.route_frame(value, now) {
                            self.answer_front(value, now, deliver);
                        }
                    } else if let Some(id) = self.take_plain_slot(now) {
                        // The common case, kept apart so the reply moves as little as it can
                        // on its way to `deliver` (each move of a value just decoded stalls;
                        // see `take_plain_slot`).
                        deliver(self, id, value);
                    } else {
                        // An ordinary reply to a batch, a subscribe request or a ping.
                        self.answer_front(value, now, deliver);
                    }
                }
                Ok(None) => break,
                Err(e) => self.connection_lost(CloseReason::Protocol(e.kind), now),
            }
        }
        // Once per read rather than once per reply.
        self.decoder.settle(&mut self.rbuf);
        if !self.answered.is_empty() {
            self.answered.give_back();
        }
    }

    /// When a routine reply (see [`is_routine`](Self::is_routine)) is the whole answer to
    /// the front slot's request (a single command, not a batch, a subscribe request or a
    /// ping), removes the slot and returns the request's id; else leaves everything as it
    /// is for [`answer_front`](Self::answer_front).
    ///
    /// The reply itself is not passed here, so the caller can hand it on from where it was
    /// decoded: along `answer_front`'s general path it is moved several times, and each move
    /// of a value whose bytes were just stored one field at a time reads them back in wide
    /// words the processor cannot forward from those stores.
    #[inline]
    fn take_plain_slot(&mut self, now: Instant) -> Option<RequestId> {
        let slot = self.in_flight.front()?;
        if slot.waiter != Waiter::Request
            || slot.remaining != 1
            || slot.entry.replies != 1
            || slot.entry.pubsub
        {
            return None;
        }
        self.retire_front(now).map(|(id, _)| id)
    }

    /// Whether `value` is an ordinary reply on an established connection, for the front slot
    /// as it is (not a push, a RESP2 Pub/Sub message, a handshake or restoring reply).
    #[inline]
    fn is_routine(&self, value: &Value) -> bool {
        !matches!(value, Value::Push(_) | Value::Array(_))
            && matches!(self.state, State::Connected { .. } | State::Draining { .. })
            && self.restoring.is_empty()
    }

    /// Removes the front slot, fully answered, and returns its request's id and waiter. Its
    /// command buffer is kept to give back, and the unresponsive clock restarts if other slots
    /// still wait (see `unresponsive_deadline`): progress was made.
    #[inline]
    fn retire_front(&mut self, now: Instant) -> Option<(RequestId, Waiter)> {
        let Slot {
            entry: Entry { id, bytes, .. },
            waiter,
            ..
        } = self.in_flight.pop_front()?;
        self.awaiting_since = (!self.in_flight.is_empty()).then_some(now);
        if let Encoded::Owned(buf, _) = bytes {
            self.recycle(buf);
        }
        Some((id, waiter))
    }

    /// A frame that may not be a reply to the front slot (a push, a Pub/Sub message in
    /// RESP2, a handshake or restoring reply): handled here, or given back for the slot.
    #[inline(never)]
    fn route_frame(&mut self, value: Value, now: Instant) -> Option<Value> {
        if let Value::Push(_) = value {
            // Out of band: never takes a reply slot, except a confirmation that answers a
            // subscribe request.
            match self.route_pubsub(&value, false) {
                Route::Slot => {}
                Route::Done => return None,
                Route::Raw => {
                    self.outputs.push_back(Output::Push(value));
                    return None;
                }
            }
        } else if self.protocol == Some(ProtocolVersion::Resp2)
            && matches!(value, Value::Array(_))
            && (!self.subscriptions.is_empty() || self.awaits_confirmation())
        {
            // A subscribed RESP2 connection gets messages and confirmations as arrays.
            if let Route::Done = self.route_pubsub(&value, true) {
                return None;
            }
        }
        if let State::Connecting(Connecting {
            phase: Phase::Handshaking(hs),
            ..
        }) = &mut self.state
        {
            match hs.on_reply(value, &self.config, &mut self.wbuf) {
                Progress::Pending => {}
                Progress::Done(proto) => self.handshake_done(proto, now),
                Progress::Rejected(e) => {
                    self.attempt_failed(CloseReason::HandshakeRejected(e), now)
                }
            }
            return None;
        }
        if self.protocol.is_some() && !self.restoring.is_empty() {
            self.on_restore_reply(value, now);
            return None;
        }
        Some(value)
    }

    /// A reply for the front slot; the reply of the request it completes goes to `deliver`.
    #[inline]
    fn answer_front<D>(&mut self, value: Value, now: Instant, deliver: &mut D)
    where
        D: FnMut(&mut Connection, RequestId, Value),
    {
        let Some(slot) = self.in_flight.front_mut() else {
            self.connection_lost(CloseReason::UnexpectedReply, now);
            return;
        };
        // A subscribe command is refused with one error, however many names it had.
        let pubsub_error = slot.entry.pubsub && matches!(value, Value::Error(_));
        if pubsub_error {
            slot.remaining = 1;
        }
        slot.remaining -= 1;
        let batch = !pubsub_error
            && slot.waiter == Waiter::Request
            && (slot.entry.replies > 1 || slot.entry.pubsub);
        if slot.remaining > 0 {
            if batch {
                if self.collected.capacity() == 0 {
                    self.collected.reserve_exact(slot.remaining as usize + 1);
                }
                self.collected.push(value);
            }
            return;
        }
        let Some((id, waiter)) = self.retire_front(now) else {
            return;
        };
        if pubsub_error {
            // Confirmations collected before a refusal: dropped with their slot. (An
            // abandoned slot's were dropped when it was abandoned; no other slot that
            // is not a batch collects.)
            self.collected = Vec::new();
        }
        match waiter {
            Waiter::Request => {
                let result = if batch {
                    let mut all = std::mem::take(&mut self.collected);
                    all.push(value);
                    Value::Array(all)
                } else {
                    value
                };
                deliver(self, id, result);
            }
            Waiter::Ping => self.ping_deadline = None,
            Waiter::Abandoned => {}
        }
    }

    /// Keeps an answered request's buffer to give back with the others of this read.
    #[inline]
    fn recycle(&mut self, buf: spare::Pooled) {
        if self.answered.len() >= ANSWERED_BATCH {
            self.answered.give_back();
        }
        self.answered.push(buf);
    }

    // ---- connection life ----

    fn is_opening(&self) -> bool {
        matches!(
            self.state,
            State::Connecting(Connecting {
                phase: Phase::Opening,
                ..
            })
        )
    }

    fn on_socket_opened(&mut self, now: Instant) {
        if !self.is_opening() {
            return;
        }
        self.socket_open = true;
        self.opening = false;
        self.handed = 0;
        self.confirmed = 0;
        self.last_received = now;
        self.last_sent = now;
        self.decoder = Decoder::new(self.config.limits);
        let hs = Handshake::start(&self.config, &mut self.wbuf);
        let deadline = now + self.config.handshake_timeout;
        if let State::Connecting(c) = &mut self.state {
            c.phase = Phase::Handshaking(hs);
            c.deadline = deadline;
        }
    }

    fn handshake_done(&mut self, proto: ProtocolVersion, now: Instant) {
        let attempt = self.state.attempt();
        self.protocol = Some(proto);
        self.transition(
            State::Connected {
                attempt,
                since: now,
            },
            None,
            now,
        );
        self.restore_subscriptions(now);
    }

    /// Tells the caller to close the socket and forgets everything tied to it.
    fn close_socket(&mut self, reason: &CloseReason) {
        // Transmits not yet polled belong to this socket: they must never be written.
        self.outputs.retain(|o| !matches!(o, Output::Transmit(_)));
        if self.socket_open || self.opening {
            self.outputs.push_back(Output::CloseSocket(reason.clone()));
        }
        self.socket_open = false;
        self.opening = false;
        self.wbuf.clear();
        self.rbuf.clear();
        self.awaiting_since = None;
        self.ping_deadline = None;
        self.protocol = None;
    }

    /// A connection attempt (socket or handshake) failed.
    fn attempt_failed(&mut self, reason: CloseReason, now: Instant) {
        self.close_socket(&reason);
        let failures = self.state.attempt();
        self.after_failure(failures, reason, now);
    }

    /// A working connection (Connected or Draining) was lost.
    fn connection_lost(&mut self, reason: CloseReason, now: Instant) {
        match self.state {
            State::Connecting(_) => self.attempt_failed(reason, now),
            State::Draining { .. } => self.finish_draining(reason, now),
            State::Connected { attempt, since } => {
                if !self.subscriptions.is_empty() && self.gap_since.is_none() {
                    // Anything published after the last bytes that arrived may be lost.
                    self.gap_since = Some(self.last_received.min(now));
                }
                self.close_socket(&reason);
                self.recover_in_flight(&reason);
                let healthy =
                    now.saturating_duration_since(since) >= self.config.backoff.healthy_after;
                let failures = if healthy { 0 } else { attempt };
                self.after_failure(failures, reason, now);
            }
            _ => {}
        }
    }

    /// After a lost connection: requests not confirmed written go back to the queue, in
    /// order, ahead of newer ones; written ones are answered, or re-sent once if safe.
    fn recover_in_flight(&mut self, reason: &CloseReason) {
        let confirmed = self.confirmed;
        let mut requeue = Vec::new();
        self.collected = Vec::new();
        for slot in std::mem::take(&mut self.in_flight) {
            let (start, remaining) = (slot.start, slot.remaining);
            let Some(mut entry) = slot.into_request() else {
                continue;
            };
            let written = start < confirmed || remaining < entry.replies;
            if !written {
                requeue.push(entry);
            } else if entry.retry_safe && !entry.retried {
                entry.retried = true;
                requeue.push(entry);
            } else {
                self.reply(entry.id, Err(RequestError::ConnectionLost(reason.clone())));
            }
        }
        for entry in requeue.into_iter().rev() {
            self.queue.push_front(entry);
        }
    }

    /// Decides between another attempt and giving up, by the reason's class alone.
    fn after_failure(&mut self, failures: u32, reason: CloseReason, now: Instant) {
        let attempts_left = self
            .config
            .backoff
            .max_attempts
            .map_or(true, |max| failures < max.max(1));
        if reason.is_retryable() && attempts_left {
            let delay = self.config.backoff.jittered_delay(failures, &mut self.rng);
            let next = State::Reconnecting {
                attempt: failures + 1,
                at: now + delay,
                reason: reason.clone(),
            };
            self.transition(next, Some(reason), now);
        } else {
            self.transition(
                State::Failed {
                    reason: reason.clone(),
                    attempt: failures,
                },
                Some(reason.clone()),
                now,
            );
            self.answer_all(|| RequestError::Failed(reason.clone()), &reason);
        }
    }

    fn start_attempt(&mut self, now: Instant) {
        let State::Reconnecting {
            attempt, reason, ..
        } = &self.state
        else {
            return;
        };
        let next = State::Connecting(Connecting {
            attempt: *attempt,
            phase: Phase::Opening,
            deadline: now + self.config.connect_timeout,
            last_reason: Some(reason.clone()),
        });
        self.transition(next, None, now);
        self.opening = true;
        self.outputs
            .push_back(Output::Open(self.config.endpoint.clone()));
    }

    fn close_requested(&mut self, now: Instant) {
        let attempt = self.state.attempt();
        match self.state {
            State::Connecting(_) | State::Reconnecting { .. } => {
                let reason = CloseReason::ClientRequested;
                self.close_socket(&reason);
                self.transition(State::Closed { attempt }, Some(reason.clone()), now);
                self.answer_all(|| RequestError::Closed, &reason);
            }
            State::Connected { .. } => {
                let deadline = now + self.config.drain_timeout;
                let next = State::Draining { deadline, attempt };
                self.transition(next, Some(CloseReason::ClientRequested), now);
                self.ping_deadline = None;
            }
            State::Draining { .. } | State::Failed { .. } | State::Closed { .. } => {}
        }
    }

    /// Closes once every accepted request has been written and answered.
    fn maybe_drained(&mut self, now: Instant) {
        let waiting =
            !self.queue.is_empty() || self.in_flight.iter().any(|s| s.waiter == Waiter::Request);
        if !waiting {
            self.finish_draining(CloseReason::ClientRequested, now);
        }
    }

    fn finish_draining(&mut self, reason: CloseReason, now: Instant) {
        let attempt = self.state.attempt();
        self.close_socket(&reason);
        let confirmed = self.confirmed;
        self.collected = Vec::new();
        for slot in std::mem::take(&mut self.in_flight) {
            let (start, remaining) = (slot.start, slot.remaining);
            if let Some(entry) = slot.into_request() {
                let err = if start < confirmed || remaining < entry.replies {
                    RequestError::ConnectionLost(reason.clone())
                } else {
                    RequestError::Closed
                };
                self.fail_entry(entry, err, &reason);
            }
        }
        self.transition(State::Closed { attempt }, Some(reason.clone()), now);
        self.answer_all(|| RequestError::Closed, &reason);
    }

    /// On entering a terminal state: answers every request still held.
    fn answer_all(&mut self, err: impl Fn() -> RequestError, reason: &CloseReason) {
        self.collected = Vec::new();
        for slot in std::mem::take(&mut self.in_flight) {
            if let Some(entry) = slot.into_request() {
                self.fail_entry(entry, err(), reason);
            }
        }
        for entry in std::mem::take(&mut self.queue) {
            self.fail_entry(entry, err(), reason);
        }
        self.deadlines.clear();
    }

    /// The one place the state changes: checks the edge against [`TRANSITIONS`] and reports it.
    fn transition(&mut self, to: State, reason: Option<CloseReason>, now: Instant) {
        let from = self.state.kind();
        let to_kind = to.kind();
        debug_assert!(
            from.can_transition_to(to_kind),
            "illegal transition {from:?} -> {to_kind:?}"
        );
        let attempt = to.attempt();
        self.state = to;
        self.outputs.push_back(Output::Transition(Transition {
            from,
            to: to_kind,
            reason,
            attempt,
            at: now,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::encode::spare;

    #[test]
    fn answered_requests_buffers_go_back_once_their_read_is_handled() {
        let now = Instant::now();
        let mut config = Config::new(Endpoint::tcp("test", 6379));
        config.protocol = ProtocolVersion::Resp2;
        let mut conn = Connection::new(config, now);
        while conn.poll_output().is_some() {}
        conn.handle_input(Input::SocketOpened, now);
        while conn.poll_output().is_some() {}
        // The handshake's `PING` probe.
        conn.handle_input(Input::Received(b"+PONG\r\n"), now);
        while conn.poll_output().is_some() {}
        assert_eq!(conn.state(), StateKind::Connected);
        // More than a batch of them, answered by one read.
        let n = 2 * ANSWERED_BATCH + 3;
        for _ in 0..n {
            conn.submit(Request::from(crate::resp::cmd("GET").arg("k")), now);
        }
        while conn.poll_output().is_some() {}
        assert_eq!(spare::len(), 0);
        // Part of the first reply only: nothing answered, nothing given back.
        conn.handle_input(Input::Received(b":1"), now);
        assert_eq!(spare::len(), 0);
        let mut replies = b"\r\n".to_vec();
        replies.extend(b":1\r\n".repeat(n - 1));
        conn.handle_input(Input::Received(&replies), now);
        // All of them back in the thread's list, none held by the connection.
        assert!(conn.answered.is_empty());
        assert_eq!(spare::len(), n);
        let mut answers = 0;
        while let Some(out) = conn.poll_output() {
            if let Output::Reply { result, .. } = out {
                assert_eq!(result, Ok(Value::Integer(1)));
                answers += 1;
            }
        }
        assert_eq!(answers, n);
    }

    #[test]
    fn a_borrowed_command_is_copied_into_a_recycled_buffer() {
        let set = crate::resp::cmd("SET").arg("k").arg("v");
        let big = crate::resp::cmd("SET")
            .arg("k")
            .arg(vec![b'x'; 4 * spare::MAX_CAPACITY]);
        drop(Request::from(crate::resp::cmd("PING")));
        assert_eq!(spare::len(), 1);
        let request = Request::single(&set);
        assert_eq!(spare::len(), 0);
        assert_eq!(request.bytes(), &set.to_bytes()[..]);
        drop(request);
        assert_eq!(spare::len(), 1);
        // A command too large to keep is copied into a buffer of its own.
        let request = Request::single(&big);
        assert_eq!(request.bytes(), &big.to_bytes()[..]);
        assert_eq!(spare::len(), 1);
        drop(request);
        assert_eq!(spare::len(), 1);
    }
}
