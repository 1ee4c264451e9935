//! RESP2/RESP3: the value model, an incremental zero-copy decoder, the
//! command encoder and conversions from replies to Rust types.
//!
//! This is the protocol boundary of redwire. Bytes from the socket go into
//! a [`Decoder`], which hands out whole [`Value`]s; malformed input or a
//! broken [`Limits`] bound becomes a typed [`ProtocolError`] (and the
//! connection has to be replaced), and a server error reply is split once,
//! here, into a typed [`ServerErrorCode`] and its message. Commands go out
//! through [`Cmd`], encoded as they are built. [`from_value`] turns a reply
//! into a Rust type, accepting the RESP2 and RESP3 shapes of the same reply.
//!
//! ```
//! use bytes::BytesMut;
//! use redwire_core::resp::{cmd, from_value, Decoder, Limits, ReplyError, ServerErrorCode};
//!
//! // What a client writes...
//! let mut out = BytesMut::new();
//! cmd("INCRBY").arg("counter").arg(5).write_to(&mut out);
//! assert_eq!(&out[..], b"*3\r\n$6\r\nINCRBY\r\n$7\r\ncounter\r\n$1\r\n5\r\n");
//!
//! // ...and how it reads the replies, however they are split by the network.
//! let mut decoder = Decoder::new(Limits::default());
//! let mut read_buf = BytesMut::from(&b":5\r\n-WRONGTYPE Operation against a key holding the wr"[..]);
//! let reply = decoder.decode(&mut read_buf).unwrap().unwrap();
//! assert_eq!(from_value::<i64>(reply).unwrap(), 5);
//! assert_eq!(decoder.decode(&mut read_buf).unwrap(), None); // the error reply is not complete yet
//! read_buf.extend_from_slice(b"ong kind of value\r\n");
//! let reply = decoder.decode(&mut read_buf).unwrap().unwrap();
//! match from_value::<i64>(reply) {
//!     Err(ReplyError::Server(e)) => assert_eq!(e.code, ServerErrorCode::WrongType),
//!     other => panic!("{other:?}"),
//! }
//! ```

mod convert;
#[doc(hidden)]
pub mod corpus;
mod decode;
pub(crate) mod encode;
mod error;
mod payload;
mod value;

pub use convert::{from_value, ConversionError, FromValue, ReplyError};
pub use decode::{Decoder, Limits};
pub use encode::{cmd, encode_value, Cmd, ToArg};
pub use error::{ProtocolError, ProtocolErrorKind, ServerError, ServerErrorCode};
pub use payload::Payload;
pub use value::Value;
