//! A deterministic simulation around [`Connection`]: a scripted fake Redis server, a
//! driver that moves bytes between them in arbitrary pieces, and a checker that asserts
//! the state machine's invariants after every step.
//!
//! Shared by the model-based property tests and the `connection` fuzz target, so both
//! check the same invariants:
//! - every request is answered exactly once, and an `Ok` answer is its own reply;
//! - an answer that says "not written" belongs to a request the server never ran, and a
//!   request not marked retry-safe runs at most once (retry-safe: at most twice);
//! - nothing is transmitted while no socket is open, and no request before the handshake;
//! - only transitions listed in the model's own table happen, in a chain, and nothing
//!   leaves `Failed` or `Closed`;
//! - every reconnect is for a retryable reason and every `Failed` for a non-retryable one
//!   or after the last allowed attempt, with retryability as the model classifies it;
//! - `poll_timeout` is never before the latest `now`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redwire_core::conn::{
    Backoff, CloseReason, Config, Connection, Endpoint, Input, Output, ProtocolVersion,
    QueuePolicy, Request, RequestError, RequestId, RequestOptions, StateKind, TimeoutKind,
};
use redwire_core::resp::{
    cmd, encode_value, Decoder, Limits, Payload, ServerError, ServerErrorCode, Value,
};

/// The model's own copy of the legal edges (not the crate's table: this checks it).
pub const LEGAL: &[(StateKind, StateKind)] = {
    use StateKind::*;
    &[
        (Connecting, Connected),
        (Connecting, Reconnecting),
        (Connecting, Failed),
        (Connecting, Closed),
        (Connected, Draining),
        (Connected, Reconnecting),
        (Connected, Failed),
        (Draining, Closed),
        (Reconnecting, Connecting),
        (Reconnecting, Closed),
    ]
};

/// The model's classification of close reasons.
pub fn model_retryable(reason: &CloseReason) -> bool {
    match reason {
        CloseReason::PeerClosed
        | CloseReason::Io(_)
        | CloseReason::Protocol(_)
        | CloseReason::UnexpectedReply => true,
        CloseReason::Timeout(TimeoutKind::Drain) => false,
        CloseReason::Timeout(_) => true,
        CloseReason::HandshakeRejected(e) => matches!(
            e.code,
            ServerErrorCode::Loading
                | ServerErrorCode::Busy
                | ServerErrorCode::MasterDown
                | ServerErrorCode::TryAgain
                | ServerErrorCode::ClusterDown
        ),
        CloseReason::ClientRequested => false,
        other => panic!("reason unknown to the model: {other:?}"),
    }
}

/// How the fake server answers `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hello {
    /// Speaks RESP3.
    Accept,
    /// An old server: `-ERR unknown command`.
    Unknown,
    /// Refuses with this code.
    Reject(Code),
}

/// Error codes the scripted server can answer handshake commands with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    WrongPass,
    NoAuth,
    NoPerm,
    Loading,
    Busy,
    MasterDown,
    TryAgain,
    ClusterDown,
    NoProto,
    Err,
}

impl Code {
    pub const ALL: [Code; 10] = [
        Code::WrongPass,
        Code::NoAuth,
        Code::NoPerm,
        Code::Loading,
        Code::Busy,
        Code::MasterDown,
        Code::TryAgain,
        Code::ClusterDown,
        Code::NoProto,
        Code::Err,
    ];
    pub fn code(self) -> ServerErrorCode {
        match self {
            Code::WrongPass => ServerErrorCode::WrongPass,
            Code::NoAuth => ServerErrorCode::NoAuth,
            Code::NoPerm => ServerErrorCode::NoPerm,
            Code::Loading => ServerErrorCode::Loading,
            Code::Busy => ServerErrorCode::Busy,
            Code::MasterDown => ServerErrorCode::MasterDown,
            Code::TryAgain => ServerErrorCode::TryAgain,
            Code::ClusterDown => ServerErrorCode::ClusterDown,
            Code::NoProto => ServerErrorCode::NoProto,
            Code::Err => ServerErrorCode::Err,
        }
    }
}

/// What one server connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script {
    pub hello: Hello,
    /// Answer to `AUTH` (RESP2 path), `None`: `+OK`.
    pub auth: Option<Code>,
    /// Answer to `SELECT`, `None`: `+OK`.
    pub select: Option<Code>,
    /// Answer to every `PING` (the handshake's readiness probe, health checks), `None`:
    /// `+PONG`. `Some(Code::Loading)` is a server still loading its dataset.
    pub ping: Option<Code>,
    /// Send a push frame before every reply.
    pub pushes: bool,
}

