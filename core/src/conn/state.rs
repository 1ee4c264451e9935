//! Connection states, their data, and the one table of legal transitions.
//!
//! The state machine changes state only through `Connection::transition`, which checks the
//! edge against [`TRANSITIONS`] (the same table as in the crate docs) and reports it as an
//! [`Output::Transition`](super::Output::Transition).

use std::fmt;
use std::time::Instant;

use super::handshake::Handshake;
use super::CloseReason;

/// Which state the connection is in, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// Opening a socket or running the handshake.
    Connecting,
    /// Ready: requests are written as they come.
    Connected,
    /// A close was requested: writing what is queued, waiting for replies.
    Draining,
    /// Waiting before the next attempt.
    Reconnecting,
    /// Terminal: gave up, with a reason.
    Failed,
    /// Terminal: closed as requested.
    Closed,
}

impl StateKind {
    /// Every state, in declaration order: `StateKind::ALL[s as usize] == s`.
    pub const ALL: [StateKind; 6] = [
        StateKind::Connecting,
        StateKind::Connected,
        StateKind::Draining,
        StateKind::Reconnecting,
        StateKind::Failed,
        StateKind::Closed,
    ];

    /// Whether no transition leaves this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, StateKind::Failed | StateKind::Closed)
    }

    /// Whether `self -> to` is a row of [`TRANSITIONS`].
    pub fn can_transition_to(self, to: StateKind) -> bool {
        TRANSITIONS.iter().any(|e| e.from == self && e.to == to)
    }
}

// `Closed` is the last variant: a state added after it must be added to `ALL` too.
const _: () = assert!(StateKind::Closed as usize + 1 == StateKind::ALL.len());
const _: () = {
    let mut i = 0;
    while i < StateKind::ALL.len() {
        assert!(StateKind::ALL[i] as usize == i);
        i += 1;
    }
};

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One legal edge of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// State left.
    pub from: StateKind,
    /// State entered.
    pub to: StateKind,
    /// What causes it.
    pub on: &'static str,
}

const fn edge(from: StateKind, to: StateKind, on: &'static str) -> Edge {
    Edge { from, to, on }
}

use StateKind::*;

/// Every legal transition. Nothing else ever happens; `Failed` and `Closed` have no way out.
pub const TRANSITIONS: &[Edge] = &[
    edge(Connecting, Connected, "handshake completed"),
    edge(
        Connecting,
        Reconnecting,
        "attempt failed, reason retryable, attempts left",
    ),
    edge(
        Connecting,
        Failed,
        "attempt failed, reason not retryable or no attempts left",
    ),
    edge(Connecting, Closed, "close requested"),
    edge(Connected, Draining, "close requested"),
    edge(
        Connected,
        Reconnecting,
        "connection lost, reason retryable, attempts left",
    ),
    edge(
        Connected,
        Failed,
        "connection lost, reason not retryable or no attempts left",
    ),
    edge(
        Draining,
        Closed,
        "replies received, drain timeout, or connection lost",
    ),
    edge(Reconnecting, Connecting, "backoff delay elapsed"),
    edge(Reconnecting, Closed, "close requested"),
];

/// A state change, reported for every transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// State left.
    pub from: StateKind,
    /// State entered.
    pub to: StateKind,
    /// Why, where a connection ended.
    pub reason: Option<CloseReason>,
    /// Connection attempt number (1 for the first attempt after a healthy period).
    pub attempt: u32,
    /// When it happened (the `now` of the input that caused it).
    pub at: Instant,
}

