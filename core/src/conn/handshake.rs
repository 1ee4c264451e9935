//! The handshake run on every new socket before any request is written.
//!
//! With RESP3 it first sends `HELLO 3 [AUTH user pass] [SETNAME name]` alone, because
//! what follows depends on the answer: a server without `HELLO` (or without RESP3)
//! answers `ERR`/`NOPROTO`, and the handshake falls back to RESP2 with `AUTH` and
//! `CLIENT SETNAME`. Then `SELECT`, the configured handshake commands and a final `PING`
//! are pipelined. The `PING` is the readiness probe: a server still loading its dataset
//! accepts `HELLO`, `AUTH` and `SELECT` but answers `PING` with `LOADING`, which makes the
//! attempt a retryable rejection (the client backs off) instead of a connection that
//! refuses every request until loading ends.
//! Every reply is consumed here; the first error reply ends the handshake with that
//! typed error, and [`CloseReason::is_retryable`](super::CloseReason::is_retryable)
//! alone decides what happens next.

use bytes::BytesMut;

use super::{Config, ProtocolVersion};
use crate::resp::{cmd, ServerError, ServerErrorCode, Value};

/// Handshake progress on one socket.
#[derive(Debug)]
pub(crate) struct Handshake {
    step: Step,
    /// Replies still expected in the current step.
    pending: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `HELLO 3` sent alone, waiting for its reply.
    Hello,
    /// Authentication, name, database, user commands and the `PING` probe pipelined.
    Setup(ProtocolVersion),
}

/// What a handshake reply led to.
#[derive(Debug)]
pub(crate) enum Progress {
    /// More replies are expected (new commands may have been written).
    Pending,
    /// Done (the `PING` probe was answered), with the protocol the server speaks.
    Done(ProtocolVersion),
    /// The server refused a handshake command.
    Rejected(ServerError),
}

impl Handshake {
    /// Writes the first handshake commands to `out`. Every handshake ends with the
    /// `PING` probe, so it always waits for at least one reply.
    pub(crate) fn start(config: &Config, out: &mut BytesMut) -> Handshake {
        match config.protocol {
            ProtocolVersion::Resp3 => {
                let mut hello = cmd("HELLO").arg("3");
                if let Some(password) = &config.password {
                    let user = config.username.as_deref().unwrap_or("default");
                    hello = hello.arg("AUTH").arg(user).arg(password.expose());
                }
                if let Some(name) = &config.client_name {
                    hello = hello.arg("SETNAME").arg(name.as_str());
                }
                hello.write_to(out);
                Handshake {
                    step: Step::Hello,
                    pending: 1,
                }
            }
            ProtocolVersion::Resp2 => Self::setup(config, ProtocolVersion::Resp2, out),
        }
    }

    /// Pipelines the commands after `HELLO` (or all of them with RESP2), ending with
    /// the `PING` readiness probe, so at least one reply is always expected.
    fn setup(config: &Config, proto: ProtocolVersion, out: &mut BytesMut) -> Handshake {
        let mut n = 0;
        if proto == ProtocolVersion::Resp2 {
            // With RESP3 these were arguments of HELLO.
            if let Some(password) = &config.password {
                let auth = match &config.username {
                    Some(user) => cmd("AUTH").arg(user.as_str()).arg(password.expose()),
                    None => cmd("AUTH").arg(password.expose()),
                };
                auth.write_to(out);
                n += 1;
            }
            if let Some(name) = &config.client_name {
                cmd("CLIENT")
                    .arg("SETNAME")
                    .arg(name.as_str())
                    .write_to(out);
                n += 1;
            }
        }
        if config.database != 0 {
            cmd("SELECT").arg(i64::from(config.database)).write_to(out);
            n += 1;
        }
        for c in &config.handshake_commands {
            c.write_to(out);
            n += 1;
        }
        // The readiness probe, last so that it runs once everything above was accepted.
        // A server loading its dataset accepts the commands above but refuses `PING`
        // with `LOADING`, a retryable rejection: the attempt backs off and requests stay
        // queued, unwritten, instead of being refused one by one.
        cmd("PING").write_to(out);
        n += 1;
        // Subscriptions are restored right after this handshake, ahead of any request
        // (see `pubsub::restore_subscriptions`): their confirmations are push frames in
        // RESP3, counted apart from these replies.
        Handshake {
            step: Step::Setup(proto),
            pending: n,
        }
    }

    fn fall_back(&mut self, config: &Config, out: &mut BytesMut) -> Progress {
        *self = Self::setup(config, ProtocolVersion::Resp2, out);
        Progress::Pending
    }

    /// Consumes one (non-push) reply; may write the next step's commands to `out`.
    pub(crate) fn on_reply(
        &mut self,
        reply: Value,
        config: &Config,
        out: &mut BytesMut,
    ) -> Progress {
        self.pending = self.pending.saturating_sub(1);
        match (self.step, reply) {
            (Step::Hello, Value::Error(e)) => match e.code {
                // No HELLO (Redis < 6, many proxies) or no RESP3: speak RESP2. A server
                // without HELLO that requires a password answers NOAUTH before it even
                // looks at the command: when HELLO carried credentials, that too means
                // "no HELLO here", and AUTH will tell whether they are right.
                ServerErrorCode::Err | ServerErrorCode::NoProto => self.fall_back(config, out),
                ServerErrorCode::NoAuth if config.password.is_some() => self.fall_back(config, out),
                _ => Progress::Rejected(e),
            },
            (Step::Hello, _) => {
                *self = Self::setup(config, ProtocolVersion::Resp3, out);
                Progress::Pending
            }
            (Step::Setup(_), Value::Error(e)) => Progress::Rejected(e),
            (Step::Setup(proto), _) if self.pending == 0 => Progress::Done(proto),
            (Step::Setup(_), _) => Progress::Pending,
        }
    }
}
