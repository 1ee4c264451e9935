//! The handshake run on every new socket before any request is written.
//!
//! With RESP3 it sends `HELLO 3 [AUTH user pass] [SETNAME name]` first. A server without
//! `HELLO` (or without RESP3) answers `ERR`/`NOPROTO`, and the handshake falls back to
//! RESP2 with `AUTH` and `CLIENT SETNAME`. Then come `SELECT`, the configured handshake
//! commands and a final `PING`. Without configured handshake commands, `SELECT` and the
//! `PING` are pipelined right behind `HELLO` (one round trip per connection instead of
//! two, through every proxy on the way): both are harmless to run whatever `HELLO`
//! answers, and when it is refused their replies are dropped and the RESP2 setup runs
//! them again. Configured commands are never run blindly: with some, `HELLO` is sent
//! alone and the rest follows its answer.
//!
//! The `PING` is the readiness probe: a server still loading its dataset
//! accepts `HELLO`, `AUTH` and `SELECT` but answers `PING` with `LOADING`, which makes the
//! attempt a retryable rejection (the client backs off) instead of a connection that
//! refuses every request until loading ends.
//! Every reply is consumed here; the first error reply of the setup ends the handshake with
//! that typed error, and [`CloseReason::is_retryable`](super::CloseReason::is_retryable)
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
    /// `HELLO 3` sent, waiting for its reply; `behind` more commands (the setup it is
    /// followed by when accepted) were pipelined behind it, or none.
    Hello { behind: usize },
    /// `HELLO` was refused: the replies to the `skip` commands pipelined behind it come
    /// first and are dropped (they ran before the connection was set up), then the RESP2
    /// setup's.
    Fallback { skip: usize },
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
                // What follows an accepted HELLO, sent along when it is safe to run
                // whatever HELLO answers (see the module docs).
                let behind = if config.handshake_commands.is_empty() {
                    Self::write_tail(config, out)
                } else {
                    0
                };
                Handshake {
                    step: Step::Hello { behind },
                    pending: 1 + behind,
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
        n += Self::write_tail(config, out);
        // Subscriptions are restored right after this handshake, ahead of any request
        // (see `pubsub::restore_subscriptions`): their confirmations are push frames in
        // RESP3, counted apart from these replies.
        Handshake {
            step: Step::Setup(proto),
            pending: n,
        }
    }

    /// Writes what every handshake ends with, `SELECT`, the configured commands and the
    /// `PING` probe; returns how many commands that is.
    fn write_tail(config: &Config, out: &mut BytesMut) -> usize {
        let mut n = 0;
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
        n + 1
    }

    /// `HELLO` was refused: sets up RESP2, after dropping the replies to the `skip`
    /// commands that were pipelined behind `HELLO`.
    fn fall_back(&mut self, skip: usize, config: &Config, out: &mut BytesMut) -> Progress {
        *self = Self::setup(config, ProtocolVersion::Resp2, out);
        if skip > 0 {
            self.step = Step::Fallback { skip };
            self.pending += skip;
        }
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
            (Step::Hello { behind }, Value::Error(e)) => match e.code {
                // No HELLO (Redis < 6, many proxies) or no RESP3: speak RESP2. A server
                // without HELLO that requires a password answers NOAUTH before it even
                // looks at the command: when HELLO carried credentials, that too means
                // "no HELLO here", and AUTH will tell whether they are right.
                ServerErrorCode::Err | ServerErrorCode::NoProto => {
                    self.fall_back(behind, config, out)
                }
                ServerErrorCode::NoAuth if config.password.is_some() => {
                    self.fall_back(behind, config, out)
                }
                _ => Progress::Rejected(e),
            },
            (Step::Hello { behind: 0 }, _) => {
                *self = Self::setup(config, ProtocolVersion::Resp3, out);
                Progress::Pending
            }
            // The rest of the setup is already on its way.
            (Step::Hello { .. }, _) => {
                self.step = Step::Setup(ProtocolVersion::Resp3);
                Progress::Pending
            }
            // Whatever these say (an error too: NOAUTH before AUTH), the RESP2 setup
            // behind them decides.
            (Step::Fallback { skip }, _) => {
                self.step = match skip - 1 {
                    0 => Step::Setup(ProtocolVersion::Resp2),
                    skip => Step::Fallback { skip },
                };
                Progress::Pending
            }
            (Step::Setup(_), Value::Error(e)) => Progress::Rejected(e),
            (Step::Setup(proto), _) if self.pending == 0 => Progress::Done(proto),
            (Step::Setup(_), _) => Progress::Pending,
        }
    }
}
