//! The sans-IO connection state machine. (Contract; implementation in progress.)

mod config;
mod reason;
mod state;

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use thiserror::Error;

pub use config::{Backoff, Config, Endpoint, Password, ProtocolVersion, QueuePolicy};
pub use reason::{CloseReason, TimeoutKind};
pub use state::{StateKind, Transition};

use crate::resp::{Cmd, Value};

/// Identifies a submitted request; its answer carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Per-request options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestOptions {
    /// Response timeout for this request (overrides [`Config::response_timeout`]).
    pub timeout: Option<Duration>,
    /// Safe to send again if the connection drops after it was written (idempotent).
    pub retry_safe: bool,
}

/// One unit of work: one command, or several written contiguously and answered together.
#[derive(Debug, Clone)]
pub struct Request {
    bytes: Bytes,
    replies: u32,
    /// Options.
    pub options: RequestOptions,
}

impl Request {
    /// One command, answered with its reply.
    pub fn single(cmd: &Cmd) -> Request {
        Request { bytes: cmd.to_bytes(), replies: 1, options: RequestOptions::default() }
    }
    /// Several commands (a pipeline or a `MULTI`/`EXEC` transaction), written contiguously,
    /// never split across connections, and answered once with an [`Value::Array`] of their replies.
    pub fn batch(cmds: &[Cmd]) -> Request {
        let _ = cmds;
        todo!()
    }
    /// Sets the options.
    pub fn with_options(mut self, options: RequestOptions) -> Request {
        self.options = options;
        self
    }
}

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The connection dropped after the request was (at least partly) written: it may or may not have run.
    #[error("connection lost after the request was written: {0}")]
    ConnectionLost(CloseReason),
    /// No reply within the response timeout. `written` says whether it reached the socket.
    #[error("request timed out")]
    Timeout {
        /// Whether any of the request was written.
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
}

impl RequestError {
    /// Whether any byte of the request reached the socket (outcome unknown).
    pub fn was_written(&self) -> bool {
        matches!(self, RequestError::ConnectionLost(_) | RequestError::Timeout { written: true })
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
    /// The peer closed the stream.
    Eof,
    /// Reading or writing failed.
    IoError(io::ErrorKind),
    /// `n` more bytes of what [`Output::Transmit`] handed out were accepted by the socket.
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
    /// Close the socket (this is why).
    CloseSocket(CloseReason),
    /// The answer to a request.
    Reply {
        /// Which request.
        id: RequestId,
        /// Its reply (a server error reply is `Ok(Value::Error(..))`), or why there is none.
        result: Result<Value, RequestError>,
    },
    /// An out-of-band push frame.
    Push(Value),
    /// The state changed.
    Transition(Transition),
}

/// One logical connection to Redis, through any number of physical sockets.
#[derive(Debug)]
pub struct Connection {
    config: Config,
}

impl Connection {
    /// Starts connecting (the first output is [`Output::Open`]).
    pub fn new(config: Config, now: Instant) -> Connection {
        let _ = now;
        Connection { config }
    }
    /// Feeds an input.
    pub fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        let _ = (input, now);
        todo!()
    }
    /// Submits a request; its answer comes as exactly one [`Output::Reply`].
    pub fn submit(&mut self, request: Request, now: Instant) -> RequestId {
        let _ = (request, now);
        todo!()
    }
    /// The next thing to do, until `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        todo!()
    }
    /// When to deliver [`Input::Timeout`] next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
    /// The current state.
    pub fn state(&self) -> StateKind {
        todo!()
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