impl Script {
    pub const OK: Script = Script {
        hello: Hello::Accept,
        auth: None,
        select: None,
        ping: None,
        pushes: false,
    };
}

pub fn server_error(code: ServerErrorCode) -> Value {
    Value::Error(ServerError {
        code,
        message: "scripted".into(),
    })
}

/// One server-side connection: decodes commands, answers them by the script.
#[derive(Debug)]
pub struct FakeServer {
    pub script: Script,
    decoder: Decoder,
    inbuf: BytesMut,
    /// Replies not yet delivered to the client.
    pub out: BytesMut,
    /// Whether the client ever sent a user command on this connection.
    pub saw_user_command: bool,
    /// Stop answering (a black-holed link): commands still run.
    pub mute: bool,
    /// Commands seen, by name.
    pub names: Vec<String>,
    /// The last `ECHO` token number run on this connection.
    last_token: u64,
}

impl FakeServer {
    pub fn new(script: Script) -> FakeServer {
        FakeServer {
            script,
            decoder: Decoder::new(Limits::default()),
            inbuf: BytesMut::new(),
            out: BytesMut::new(),
            saw_user_command: false,
            mute: false,
            names: Vec::new(),
            last_token: 0,
        }
    }

    /// Takes bytes written by the client; runs complete commands. `executed` counts runs
    /// of each `ECHO` token.
    pub fn feed(&mut self, bytes: &[u8], executed: &mut HashMap<Bytes, u32>) {
        self.inbuf.extend_from_slice(bytes);
        loop {
            let frame = match self.decoder.decode(&mut self.inbuf) {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(e) => panic!("client wrote invalid RESP: {e}"),
            };
            let Value::Array(args) = frame else {
                panic!("command is not an array: {frame:?}")
            };
            let args: Vec<Bytes> = args
                .into_iter()
                .map(|a| match a {
                    Value::BulkString(b) => b.into_bytes(),
                    other => panic!("argument is not a bulk string: {other:?}"),
                })
                .collect();
            let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
            self.names.push(name.clone());
            let reply = match name.as_str() {
                "HELLO" => match self.script.hello {
                    Hello::Accept => Value::Map(vec![
                        (
                            Value::BulkString(Payload::from_static(b"server")),
                            Value::BulkString(Payload::from_static(b"redis")),
                        ),
                        (
                            Value::BulkString(Payload::from_static(b"proto")),
                            Value::Integer(3),
                        ),
                    ]),
                    Hello::Unknown => server_error(ServerErrorCode::Err),
                    Hello::Reject(c) => server_error(c.code()),
                },
                "AUTH" => self.script.auth.map_or(ok(), |c| server_error(c.code())),
                "SELECT" => self.script.select.map_or(ok(), |c| server_error(c.code())),
                "CLIENT" => ok(),
                "PING" => self.script.ping.map_or_else(
                    || Value::SimpleString(Payload::from_static(b"PONG")),
                    |c| server_error(c.code()),
                ),
                "ECHO" => {
                    self.saw_user_command = true;
                    // Submission order is kept on every connection, requeued requests
                    // included (sim tokens are `t<n>`, n growing with submission).
                    if let Some(n) = args[1]
                        .strip_prefix(b"t")
                        .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok())
                    {
                        assert!(
                            n > self.last_token,
                            "request t{n} written after t{}",
                            self.last_token
                        );
                        self.last_token = n;
                    }
                    *executed.entry(args[1].clone()).or_default() += 1;
                    Value::BulkString(args[1].clone().into())
                }
                other => panic!("unexpected command {other}"),
            };
            if self.mute {
                continue;
            }
            if self.script.pushes {
                let push = Value::Push(vec![
                    Value::BulkString(Payload::from_static(b"message")),
                    Value::BulkString(Payload::from_static(b"chan")),
                ]);
                encode_value(&push, &mut self.out);
            }
            encode_value(&reply, &mut self.out);
        }
    }
}

fn ok() -> Value {
    Value::SimpleString(Payload::from_static(b"OK"))
}

