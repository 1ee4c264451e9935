//! Typed errors of the protocol layer: malformed streams ([`ProtocolError`])
//! and error replies from the server ([`ServerError`]).
//!
//! A server error's code is parsed once, where the frame is decoded; nothing
//! downstream ever looks at its message text to decide anything.

use thiserror::Error;

/// The stream is not valid RESP (or breaks a configured limit).
///
/// After a protocol error the decoder is poisoned: the byte stream can no
/// longer be trusted and the connection must be replaced.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("RESP protocol error at byte {offset}: {kind}")]
pub struct ProtocolError {
    /// What was wrong.
    pub kind: ProtocolErrorKind,
    /// Offset, in bytes since the decoder was created, of the byte at which the problem was found.
    pub offset: u64,
}

/// What made a stream invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum ProtocolErrorKind {
    /// A frame began with a byte that is not a RESP type marker.
    #[error("unknown type byte {0:#04x}")]
    UnknownType(u8),
    /// An integer (`:`) line is not a valid signed 64-bit decimal.
    #[error("invalid integer")]
    InvalidInteger,
    /// A length or count is not a valid decimal, or is negative where only `-1` is allowed.
    #[error("invalid length")]
    InvalidLength,
    /// A double (`,`) line is not a valid number, `inf`, `-inf` or `nan`.
    #[error("invalid double")]
    InvalidDouble,
    /// A boolean (`#`) is neither `t` nor `f`.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// A big number (`(`) contains something other than an optional sign and digits.
    #[error("invalid big number")]
    InvalidBigNumber,
    /// A verbatim string (`=`) is shorter than 4 bytes or lacks the `xxx:` format prefix.
    #[error("invalid verbatim string format")]
    InvalidVerbatim,
    /// A null (`_`) carries data.
    #[error("invalid null")]
    InvalidNull,
    /// A line or bulk payload is not terminated by CRLF.
    #[error("missing CRLF")]
    MissingCrlf,
    /// A streamed string chunk (`;`) or end marker (`.`) appeared where it is not allowed.
    #[error("unexpected streaming marker")]
    UnexpectedStreamMarker,
    /// A simple string, error or other line exceeds the line length limit without a CRLF.
    #[error("line too long")]
    LineTooLong,
    /// A bulk string declares more bytes than the bulk length limit.
    #[error("bulk length exceeds the limit")]
    BulkTooLong,
    /// An aggregate declares more elements than the aggregate length limit.
    #[error("aggregate length exceeds the limit")]
    AggregateTooLong,
    /// Aggregates nest deeper than the depth limit.
    #[error("nesting exceeds the depth limit")]
    TooDeep,
    /// One frame needs more buffered bytes than the frame size limit.
    #[error("frame exceeds the size limit")]
    FrameTooLarge,
    /// The decoder had already failed; it does not decode further input.
    #[error("decoder already failed on an earlier frame")]
    Poisoned,
}

/// An error reply from the server (`-` simple error or `!` bulk error).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{code}: {message}")]
pub struct ServerError {
    /// The error code, the first word of the reply.
    pub code: ServerErrorCode,
    /// The rest of the reply after the code, for humans. Never parsed.
    pub message: Box<str>,
}

/// The code that starts a server error reply, typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerErrorCode {
    /// `ERR`: generic error (also what servers without `HELLO` answer to it).
    Err,
    /// `WRONGTYPE`: operation against a key holding the wrong kind of value.
    WrongType,
    /// `MOVED`: cluster redirection, permanent.
    Moved,
    /// `ASK`: cluster redirection, for one command.
    Ask,
    /// `LOADING`: the server is loading its dataset.
    Loading,
    /// `NOAUTH`: authentication required.
    NoAuth,
    /// `WRONGPASS`: invalid username/password pair.
    WrongPass,
    /// `NOPERM`: the ACL user lacks the permission.
    NoPerm,
    /// `NOPROTO`: the requested protocol version is not supported.
    NoProto,
    /// `READONLY`: write against a read-only replica.
    ReadOnly,
    /// `MASTERDOWN`: the link with the master is down.
    MasterDown,
    /// `BUSY`: a script or function is running.
    Busy,
    /// `NOSCRIPT`: no script with that SHA1.
    NoScript,
    /// `EXECABORT`: a transaction was discarded because of earlier errors.
    ExecAbort,
    /// `CLUSTERDOWN`: the cluster is down.
    ClusterDown,
    /// `TRYAGAIN`: multi-key command during resharding.
    TryAgain,
    /// `CROSSSLOT`: keys hash to different slots.
    CrossSlot,
    /// `OOM`: over the memory limit.
    Oom,
    /// `NOREPLICAS`: not enough good replicas.
    NoReplicas,
    /// `BUSYKEY`: target key already exists.
    BusyKey,
    /// `MISCONF`: the server cannot persist and refuses writes.
    Misconf,
    /// `UNBLOCKED`: a blocked client was unblocked by `CLIENT UNBLOCK ... ERROR`.
    Unblocked,
    /// Any other code, as sent.
    Other(String),
}

