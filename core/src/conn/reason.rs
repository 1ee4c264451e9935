//! Why a connection ended, typed. Whether to reconnect is decided by this type alone
//! ([`CloseReason::is_retryable`]); nothing reads an error message to decide.

use std::io;

use thiserror::Error;

use crate::resp::{ProtocolErrorKind, ServerError, ServerErrorCode};

/// Why a physical connection was closed (or could not be made).
///
/// | Reason | Retryable | Typical cause |
/// |---|---|---|
/// | `PeerClosed` | yes | server restart, `CLIENT KILL`, idle timeout, a proxy dropping sessions when its backend died |
/// | `Io(kind)` | yes | connection refused or reset, unreachable host |
/// | `Timeout(Connect)` | yes | the socket did not open in time |
/// | `Timeout(Handshake)` | yes | the server accepted the socket but did not finish the handshake in time |
/// | `Timeout(Unresponsive)` | yes | requests outstanding, nothing received for too long (black-holed link) |
/// | `Timeout(HealthCheck)` | yes | the idle `PING` was not answered in time |
/// | `Timeout(Drain)` | no | a requested close did not finish in time |
/// | `Protocol(kind)` | yes | bytes that are not RESP, or a decoder limit was hit |
/// | `UnexpectedReply` | yes | a reply arrived that no request was waiting for |
/// | `HandshakeRejected(e)` | only for `LOADING`, `BUSY`, `MASTERDOWN`, `TRYAGAIN`, `CLUSTERDOWN` | wrong password (`WRONGPASS`), missing auth (`NOAUTH`), ACL (`NOPERM`), bad `SELECT` (`ERR`) |
/// | `ClientRequested` | no | the application asked to close |
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
    /// The server sent a (non-push) reply while no request was waiting for one: the
    /// stream is out of step with the requests and cannot be trusted.
    #[error("unexpected reply: no request was waiting for one")]
    UnexpectedReply,
    /// The server answered a handshake command with an error.
    #[error("handshake rejected: {0}")]
    HandshakeRejected(ServerError),
    /// The application asked to close.
    #[error("closed by the client")]
    ClientRequested,
}

impl CloseReason {
    /// Whether a new connection may succeed where this one ended: the state machine
    /// reconnects on exactly these reasons (within [`Backoff::max_attempts`](super::Backoff::max_attempts)).
    ///
    /// Transport faults, timeouts of a live connection, protocol errors and transient
    /// server conditions during the handshake are retryable; a rejected handshake
    /// (credentials, permissions, a bad database index) and a requested close are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            CloseReason::PeerClosed
            | CloseReason::Io(_)
            | CloseReason::Protocol(_)
            | CloseReason::UnexpectedReply => true,
            CloseReason::Timeout(kind) => kind.is_retryable(),
            CloseReason::HandshakeRejected(e) => is_transient(&e.code),
            CloseReason::ClientRequested => false,
        }
    }
}

/// Server conditions that pass on their own: the same handshake can succeed later.
fn is_transient(code: &ServerErrorCode) -> bool {
    matches!(
        code,
        ServerErrorCode::Loading
            | ServerErrorCode::Busy
            | ServerErrorCode::MasterDown
            | ServerErrorCode::TryAgain
            | ServerErrorCode::ClusterDown
    )
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

impl TimeoutKind {
    /// Whether a connection that ended on this deadline may be replaced. Only
    /// [`TimeoutKind::Drain`] is not: it ends a close the application asked for.
    pub fn is_retryable(self) -> bool {
        !matches!(self, TimeoutKind::Drain)
    }
}
