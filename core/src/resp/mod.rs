//! RESP2/RESP3: the value model, an incremental zero-copy decoder, the
//! command encoder and conversions from replies to Rust types.

mod convert;
#[doc(hidden)]
pub mod corpus;
mod decode;
mod encode;
mod error;
mod value;

pub use convert::{from_value, ConversionError, FromValue, ReplyError};
pub use decode::{Decoder, Limits};
pub use encode::{cmd, encode_value, Cmd, ToArg};
pub use error::{ProtocolError, ProtocolErrorKind, ServerError, ServerErrorCode};
pub use value::Value;