impl ServerErrorCode {
    /// The code as the server spells it.
    pub fn as_str(&self) -> &str {
        match self {
            ServerErrorCode::Err => "ERR",
            ServerErrorCode::WrongType => "WRONGTYPE",
            ServerErrorCode::Moved => "MOVED",
            ServerErrorCode::Ask => "ASK",
            ServerErrorCode::Loading => "LOADING",
            ServerErrorCode::NoAuth => "NOAUTH",
            ServerErrorCode::WrongPass => "WRONGPASS",
            ServerErrorCode::NoPerm => "NOPERM",
            ServerErrorCode::NoProto => "NOPROTO",
            ServerErrorCode::ReadOnly => "READONLY",
            ServerErrorCode::MasterDown => "MASTERDOWN",
            ServerErrorCode::Busy => "BUSY",
            ServerErrorCode::NoScript => "NOSCRIPT",
            ServerErrorCode::ExecAbort => "EXECABORT",
            ServerErrorCode::ClusterDown => "CLUSTERDOWN",
            ServerErrorCode::TryAgain => "TRYAGAIN",
            ServerErrorCode::CrossSlot => "CROSSSLOT",
            ServerErrorCode::Oom => "OOM",
            ServerErrorCode::NoReplicas => "NOREPLICAS",
            ServerErrorCode::BusyKey => "BUSYKEY",
            ServerErrorCode::Misconf => "MISCONF",
            ServerErrorCode::Unblocked => "UNBLOCKED",
            ServerErrorCode::Other(s) => s,
        }
    }
}

impl std::fmt::Display for ServerErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ServerErrorCode {
    /// The typed code for the first word of an error reply; unknown codes are kept as [`ServerErrorCode::Other`].
    pub fn from_code(code: &str) -> ServerErrorCode {
        match code {
            "ERR" => ServerErrorCode::Err,
            "WRONGTYPE" => ServerErrorCode::WrongType,
            "MOVED" => ServerErrorCode::Moved,
            "ASK" => ServerErrorCode::Ask,
            "LOADING" => ServerErrorCode::Loading,
            "NOAUTH" => ServerErrorCode::NoAuth,
            "WRONGPASS" => ServerErrorCode::WrongPass,
            "NOPERM" => ServerErrorCode::NoPerm,
            "NOPROTO" => ServerErrorCode::NoProto,
            "READONLY" => ServerErrorCode::ReadOnly,
            "MASTERDOWN" => ServerErrorCode::MasterDown,
            "BUSY" => ServerErrorCode::Busy,
            "NOSCRIPT" => ServerErrorCode::NoScript,
            "EXECABORT" => ServerErrorCode::ExecAbort,
            "CLUSTERDOWN" => ServerErrorCode::ClusterDown,
            "TRYAGAIN" => ServerErrorCode::TryAgain,
            "CROSSSLOT" => ServerErrorCode::CrossSlot,
            "OOM" => ServerErrorCode::Oom,
            "NOREPLICAS" => ServerErrorCode::NoReplicas,
            "BUSYKEY" => ServerErrorCode::BusyKey,
            "MISCONF" => ServerErrorCode::Misconf,
            "UNBLOCKED" => ServerErrorCode::Unblocked,
            other => ServerErrorCode::Other(other.to_owned()),
        }
    }
}

impl ServerError {
    /// Splits the text of an error reply (`-` line or `!` payload) into its
    /// code, the first space-separated word, and the message after it.
    ///
    /// This is the one place a server error's text is examined. Bytes that
    /// are not UTF-8 are replaced with U+FFFD.
    pub fn parse(text: &[u8]) -> ServerError {
        let text = String::from_utf8_lossy(text);
        let (code, message) = match text.split_once(' ') {
            Some((code, message)) => (code, message),
            None => (&*text, ""),
        };
        ServerError {
            code: ServerErrorCode::from_code(code),
            message: message.into(),
        }
    }

    /// The reply text as the server sent it: the code, a space and the message
    /// (just the code when the message is empty).
    pub fn to_text(&self) -> String {
        if self.message.is_empty() {
            self.code.as_str().to_owned()
        } else {
            format!("{} {}", self.code.as_str(), self.message)
        }
    }
}