/// A configuration for the simulation: small timeouts, deterministic jitter.
pub fn sim_config() -> Config {
    let mut c = Config::new(Endpoint::tcp("sim", 6379));
    c.seed = 42;
    c.connect_timeout = Duration::from_millis(500);
    c.handshake_timeout = Duration::from_millis(500);
    c.response_timeout = None;
    c.unresponsive_timeout = Some(Duration::from_secs(3));
    c.health_check_interval = Some(Duration::from_secs(2));
    c.health_check_timeout = Duration::from_millis(700);
    c.drain_timeout = Duration::from_secs(1);
    c.backoff = Backoff {
        base: Duration::from_millis(100),
        factor: 2.0,
        cap: Duration::from_secs(1),
        jitter: 0.5,
        max_attempts: None,
        healthy_after: Duration::from_secs(1),
    };
    c.queue_limit = 16;
    c
}

/// What the test expects of one request.
#[derive(Debug)]
pub struct Expect {
    pub tokens: Vec<Bytes>,
    pub retry_safe: bool,
    pub answers: u32,
    pub answer: Option<Result<Value, RequestError>>,
}

/// The driver and checker.
pub struct Sim {
    pub conn: Connection,
    pub now: Instant,
    pub start: Instant,
    /// Scripts for the next server connections (front first); `Script::OK` after that.
    pub scripts: Vec<Script>,
    pub server: Option<FakeServer>,
    /// `Open` asked for, not yet answered.
    pub open_pending: bool,
    /// Handed out by `Transmit`, not yet accepted by the "socket".
    pub unwritten: BytesMut,
    pub expects: HashMap<RequestId, Expect>,
    pub order: Vec<RequestId>,
    pub executed: HashMap<Bytes, u32>,
    pub state: StateKind,
    pub transitions: Vec<(StateKind, StateKind, Option<CloseReason>, u32)>,
    pub pushes: usize,
    pub opens: usize,
    /// Feed inputs with `handle_input_with`, taking replies as they are decoded (else with
    /// `handle_input`, every reply an `Output::Reply`).
    pub direct: bool,
    next_token: u64,
    /// The model of the attempt counter: the current attempt's number.
    model_attempt: u32,
    /// When the current connection completed its handshake.
    connected_since: Option<Instant>,
    /// When the last `Reconnecting` was entered, and the delay range the model allows.
    backoff_window: Option<(Instant, Duration, Duration)>,
}

/// The model's backoff: the delay range after `failures` failed attempts in a row.
pub fn model_delay(b: &Backoff, failures: u32) -> (Duration, Duration) {
    if failures == 0 {
        return (Duration::ZERO, Duration::ZERO);
    }
    let mut d = b.base.as_secs_f64();
    for _ in 1..failures.min(64) {
        d *= b.factor;
    }
    let d = d.min(b.cap.as_secs_f64());
    // Float rounding in either computation: a microsecond of slack.
    let slack = 1e-6;
    (
        Duration::from_secs_f64((d * (1.0 - b.jitter) - slack).max(0.0)),
        Duration::from_secs_f64(d + slack),
    )
}

impl Sim {
    pub fn new(config: Config) -> Sim {
        let start = Instant::now();
        let mut sim = Sim {
            conn: Connection::new(config, start),
            now: start,
            start,
            scripts: Vec::new(),
            server: None,
            open_pending: false,
            unwritten: BytesMut::new(),
            expects: HashMap::new(),
            order: Vec::new(),
            executed: HashMap::new(),
            state: StateKind::Connecting,
            transitions: Vec::new(),
            pushes: 0,
            opens: 0,
            direct: false,
            next_token: 0,
            model_attempt: 1,
            connected_since: None,
            backoff_window: None,
        };
        sim.drain();
        sim
    }

    pub fn token(&mut self) -> Bytes {
        self.next_token += 1;
        Bytes::from(format!("t{}", self.next_token))
    }