/// The current state with the data it owns, as reported by
/// [`Connection::state_detail`](super::Connection::state_detail).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateDetail {
    /// Opening a socket (`handshaking == false`) or running the handshake.
    Connecting {
        /// Attempt number in the current series of failures (1 for the first).
        attempt: u32,
        /// Whether the socket is open and the handshake is running.
        handshaking: bool,
        /// When this phase times out.
        deadline: Instant,
        /// Why the previous connection or attempt ended, if there was one.
        last_reason: Option<CloseReason>,
    },
    /// Ready.
    Connected {
        /// The attempt that made this connection.
        attempt: u32,
        /// When the handshake completed.
        since: Instant,
    },
    /// Finishing outstanding requests before closing.
    Draining {
        /// When the drain gives up.
        deadline: Instant,
    },
    /// Waiting before the next attempt.
    Reconnecting {
        /// The number the next attempt will have.
        attempt: u32,
        /// When it starts.
        at: Instant,
        /// Why the last connection or attempt ended.
        reason: CloseReason,
    },
    /// Gave up.
    Failed {
        /// The reason that ended the last attempt.
        reason: CloseReason,
    },
    /// Closed as requested.
    Closed,
}

/// The state machine's own state: each state owns exactly the data it needs.
///
/// An explicit tag byte: the state is tested on every request and reply, and a tag hidden
/// in a niche of the states' data takes several compares to read.
#[derive(Debug)]
#[repr(u8)]
pub(crate) enum State {
    Connecting(Connecting),
    Connected {
        attempt: u32,
        since: Instant,
    },
    Draining {
        deadline: Instant,
        attempt: u32,
    },
    Reconnecting {
        attempt: u32,
        at: Instant,
        reason: CloseReason,
    },
    Failed {
        reason: CloseReason,
        attempt: u32,
    },
    Closed {
        attempt: u32,
    },
}

#[derive(Debug)]
pub(crate) struct Connecting {
    pub attempt: u32,
    pub phase: Phase,
    pub deadline: Instant,
    pub last_reason: Option<CloseReason>,
}

#[derive(Debug)]
pub(crate) enum Phase {
    /// [`Output::Open`](super::Output::Open) was emitted; waiting for the socket.
    Opening,
    /// The socket is open; handshake replies are consumed here.
    Handshaking(Handshake),
}

impl State {
    pub(crate) fn kind(&self) -> StateKind {
        match self {
            State::Connecting(_) => Connecting,
            State::Connected { .. } => Connected,
            State::Draining { .. } => Draining,
            State::Reconnecting { .. } => Reconnecting,
            State::Failed { .. } => Failed,
            State::Closed { .. } => Closed,
        }
    }

    /// The attempt number reported with a transition into this state.
    pub(crate) fn attempt(&self) -> u32 {
        match self {
            State::Connecting(c) => c.attempt,
            State::Connected { attempt, .. }
            | State::Draining { attempt, .. }
            | State::Reconnecting { attempt, .. }
            | State::Failed { attempt, .. }
            | State::Closed { attempt } => *attempt,
        }
    }

    pub(crate) fn detail(&self) -> StateDetail {
        match self {
            State::Connecting(c) => StateDetail::Connecting {
                attempt: c.attempt,
                handshaking: matches!(c.phase, Phase::Handshaking(_)),
                deadline: c.deadline,
                last_reason: c.last_reason.clone(),
            },
            State::Connected { attempt, since } => StateDetail::Connected {
                attempt: *attempt,
                since: *since,
            },
            State::Draining { deadline, .. } => StateDetail::Draining {
                deadline: *deadline,
            },
            State::Reconnecting {
                attempt,
                at,
                reason,
            } => StateDetail::Reconnecting {
                attempt: *attempt,
                at: *at,
                reason: reason.clone(),
            },
            State::Failed { reason, .. } => StateDetail::Failed {
                reason: reason.clone(),
            },
            State::Closed { .. } => StateDetail::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_have_no_way_out() {
        for e in TRANSITIONS {
            assert!(!e.from.is_terminal(), "{e:?}");
            assert_ne!(e.from, e.to);
        }
    }

    #[test]
    fn every_state_is_reachable_and_edges_are_unique() {
        for s in [Connected, Draining, Reconnecting, Failed, Closed] {
            assert!(TRANSITIONS.iter().any(|e| e.to == s), "{s:?} unreachable");
        }
        for (i, a) in TRANSITIONS.iter().enumerate() {
            for b in &TRANSITIONS[i + 1..] {
                assert!(!(a.from == b.from && a.to == b.to), "duplicate {a:?}");
            }
        }
    }
}
