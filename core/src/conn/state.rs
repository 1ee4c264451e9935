//! Connection states, their data, and the table of legal transitions.

use std::time::Instant;

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