    /// Submits `n` ECHO commands as one request (n == 1: a single command) and drains the
    /// outputs, checking any immediate answer against the state the request met.
    pub fn submit(&mut self, n: usize, options: RequestOptions) -> RequestId {
        let pending_before = self.conn.backlog();
        let state_before = self.conn.state();
        let id = self.submit_undrained(n, options);
        let outs = self.drain();
        // Immediate rejections are consistent with the state the request met.
        for (rid, result) in outs {
            if rid != id {
                continue;
            }
            match result {
                Err(RequestError::QueueFull) => assert!(
                    pending_before >= self.conn.config().queue_limit,
                    "QueueFull with {pending_before} pending"
                ),
                Err(RequestError::NotConnected(_)) => {
                    assert_eq!(self.conn.config().queue_policy, QueuePolicy::FailFast);
                    assert!(matches!(
                        state_before,
                        StateKind::Connecting | StateKind::Reconnecting
                    ));
                }
                Err(RequestError::Closed) => {
                    assert!(matches!(
                        state_before,
                        StateKind::Draining | StateKind::Closed
                    ))
                }
                Err(RequestError::Failed(_)) => assert_eq!(state_before, StateKind::Failed),
                Ok(v) if n == 0 => assert_eq!(v, Value::Array(vec![])),
                other => panic!("unexpected immediate answer {other:?} in {state_before:?}"),
            }
        }
        id
    }

    /// Submits `n` ECHO commands as one request (n == 1: a single command) and records the
    /// answer it must get, leaving the outputs undrained: the caller has not yet taken what
    /// the submission wrote.
    pub fn submit_undrained(&mut self, n: usize, options: RequestOptions) -> RequestId {
        let tokens: Vec<Bytes> = (0..n).map(|_| self.token()).collect();
        let cmds: Vec<_> = tokens
            .iter()
            .map(|t| cmd("ECHO").arg(std::str::from_utf8(t).unwrap()))
            .collect();
        let request = if n == 1 {
            Request::single(&cmds[0])
        } else {
            Request::batch(&cmds)
        };
        let id = self.conn.submit(request.with_options(options), self.now);
        assert!(!self.expects.contains_key(&id), "id {id:?} reused");
        self.expects.insert(
            id,
            Expect {
                tokens,
                retry_safe: options.retry_safe,
                answers: 0,
                answer: None,
            },
        );
        self.order.push(id);
        id
    }

    pub fn input(&mut self, input: Input<'_>) {
        if self.direct {
            let mut replies = Vec::new();
            self.conn
                .handle_input_with(input, self.now, |id, value| replies.push((id, value)));
            // Given first: they come before every output still queued.
            for (id, value) in replies {
                self.check_answer(id, &Ok(value));
            }
        } else {
            self.conn.handle_input(input, self.now);
        }
        self.drain();
    }

    /// Advances the clock by `dt` and delivers a timer firing.
    pub fn advance(&mut self, dt: Duration) {
        self.now += dt;
        self.input(Input::Timeout);
    }

    /// Advances the clock to the machine's next deadline (if any) and fires it.
    pub fn fire_next_timer(&mut self) -> bool {
        match self.conn.poll_timeout() {
            Some(t) => {
                self.now = self.now.max(t);
                self.input(Input::Timeout);
                true
            }
            None => false,
        }
    }

    /// Answers a pending `Open`.
    pub fn open(&mut self, ok: bool) {
        if !self.open_pending {
            return;
        }
        self.open_pending = false;
        if ok {
            let script = if self.scripts.is_empty() {
                Script::OK
            } else {
                self.scripts.remove(0)
            };
            self.server = Some(FakeServer::new(script));
            self.input(Input::SocketOpened);
        } else {
            self.input(Input::OpenFailed(io::ErrorKind::ConnectionRefused));
        }
    }

    /// The socket accepts up to `n` bytes; the server runs what is complete.
    pub fn write(&mut self, n: usize) {
        let n = n.min(self.unwritten.len());
        if n == 0 {
            return;
        }
        let chunk = self.unwritten.split_to(n);
        if let Some(server) = &mut self.server {
            server.feed(&chunk, &mut self.executed);
        }
        self.input(Input::Written(n));
    }

    /// Up to `n` bytes of the server's replies arrive.
    pub fn read(&mut self, n: usize) {
        let Some(server) = &mut self.server else {
            return;
        };
        let n = n.min(server.out.len());
        if n == 0 {
            return;
        }
        let chunk = server.out.split_to(n).freeze();
        self.input(Input::Received(&chunk));
    }

    /// Raw bytes from the server (garbage, unsolicited replies).
    pub fn inject(&mut self, bytes: &[u8]) {
        if self.server.is_some() {
            self.input(Input::Received(bytes));
        }
    }

    pub fn eof(&mut self) {
        if self.server.is_some() {
            self.input(Input::Eof);
        }
    }

    pub fn io_error(&mut self) {
        if self.server.is_some() {
            self.input(Input::IoError(io::ErrorKind::ConnectionReset));
        }
    }

