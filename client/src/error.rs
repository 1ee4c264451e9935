//! The one error type of the client, matched on, never parsed.

use redwire_core::conn::{CloseReason, RequestError};
use redwire_core::resp::{ConversionError, ReplyError, ServerError, ServerErrorCode};
use thiserror::Error;

use crate::config::UrlError;

/// Why a request (or a connect) did not produce the value asked for.
///
/// Every variant says, through [`Error::was_written`], whether the request may have reached the
/// server: only then can it have run.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error reply; its code is typed ([`ServerError::code`]).
    #[error("server error: {0}")]
    Server(ServerError),
    /// The reply arrived but does not convert to the type asked for.
    #[error(transparent)]
    Conversion(ConversionError),
    /// No reply within the response timeout.
    #[error("request timed out (written: {written})")]
    Timeout {
        /// Whether any of the request was written: if so it may have run.
        written: bool,
    },
    /// The connection dropped after the request was written; it may or may not have run.
    #[error("connection lost after the request was written: {reason}")]
    ConnectionLost {
        /// Why the connection dropped.
        reason: CloseReason,
        /// Always `true`: requests that were not written are re-sent on the next connection.
        written: bool,
    },
    /// Too many requests were waiting for a connection; this one was not queued (not written).
    #[error("request queue is full")]
    QueueFull,
    /// No usable connection and the queue policy is fail-fast (not written).
    #[error("not connected")]
    NotConnected(Option<CloseReason>),
    /// The connection failed for good (retries exhausted, or a fatal reason); not written.
    #[error("connection failed: {0}")]
    Failed(CloseReason),
    /// The client was closed before the request could be written.
    #[error("client closed")]
    Closed,
    /// [`Client::connect`](crate::Client::connect) could not establish the first connection.
    #[error("could not connect: {0}")]
    Connect(CloseReason),
    /// The driver task stopped without answering (its runtime shut down); the request may
    /// have been written.
    #[error("the connection's driver task stopped (runtime shut down)")]
    DriverStopped,
    /// A request error of a kind this version does not name (kept whole, not guessed at).
    #[error(transparent)]
    Request(RequestError),
    /// The connection URL is not valid.
    #[error(transparent)]
    InvalidUrl(#[from] UrlError),
}

impl Error {
    /// Whether the request may have reached the server (and so may have run).
    pub fn was_written(&self) -> bool {
        match self {
            Error::Server(_) | Error::Conversion(_) => true,
            Error::Timeout { written } | Error::ConnectionLost { written, .. } => *written,
            Error::DriverStopped => true,
            Error::Request(e) => e.was_written(),
            Error::QueueFull
            | Error::NotConnected(_)
            | Error::Failed(_)
            | Error::Closed
            | Error::Connect(_)
            | Error::InvalidUrl(_) => false,
        }
    }

    /// The server's error code, for [`Error::Server`].
    pub fn server_code(&self) -> Option<&ServerErrorCode> {
        match self {
            Error::Server(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The connection's close reason, where the error comes from one.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        match self {
            Error::ConnectionLost { reason, .. }
            | Error::Failed(reason)
            | Error::Connect(reason) => Some(reason),
            Error::NotConnected(reason) => reason.as_ref(),
            _ => None,
        }
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Error {
        match e {
            RequestError::ConnectionLost(reason) => Error::ConnectionLost {
                reason,
                written: true,
            },
            RequestError::Timeout { written } => Error::Timeout { written },
            RequestError::QueueFull => Error::QueueFull,
            RequestError::NotConnected(reason) => Error::NotConnected(reason),
            RequestError::Failed(reason) => Error::Failed(reason),
            RequestError::Closed => Error::Closed,
            // `RequestError` is non-exhaustive: a kind added later reaches the caller unchanged.
            #[allow(unreachable_patterns)]
            other => Error::Request(other),
        }
    }
}

impl From<ReplyError> for Error {
    fn from(e: ReplyError) -> Error {
        match e {
            ReplyError::Server(e) => Error::Server(e),
            ReplyError::Conversion(e) => Error::Conversion(e),
        }
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Error {
        Error::Server(e)
    }
}

impl From<ConversionError> for Error {
    fn from(e: ConversionError) -> Error {
        Error::Conversion(e)
    }
}
