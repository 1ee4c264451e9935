//! Conversions from replies to Rust types. (Contract only; implementation in progress.)

use thiserror::Error;

use super::{ServerError, Value};

/// A reply could not be turned into the requested type.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("cannot convert {found} reply to {expected}")]
pub struct ConversionError {
    /// The target type.
    pub expected: &'static str,
    /// The kind of value received.
    pub found: &'static str,
}

/// Why a reply did not become a `T`: the server answered with an error, or the value did not fit.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ReplyError {
    /// The server replied with an error.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The reply was not convertible.
    #[error(transparent)]
    Conversion(#[from] ConversionError),
}

/// Types a reply can be converted into.
pub trait FromValue: Sized {
    /// Converts a reply that is not a server error.
    fn from_value(value: Value) -> Result<Self, ConversionError>;
}

/// Converts a reply, surfacing a server error as [`ReplyError::Server`] (at any depth).
pub fn from_value<T: FromValue>(value: Value) -> Result<T, ReplyError> {
    match value {
        Value::Error(e) => Err(ReplyError::Server(e)),
        v => Ok(T::from_value(v)?),
    }
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        Ok(value)
    }
}