    /// Moves every byte both ways until nothing moves.
    pub fn pump(&mut self) {
        for _ in 0..1000 {
            let before = (
                self.unwritten.len(),
                self.server.as_ref().map_or(0, |s| s.out.len()),
            );
            if before == (0, 0) {
                return;
            }
            self.write(usize::MAX);
            self.read(usize::MAX);
        }
    }

    /// Drains outputs, checking each; returns the replies seen.
    pub fn drain(&mut self) -> Vec<(RequestId, Result<Value, RequestError>)> {
        let mut replies = Vec::new();
        while let Some(out) = self.conn.poll_output() {
            match out {
                Output::Open(endpoint) => {
                    assert_eq!(endpoint, self.conn.config().endpoint);
                    assert!(!self.state.is_terminal(), "Open after {:?}", self.state);
                    assert!(
                        self.server.is_none() && !self.open_pending,
                        "Open while a socket exists"
                    );
                    assert_eq!(self.state, StateKind::Connecting);
                    self.open_pending = true;
                    self.opens += 1;
                }
                Output::Transmit(bytes) => {
                    assert!(self.server.is_some(), "Transmit while no socket is open");
                    assert!(!bytes.is_empty(), "empty Transmit");
                    if !matches!(self.state, StateKind::Connected | StateKind::Draining) {
                        assert!(
                            !bytes.windows(4).any(|w| w == b"ECHO"),
                            "request written before the handshake completed"
                        );
                    }
                    self.unwritten.extend_from_slice(&bytes);
                }
                Output::CloseSocket(_) => {
                    assert!(
                        self.server.is_some() || self.open_pending,
                        "CloseSocket while no socket is open or opening"
                    );
                    self.open_pending = false;
                    self.server = None;
                    self.unwritten.clear();
                }
                Output::Reply { id, result } => {
                    self.check_answer(id, &result);
                    replies.push((id, result));
                }
                Output::Push(v) => {
                    assert!(matches!(v, Value::Push(_)));
                    self.pushes += 1;
                }
                Output::Transition(t) => {
                    assert_eq!(t.from, self.state, "transition chain broken: {t:?}");
                    assert!(LEGAL.contains(&(t.from, t.to)), "illegal transition {t:?}");
                    assert!(t.at <= self.now);
                    match t.to {
                        StateKind::Reconnecting => {
                            let r = t.reason.as_ref().expect("reconnect without a reason");
                            assert!(model_retryable(r), "reconnecting after non-retryable {r:?}");
                            assert_eq!(r.is_retryable(), model_retryable(r));
                        }
                        StateKind::Failed => {
                            let r = t.reason.as_ref().expect("failed without a reason");
                            assert_eq!(r.is_retryable(), model_retryable(r));
                            let max = self.conn.config().backoff.max_attempts;
                            assert!(
                                !model_retryable(r) || max.is_some_and(|m| t.attempt >= m.max(1)),
                                "gave up on retryable {r:?} at attempt {} (max {max:?})",
                                t.attempt
                            );
                        }
                        StateKind::Connecting => {
                            if let Some(m) = self.conn.config().backoff.max_attempts {
                                assert!(
                                    t.attempt <= m.max(1),
                                    "attempt {} beyond max {m}",
                                    t.attempt
                                );
                            }
                        }
                        _ => {}
                    }
                    self.check_attempts(&t);
                    self.state = t.to;
                    self.transitions.push((t.from, t.to, t.reason, t.attempt));
                }
            }
        }
        assert_eq!(
            self.conn.state(),
            self.state,
            "state() disagrees with the transitions"
        );
        if let Some(t) = self.conn.poll_timeout() {
            assert!(t >= self.now, "deadline in the past");
        }
        if self.state.is_terminal() {
            assert!(
                self.conn.poll_timeout().is_none(),
                "terminal state wants a timer"
            );
        }
        replies
    }

