//! Why a connection ended, typed. Whether to reconnect is decided by this type alone.

use std::io;

use thiserror::Error;

use crate::resp::{ProtocolErrorKind, ServerError};

/// Why a physical connection was closed (or could not be made).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the stream (EOF). A proxy shutting sessions when its backend dies looks exactly like this.
    #[error("peer closed the connection")]
    PeerClosed,
    /// Opening, reading or writing the socket failed.
    #[error("I/O error: {0}")]
    Io(io::ErrorKind),
    /// A deadline passed.
    #[error("timed out: {0}")]
    Timeout(TimeoutKind),
    /// The server sent bytes that are not valid RESP (or broke a limit).
    #[error("protocol error: {0}")]
    Protocol(ProtocolErrorKind),
    /// The server answered a handshake command with an error.
    #[error("handshake rejected: {0}")]
    HandshakeRejected(ServerError),
    /// The application asked to close.
    #[error("closed by the client")]
    ClientRequested,
}

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The socket did not open in time.
    #[error("connect")]
    Connect,
    /// The handshake did not complete in time.
    #[error("handshake")]
    Handshake,
    /// Requests were outstanding and nothing was received for too long.
    #[error("connection unresponsive")]
    Unresponsive,
    /// The idle health check `PING` was not answered in time.
    #[error("health check")]
    HealthCheck,
    /// A graceful close did not finish in time.
    #[error("drain")]
    Drain,
}
