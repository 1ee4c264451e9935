//! redwire-core: the sans-IO heart of redwire, a Redis client whose connections survive
//! proxies, failover and restarts.
//!
//! This crate performs no I/O, reads no clock, spawns nothing and depends on no runtime.
//! It holds the two parts of a Redis client that are pure logic, so they can be tested
//! deterministically and driven by any event loop:
//!
//! - [`resp`]: the RESP2/RESP3 value model, an incremental zero-copy decoder with limits,
//!   and the command encoder.
//! - [`conn`]: the connection state machine. One [`Connection`](conn::Connection) is one
//!   logical connection to a server through any number of physical sockets: it runs the
//!   handshake, pipelines requests and matches replies, times requests out, checks the
//!   connection's health, and decides every reconnect from a typed
//!   [`CloseReason`](conn::CloseReason).
//!
//! The async client (`redwire-client`) and its runtime adapters drive it; so can a
//! dozen lines over `std::net`, as below.
//!
//! # Driving a connection
//!
//! The caller owns the socket and the clock. It feeds [`Input`](conn::Input)s with the
//! current time, submits [`Request`](conn::Request)s, and drains
//! [`Output`](conn::Output)s until there are none: open a socket, transmit bytes, close
//! the socket, deliver a reply or a push, report a transition. Then it waits for bytes
//! or for [`poll_timeout`](conn::Connection::poll_timeout), whichever comes first.
//! Every request gets exactly one [`Output::Reply`](conn::Output::Reply): its reply, or a
//! typed [`RequestError`](conn::RequestError) that says whether it was written.
//!
//! A complete blocking event loop (this is also `examples/std_net.rs`, which the tests
//! run against a real `redis-server`):
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//!
//! use redwire_core::conn::{Config, Connection, Endpoint, Input, Output, Request};
//! use redwire_core::resp::cmd;
//!
//! fn main() -> std::io::Result<()> {
//!     let config = Config::new(Endpoint::tcp("127.0.0.1", 6379));
//!     let mut conn = Connection::new(config, Instant::now());
//!     conn.submit(Request::single(&cmd("SET").arg("greeting").arg("hello")), Instant::now());
//!     conn.submit(Request::single(&cmd("GET").arg("greeting")), Instant::now());
//!
//!     let mut socket: Option<TcpStream> = None;
//!     let mut buf = vec![0u8; 16 * 1024];
//!     let mut answered = 0;
//!     loop {
//!         // 1. Do everything the state machine asks, until it has nothing left.
//!         while let Some(output) = conn.poll_output() {
//!             let now = Instant::now();
//!             match output {
//!                 Output::Open(Endpoint::Tcp { host, port }) => {
//!                     match TcpStream::connect((host.as_str(), port)) {
//!                         Ok(s) => {
//!                             socket = Some(s);
//!                             conn.handle_input(Input::SocketOpened, now);
//!                         }
//!                         Err(e) => conn.handle_input(Input::OpenFailed(e.kind()), now),
//!                     }
//!                 }
//!                 Output::Open(Endpoint::Unix(_)) => {
//!                     conn.handle_input(Input::OpenFailed(ErrorKind::Unsupported), now)
//!                 }
//!                 Output::Transmit(bytes) => match socket.as_mut().unwrap().write_all(&bytes) {
//!                     Ok(()) => conn.handle_input(Input::Written(bytes.len()), now),
//!                     Err(e) => conn.handle_input(Input::IoError(e.kind()), now),
//!                 },
//!                 Output::CloseSocket(_reason) => socket = None,
//!                 Output::Reply { id, result } => {
//!                     println!("{id:?}: {result:?}");
//!                     answered += 1;
//!                     if answered == 2 {
//!                         conn.handle_input(Input::Close, now); // graceful: drains first
//!                     }
//!                 }
//!                 Output::Push(value) => println!("push: {value:?}"),
//!                 Output::Transition(t) => println!("{} -> {} ({:?})", t.from, t.to, t.reason),
//!             }
//!         }
//!         if conn.state().is_terminal() {
//!             return Ok(());
//!         }
//!         // 2. Wait for bytes or the next deadline, whichever comes first.
//!         let wait = conn.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()));
//!         match socket.as_mut() {
//!             Some(s) => {
//!                 // std rejects a zero read timeout: wait at least a millisecond.
//!                 s.set_read_timeout(wait.map(|w| w.max(Duration::from_millis(1))))?;
//!                 match s.read(&mut buf) {
//!                     Ok(0) => conn.handle_input(Input::Eof, Instant::now()),
//!                     Ok(n) => conn.handle_input(Input::Received(&buf[..n]), Instant::now()),
//!                     Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                         conn.handle_input(Input::Timeout, Instant::now())
//!                     }
//!                     Err(e) => conn.handle_input(Input::IoError(e.kind()), Instant::now()),
//!                 }
//!             }
//!             None => {
//!                 // Between sockets (backoff): nothing to read.
//!                 std::thread::sleep(wait.unwrap_or_default());
//!                 conn.handle_input(Input::Timeout, Instant::now());
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! Rules for drivers:
//! - Write the bytes of each [`Output::Transmit`](conn::Output::Transmit) in order and
//!   report [`Input::Written`](conn::Input::Written) as the socket accepts them: the
//!   state machine uses it to know which requests may have reached the server when a
//!   connection is lost.
//! - After [`Output::CloseSocket`](conn::Output::CloseSocket), feed nothing more about
//!   that socket (a pending `Open` is abandoned too).
//! - Deliver [`Input::Timeout`](conn::Input::Timeout) at or after
//!   [`poll_timeout`](conn::Connection::poll_timeout); early or extra timeouts are harmless.
//! - Drain [`poll_pubsub`](conn::Connection::poll_pubsub) along with `poll_output` when using
//!   Pub/Sub or `CLIENT TRACKING` (undrained events are capped, oldest dropped first).
//! - For zero-copy reads, append to [`read_buf`](conn::Connection::read_buf) and report
//!   [`Input::ReceivedInPlace`](conn::Input::ReceivedInPlace) instead of copying through
//!   [`Input::Received`](conn::Input::Received).
//!
//! # States
//!
//! ```text
//!                                 new()
//!                                   |
//!              backoff elapsed      v      attempt failed: retryable, attempts left
//!   Reconnecting ------------> Connecting ------------------------------> Reconnecting
//!     |                          |  |  |
//!     | close             close  |  |  | attempt failed: not retryable or no attempts left
//!     v                          |  |  v
//!   Closed <---------------------+  |  Failed
//!     ^                             |  ^
//!     |                   handshake |  | lost: not retryable or no attempts left
//!     |                   completed v  |
//!     |                          Connected -----------------------------> Reconnecting
//!     |                             |         lost: retryable, attempts left
//!     |                       close |
//!     |                             v
//!     +------------------------- Draining
//!       replies received, drain timeout, or lost
//! ```
//!
//! (`Reconnecting` is drawn three times to keep the lines straight; it is one state.)
//!
//! Every legal edge, as in [`conn::TRANSITIONS`] (the code checks each transition against
//! that table, and reports it as [`Output::Transition`](conn::Output::Transition)):
//!
//! | From | To | On |
//! |---|---|---|
//! | Connecting | Connected | handshake completed |
//! | Connecting | Reconnecting | attempt failed, reason retryable, attempts left |
//! | Connecting | Failed | attempt failed, reason not retryable or no attempts left |
//! | Connecting | Closed | close requested |
//! | Connected | Draining | close requested |
//! | Connected | Reconnecting | connection lost, reason retryable, attempts left |
//! | Connected | Failed | connection lost, reason not retryable or no attempts left |
//! | Draining | Closed | replies received, drain timeout, or connection lost |
//! | Reconnecting | Connecting | backoff delay elapsed |
//! | Reconnecting | Closed | close requested |
//!
//! `Failed` and `Closed` are terminal. Each state owns its data
//! ([`Connection::state_detail`](conn::Connection::state_detail)): the attempt number,
//! its deadline, the reason the last connection ended.
//!
//! Attempts: the first attempt is made at once. After `n` failed attempts in a row the
//! next one waits `base * factor^(n-1)` (capped, minus up to `jitter` of it, drawn from a
//! source seeded by [`Config::seed`](conn::Config::seed)); after
//! [`max_attempts`](conn::Backoff::max_attempts) failures in a row the state is `Failed`.
//! A connection that stayed up for [`healthy_after`](conn::Backoff::healthy_after) resets
//! the count, and when it is lost the next attempt is made at once.
//!
//! # The handshake
//!
//! Each new socket runs the handshake before any request is written. With RESP3 it sends
//! `HELLO 3 [AUTH user pass] [SETNAME name]` first (a server that answers `ERR` or
//! `NOPROTO` is spoken to in RESP2, with `AUTH` and `CLIENT SETNAME`); then `SELECT`, the
//! configured [`handshake_commands`](conn::Config::handshake_commands) and a final `PING`
//! are pipelined. Without configured commands, `SELECT` and `PING` are written with `HELLO`
//! itself (and run again after the RESP2 setup if `HELLO` is refused), so the handshake is
//! one round trip; configured commands wait for `HELLO` to be accepted. The handshake is
//! complete when the `PING` is answered. The `PING` is the readiness probe: a restarted server
//! still loading its dataset accepts `HELLO`, `AUTH` and `SELECT` but answers `PING` with
//! `LOADING`, so the attempt ends with a retryable `HandshakeRejected` and backs off,
//! and queued requests stay queued, unwritten, instead of each being refused.
//!
//! # Close reasons
//!
//! Every end of a socket or attempt has a [`CloseReason`](conn::CloseReason), and
//! [`CloseReason::is_retryable`](conn::CloseReason::is_retryable) alone decides whether
//! to try again. No message text is ever read.
//!
//! | Reason | Retryable | When |
//! |---|---|---|
//! | `PeerClosed` | yes | EOF: server restart, `CLIENT KILL`, a proxy shutting sessions when its backend died |
//! | `Io(kind)` | yes | connect refused, reset, unreachable |
//! | `Timeout(Connect)` | yes | the socket did not open within `connect_timeout` |
//! | `Timeout(Handshake)` | yes | the handshake did not finish within `handshake_timeout` |
//! | `Timeout(Unresponsive)` | yes | requests outstanding and nothing received for `unresponsive_timeout` |
//! | `Timeout(HealthCheck)` | yes | the idle `PING` got no reply within `health_check_timeout` |
//! | `Timeout(Drain)` | no | a requested close did not finish within `drain_timeout` |
//! | `Protocol(kind)` | yes | the bytes are not RESP, or broke a decoder limit |
//! | `UnexpectedReply` | yes | a reply no request was waiting for |
//! | `HandshakeRejected(e)` | `LOADING`, `BUSY`, `MASTERDOWN`, `TRYAGAIN`, `CLUSTERDOWN` only | `WRONGPASS`, `NOAUTH`, `NOPERM`, an `ERR` from `SELECT`... end in `Failed` |
//! | `ClientRequested` | no | [`Input::Close`](conn::Input::Close) |
//!
//! # What happens to requests
//!
//! - Until the handshake is done, requests wait in a queue, or fail at once with
//!   `NotConnected` under [`QueuePolicy::FailFast`](conn::QueuePolicy::FailFast). Nothing
//!   but the handshake is written before it completes.
//! - [`queue_limit`](conn::Config::queue_limit) bounds the requests held, queued or
//!   written and awaiting a reply: beyond it, `QueueFull` at once.
//! - Once connected, everything submitted between two polls goes out in one `Transmit`
//!   (a request of 16 KiB or more goes out as its own, uncopied). Replies are matched in
//!   order; push frames never take a reply's place. At steady state this path allocates
//!   nothing beyond the request and its reply.
//! - When a connection is lost, a request none of whose bytes were confirmed written goes
//!   back to the queue, in order, and is written on the next connection. A written one is
//!   answered `ConnectionLost` (it may or may not have run), unless it was marked
//!   [`retry_safe`](conn::RequestOptions::retry_safe): then it is sent once more. A batch
//!   (pipeline or `MULTI`/`EXEC`) is one unit: never split across connections.
//! - A per-request timeout answers `Timeout { written }`; a written request keeps its
//!   place so its late reply is read and dropped, and the stream stays in step.
//! - Entering `Failed` answers every held request `Failed(reason)`; a close answers
//!   queued requests `Closed` (from `Draining`, after waiting for written ones).
//!
//! # Pub/Sub and push data
//!
//! [`Request::subscribe`](conn::Request::subscribe) and
//! [`Request::unsubscribe`](conn::Request::unsubscribe) (channels, patterns, shard
//! channels) are answered once, when the server has confirmed every name. Messages,
//! confirmations and `CLIENT TRACKING` invalidations come typed from
//! [`Connection::poll_pubsub`](conn::Connection::poll_pubsub), in RESP3 (push frames,
//! interleaved with replies) and in RESP2 (arrays; a subscribed RESP2 connection accepts only
//! subscription commands and `PING`, so use a dedicated one). The connection keeps the
//! confirmed [`Subscriptions`](conn::Subscriptions) and, after every reconnect, subscribes
//! to all of them again before writing any queued request; once confirmed it reports
//! [`PubSubEvent::Gap`](conn::PubSubEvent::Gap) (Pub/Sub is at-most-once: what was
//! published during the outage is lost) and
//! [`PubSubEvent::Resubscribed`](conn::PubSubEvent::Resubscribed).
#![warn(missing_docs)]

pub mod conn;
pub mod resp;