    /// The reference model of attempts and backoff: the counter grows by one per failed
    /// attempt, resets after a healthy connection, and each wait is in the model's range.
    fn check_attempts(&mut self, t: &redwire_core::conn::Transition) {
        let backoff = self.conn.config().backoff;
        let failures = match t.from {
            StateKind::Connected => {
                let since = self.connected_since.expect("connected without a handshake");
                if t.at.saturating_duration_since(since) >= backoff.healthy_after {
                    0
                } else {
                    self.model_attempt
                }
            }
            _ => self.model_attempt,
        };
        match (t.from, t.to) {
            (_, StateKind::Reconnecting) => {
                assert_eq!(
                    t.attempt,
                    failures + 1,
                    "attempt number after {failures} failures"
                );
                let (lo, hi) = model_delay(&backoff, failures);
                self.backoff_window = Some((t.at, lo, hi));
                self.model_attempt = t.attempt;
            }
            (StateKind::Connecting | StateKind::Connected, StateKind::Failed) => {
                assert_eq!(t.attempt, failures, "attempt number on giving up");
            }
            (StateKind::Reconnecting, StateKind::Connecting) => {
                assert_eq!(t.attempt, self.model_attempt);
                let (entered, lo, _) = self
                    .backoff_window
                    .take()
                    .expect("reconnecting without a delay");
                assert!(
                    t.at - entered >= lo,
                    "attempt started before the backoff delay"
                );
            }
            (StateKind::Connecting, StateKind::Connected) => {
                assert_eq!(t.attempt, self.model_attempt);
                self.connected_since = Some(t.at);
            }
            _ => {}
        }
    }

    fn check_answer(&mut self, id: RequestId, result: &Result<Value, RequestError>) {
        let e = self.expects.get_mut(&id);
        // Answers during submit arrive before the id is recorded; `submit` re-checks.
        let Some(e) = e else {
            assert!(!self.order.contains(&id));
            return;
        };
        e.answers += 1;
        assert_eq!(e.answers, 1, "request {id:?} answered twice: {result:?}");
        e.answer = Some(result.clone());
        let runs: Vec<u32> = e
            .tokens
            .iter()
            .map(|t| *self.executed.get(t).unwrap_or(&0))
            .collect();
        let limit = if e.retry_safe { 2 } else { 1 };
        assert!(
            runs.iter().all(|&r| r <= limit),
            "request {id:?} ran {runs:?} times"
        );
        match result {
            Ok(v) => {
                let want = if e.tokens.len() == 1 {
                    Value::BulkString(e.tokens[0].clone().into())
                } else {
                    Value::Array(
                        e.tokens
                            .iter()
                            .map(|t| Value::BulkString(t.clone().into()))
                            .collect(),
                    )
                };
                assert_eq!(v, &want, "request {id:?} got someone else's reply");
            }
            Err(err) if !err.was_written() => {
                assert!(
                    runs.iter().all(|&r| r == 0),
                    "{err:?} claims not written, but it ran"
                );
            }
            Err(_) => {}
        }
    }

    /// Closes and runs everything to a terminal state with a cooperative world, then
    /// checks that every request was answered exactly once.
    pub fn finish(&mut self) {
        self.input(Input::Close);
        for _ in 0..10_000 {
            if self.state.is_terminal() {
                break;
            }
            self.open(true);
            self.pump();
            if self.state.is_terminal() {
                break;
            }
            self.fire_next_timer();
        }
        assert!(
            self.state.is_terminal(),
            "did not reach a terminal state: {:?}",
            self.state
        );
        // Nothing more ever comes out.
        self.advance(Duration::from_secs(3600));
        assert!(self.conn.poll_output().is_none());
        for id in &self.order {
            let e = &self.expects[id];
            assert_eq!(e.answers, 1, "request {id:?} answered {} times", e.answers);
        }
        assert_eq!(self.conn.pending_requests(), 0);
    }
}

/// One step of a randomly generated scenario (shared by proptest and the fuzz target).
#[derive(Debug, Clone)]
pub enum Step {
    /// Submit a request of `n` commands (0..=3).
    Submit {
        n: u8,
        retry_safe: bool,
        timeout_ms: Option<u16>,
    },
    OpenOk,
    OpenFail,
    Write(u16),
    Read(u16),
    Eof,
    IoError,
    Garbage,
    Unsolicited,
    Mute,
    Advance(u16),
    FireTimer,
    /// Move every byte both ways.
    Pump,
    Close,
    /// Script of the next server connection.
    NextScript(Script),
}

