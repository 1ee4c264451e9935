//! The reply value model: every RESP2 and RESP3 type, as one enum.
//!
//! String payloads are [`Payload`]s: short ones inline, long ones zero-copy
//! slices of the connection's read buffer, so a large bulk string is never
//! copied between the socket and the caller.

use super::error::ServerError;
use super::payload::Payload;

/// One complete RESP2 or RESP3 value.
///
/// RESP2's null bulk string (`$-1`) and null array (`*-1`) and RESP3's `_`
/// all decode to [`Value::Null`]. RESP3 streamed strings (`$?`) decode to
/// [`Value::BulkString`] and streamed aggregates (`*?`, `%?`, `~?`) to the
/// matching aggregate: the framing is a transport detail, not part of the value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+OK`: a short, binary-safe status line.
    SimpleString(Payload),
    /// `-ERR ...` (simple error) or `!<len>` (bulk error), split into its typed code.
    Error(ServerError),
    /// `:42`
    Integer(i64),
    /// `$5\r\nhello`
    BulkString(Payload),
    /// `$-1`, `*-1` (RESP2) or `_` (RESP3).
    Null,
    /// `*<n>`
    Array(Vec<Value>),
    /// `#t` / `#f`
    Boolean(bool),
    /// `,3.14`, `,inf`, `,-inf`, `,nan`
    Double(f64),
    /// `(3492890328409238509324850943850943825024385`: the decimal digits, with an optional leading `-`.
    BigNumber(Payload),
    /// `=15\r\ntxt:Some string`: the three-byte format and the text.
    Verbatim {
        /// The format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after `xxx:`.
        text: Payload,
    },
    /// `%<n>`: key/value pairs in the order the server sent them.
    Map(Vec<(Value, Value)>),
    /// `~<n>`
    Set(Vec<Value>),
    /// `|<n>` attributes, kept and attached to the value they precede.
    Attribute {
        /// The attribute map.
        attributes: Vec<(Value, Value)>,
        /// The value the attributes describe.
        value: Box<Value>,
    },
    /// `><n>`: out-of-band data (Pub/Sub messages, invalidations, ...).
    Push(Vec<Value>),
}

// Six words, with a short payload (up to 32 bytes) stored inline in it.
const _: () = assert!(std::mem::size_of::<Value>() <= 48);

impl Value {
    /// A short name of the value's RESP type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::SimpleString(_) => "simple string",
            Value::Error(_) => "error",
            Value::Integer(_) => "integer",
            Value::BulkString(_) => "bulk string",
            Value::Null => "null",
            Value::Array(_) => "array",
            Value::Boolean(_) => "boolean",
            Value::Double(_) => "double",
            Value::BigNumber(_) => "big number",
            Value::Verbatim { .. } => "verbatim string",
            Value::Map(_) => "map",
            Value::Set(_) => "set",
            Value::Attribute { .. } => "attribute",
            Value::Push(_) => "push",
        }
    }

    /// The value without the attributes attached to it (at its top level).
    #[inline]
    pub fn without_attributes(self) -> Value {
        // The check is inlined into every conversion; the rare unwrapping is not.
        if matches!(self, Value::Attribute { .. }) {
            return self.strip_attributes();
        }
        self
    }

    #[cold]
    #[inline(never)]
    fn strip_attributes(self) -> Value {
        let mut v = self;
        while let Value::Attribute { value, .. } = v {
            v = *value;
        }
        v
    }

    /// Whether this is an out-of-band push (possibly carrying attributes).
    pub fn is_push(&self) -> bool {
        let mut v = self;
        while let Value::Attribute { value, .. } = v {
            v = value;
        }
        matches!(v, Value::Push(_))
    }
}