impl Sim {
    pub fn step(&mut self, step: &Step) {
        match step {
            Step::Submit {
                n,
                retry_safe,
                timeout_ms,
            } => {
                let options = RequestOptions {
                    timeout: timeout_ms.map(|ms| Duration::from_millis(u64::from(ms))),
                    retry_safe: *retry_safe,
                };
                self.submit(usize::from(*n), options);
            }
            Step::OpenOk => self.open(true),
            Step::OpenFail => self.open(false),
            Step::Write(n) => self.write(usize::from(*n)),
            Step::Read(n) => self.read(usize::from(*n)),
            Step::Eof => self.eof(),
            Step::IoError => self.io_error(),
            // Injected only when every reply the server wrote was delivered, so they arrive
            // at a frame boundary, as from a real server.
            Step::Garbage => {
                if self.server.as_ref().is_some_and(|s| s.out.is_empty()) {
                    self.inject(b"?garbage\r\n");
                }
            }
            Step::Unsolicited => {
                // Unsolicited only if the server also answered everything the client wrote:
                // then no reply is expected and the machine must notice.
                let idle = self.unwritten.is_empty();
                if self
                    .server
                    .as_ref()
                    .is_some_and(|s| s.out.is_empty() && !s.mute && idle)
                {
                    self.inject(b"+SURPRISE\r\n");
                }
            }
            Step::Mute => {
                if let Some(s) = &mut self.server {
                    s.mute = true;
                }
            }
            Step::Advance(ms) => self.advance(Duration::from_millis(u64::from(*ms))),
            Step::FireTimer => {
                self.fire_next_timer();
            }
            Step::Pump => self.pump(),
            Step::Close => self.input(Input::Close),
            Step::NextScript(s) => self.scripts.push(*s),
        }
    }
}

/// Configuration variations exercised by the generated scenarios.
pub fn config_variant(
    protocol_resp2: bool,
    password: bool,
    database: u32,
    fail_fast: bool,
    max_attempts: Option<u32>,
) -> Config {
    let mut c = sim_config();
    if protocol_resp2 {
        c.protocol = ProtocolVersion::Resp2;
    }
    if password {
        c.password = Some(redwire_core::conn::Password::new("secret"));
        c.client_name = Some("sim".into());
    }
    c.database = database;
    if fail_fast {
        c.queue_policy = QueuePolicy::FailFast;
    }
    c.backoff.max_attempts = max_attempts;
    c
}

/// Decodes a scenario from arbitrary bytes (for the fuzz target): the first byte picks
/// the configuration, then each step takes one or two bytes.
pub fn scenario_from_bytes(data: &[u8]) -> (Config, Vec<Step>) {
    let mut it = data.iter().copied();
    let flags = it.next().unwrap_or(0);
    let max_attempts = match (flags >> 5) & 3 {
        0 => None,
        n => Some(u32::from(n)),
    };
    let mut config = config_variant(
        flags & 1 != 0,
        flags & 2 != 0,
        if flags & 4 != 0 { 5 } else { 0 },
        flags & 8 != 0,
        max_attempts,
    );
    config.seed = u64::from(flags);
    if flags & 16 != 0 {
        config.response_timeout = Some(Duration::from_millis(800));
    }
    let mut steps = Vec::new();
    while let Some(op) = it.next() {
        if steps.len() >= 400 {
            break;
        }
        let arg = it.next().unwrap_or(0);
        let step = match op % 20 {
            0..=3 => Step::Submit {
                n: arg % 4,
                retry_safe: arg & 0x10 != 0,
                timeout_ms: (arg & 0x20 != 0).then_some(u16::from(arg) * 8),
            },
            4 | 5 => Step::OpenOk,
            6 => Step::OpenFail,
            7 | 8 => Step::Write(u16::from(arg) + 1),
            9 | 10 => Step::Read(u16::from(arg) + 1),
            11 => Step::Pump,
            12 => match arg % 5 {
                0 => Step::Eof,
                1 => Step::IoError,
                2 => Step::Garbage,
                3 => Step::Unsolicited,
                _ => Step::Mute,
            },
            13 | 14 => Step::Advance(u16::from(arg) * 10),
            15 | 16 => Step::FireTimer,
            17 => Step::Close,
            _ => {
                let code = Code::ALL[usize::from(arg >> 4) % Code::ALL.len()];
                let hello = match arg % 8 {
                    0 => Hello::Unknown,
                    1 => Hello::Reject(code),
                    _ => Hello::Accept,
                };
                Step::NextScript(Script {
                    hello,
                    auth: (arg % 16 == 9).then_some(code),
                    select: (arg % 16 == 10).then_some(code),
                    ping: (arg % 16 == 11).then_some(code),
                    pushes: arg & 4 != 0,
                })
            }
        };
        steps.push(step);
    }
    (config, steps)
}
