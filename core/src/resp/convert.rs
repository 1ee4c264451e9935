//! Conversions from replies to Rust types.
//!
//! A conversion accepts the shapes the same reply takes in RESP2 and RESP3:
//! a map may arrive as a flat array of keys and values, a double as a bulk
//! string, a boolean as the integer 0 or 1, a null as `$-1`, `*-1` or `_`.
//! Attributes are looked through. A server error anywhere in the reply, at
//! any depth, is returned as [`ReplyError::Server`] with its typed code,
//! never as a conversion failure (except when converting to [`Value`], which
//! keeps nested errors as values: that is how `EXEC` results are inspected).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;
use thiserror::Error;

use super::decode::{parse_double, parse_i64};
use super::{Payload, ServerError, Value};

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
///
/// Implementors write [`FromValue::from_value`]; containers also override
/// [`FromValue::from_reply`] so that a server error nested in the reply
/// surfaces as [`ReplyError::Server`].
pub trait FromValue: Sized {
    /// Converts a reply that is not a server error.
    fn from_value(value: Value) -> Result<Self, ConversionError>;

    /// Converts a reply that may be, or contain, a server error.
    ///
    /// The default looks through attributes and returns a top-level error as
    /// [`ReplyError::Server`]; containers apply it to each element.
    #[inline]
    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        match value.without_attributes() {
            Value::Error(e) => Err(ReplyError::Server(e)),
            v => Ok(Self::from_value(v)?),
        }
    }
}

/// Converts a reply, surfacing a server error as [`ReplyError::Server`] (at any depth).
///
/// ```
/// use std::collections::HashMap;
/// use redwire_core::resp::{from_value, ReplyError, ServerErrorCode, Value};
///
/// // RESP2 sends HGETALL as a flat array, RESP3 as a map: both convert.
/// let resp2 = Value::Array(vec![Value::BulkString("a".into()), Value::BulkString("1".into())]);
/// let map: HashMap<String, i64> = from_value(resp2).unwrap();
/// assert_eq!(map["a"], 1);
///
/// let err = Value::Error(redwire_core::resp::ServerError::parse(b"WRONGTYPE Operation against a key"));
/// match from_value::<i64>(err) {
///     Err(ReplyError::Server(e)) => assert_eq!(e.code, ServerErrorCode::WrongType),
///     other => panic!("{other:?}"),
/// }
/// ```
#[inline]
pub fn from_value<T: FromValue>(value: Value) -> Result<T, ReplyError> {
    match value {
        Value::Error(e) => Err(ReplyError::Server(e)),
        v => T::from_reply(v),
    }
}

fn mismatch(expected: &'static str, found: &Value) -> ConversionError {
    ConversionError {
        expected,
        found: found.type_name(),
    }
}

/// A nested server error, reported through the `from_value` path (which has
/// no room for it) as a conversion failure.
fn demote(expected: &'static str, e: ReplyError) -> ConversionError {
    match e {
        ReplyError::Conversion(c) => c,
        ReplyError::Server(_) => ConversionError {
            expected,
            found: "error",
        },
    }
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        Ok(value)
    }

    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        Ok(value)
    }
}

/// Accepts any reply that is not an error (`OK`, a count, ...).
impl FromValue for () {
    fn from_value(_: Value) -> Result<Self, ConversionError> {
        Ok(())
    }
}

/// The bytes of a string-like reply.
#[inline]
fn string_bytes(value: Value, expected: &'static str) -> Result<Payload, ConversionError> {
    match value {
        Value::BulkString(b) | Value::SimpleString(b) | Value::BigNumber(b) => Ok(b),
        Value::Verbatim { text, .. } => Ok(text),
        Value::Integer(n) => Ok(Payload::from(n.to_string())),
        Value::Double(d) => Ok(Payload::from(format_double(d))),
        v => Err(mismatch(expected, &v)),
    }
}

fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{d}")
    }
}

/// The payload as the decoder made it: no copy, whatever its length.
impl FromValue for Payload {
    #[inline]
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        string_bytes(value, "Payload")
    }

    /// As the default, with the usual reply (a bulk string) taken in one match: each
    /// further step moves the whole value again.
    #[inline]
    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        match value {
            Value::BulkString(b) => Ok(b),
            v => payload_reply(v),
        }
    }
}

/// [`Payload::from_reply`] for anything but a bulk string (the default `from_reply`).
fn payload_reply(value: Value) -> Result<Payload, ReplyError> {
    match value.without_attributes() {
        Value::Error(e) => Err(ReplyError::Server(e)),
        v => Ok(Payload::from_value(v)?),
    }
}

/// A long payload is handed over as it is; a short one (stored inline) is
/// copied into a new buffer. Ask for [`Payload`] to avoid that copy.
impl FromValue for Bytes {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        string_bytes(value, "Bytes").map(Payload::into_bytes)
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        string_bytes(value, "Vec<u8>").map(Vec::from)
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        let b = string_bytes(value, "String")?;
        String::from_utf8(Vec::from(b)).map_err(|_| ConversionError {
            expected: "String",
            found: "non-UTF-8 bytes",
        })
    }
}

/// An integer from an integer reply, a decimal string (RESP2 sends many
/// numbers as bulk strings), a double with no fractional part, or a boolean.
fn integer(value: &Value, expected: &'static str) -> Result<i128, ConversionError> {
    let n = match value {
        Value::Integer(n) => Some(*n as i128),
        Value::BulkString(b) | Value::SimpleString(b) => parse_i64(b).map(i128::from),
        Value::BigNumber(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim_start_matches('+').parse().ok()),
        Value::Double(d) if d.fract() == 0.0 && d.abs() < 1.7e38 => Some(*d as i128),
        Value::Boolean(b) => Some(*b as i128),
        _ => None,
    };
    n.ok_or_else(|| mismatch(expected, value))
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self, ConversionError> {
                let n = integer(&value, stringify!($t))?;
                <$t>::try_from(n).map_err(|_| ConversionError { expected: stringify!($t), found: "out-of-range integer" })
            }
        }
    )*};
}

// No `u8`: `Vec<u8>` is the bytes of a string, not a list of small integers.
int_from_value!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize);

impl FromValue for f64 {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        match &value {
            Value::Double(d) => Ok(*d),
            Value::Integer(n) => Ok(*n as f64),
            Value::BulkString(b) | Value::SimpleString(b) | Value::BigNumber(b) => {
                parse_double(b).ok_or_else(|| mismatch("f64", &value))
            }
            _ => Err(mismatch("f64", &value)),
        }
    }
}

impl FromValue for f32 {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        f64::from_value(value)
            .map(|d| d as f32)
            .map_err(|e| ConversionError {
                expected: "f32",
                ..e
            })
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        match &value {
            Value::Boolean(b) => Ok(*b),
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            Value::BulkString(b) | Value::SimpleString(b) => match &b[..] {
                b"0" => Ok(false),
                b"1" => Ok(true),
                _ => Err(mismatch("bool", &value)),
            },
            _ => Err(mismatch("bool", &value)),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        Self::from_reply(value).map_err(|e| demote("Option", e))
    }

    #[inline]
    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        // Matched as it is (unwrapping attributes first would move the whole value again).
        match value {
            Value::Null => Ok(None),
            Value::Attribute { .. } => Self::from_reply(value.without_attributes()),
            v => T::from_reply(v).map(Some),
        }
    }
}

/// The elements of a sequence-shaped reply. A map gives its pairs as
/// two-element arrays (so `Vec<(K, V)>` reads a map); a null gives nothing.
fn elements(value: Value, expected: &'static str) -> Result<Vec<Value>, ReplyError> {
    match value.without_attributes() {
        Value::Array(items) | Value::Set(items) | Value::Push(items) => Ok(items),
        Value::Map(pairs) => Ok(pairs
            .into_iter()
            .map(|(k, v)| Value::Array(vec![k, v]))
            .collect()),
        Value::Null => Ok(Vec::new()),
        Value::Error(e) => Err(ReplyError::Server(e)),
        v => Err(mismatch(expected, &v).into()),
    }
}

/// The key/value pairs of a map-shaped reply: a RESP3 map, a RESP2 flat
/// array `[k1, v1, k2, v2, ...]`, or an array of two-element arrays.
fn pairs(value: Value, expected: &'static str) -> Result<Vec<(Value, Value)>, ReplyError> {
    match value.without_attributes() {
        Value::Map(pairs) => Ok(pairs),
        Value::Null => Ok(Vec::new()),
        Value::Error(e) => Err(ReplyError::Server(e)),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            // Keys of a RESP2 flat map are never aggregates, so an array
            // made only of two-element arrays is a list of pairs.
            let all_pairs = !items.is_empty()
                && items
                    .iter()
                    .all(|i| matches!(i, Value::Array(p) if p.len() == 2));
            if all_pairs {
                return Ok(items
                    .into_iter()
                    .map(|i| match i {
                        Value::Array(mut p) => {
                            let v = p.pop().unwrap_or(Value::Null);
                            let k = p.pop().unwrap_or(Value::Null);
                            (k, v)
                        }
                        other => (other, Value::Null),
                    })
                    .collect());
            }
            if items.len() % 2 != 0 {
                return Err(ConversionError {
                    expected,
                    found: "array of odd length",
                }
                .into());
            }
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Ok(out)
        }
        v => Err(mismatch(expected, &v).into()),
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        Self::from_reply(value).map_err(|e| demote("Vec", e))
    }

    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        elements(value, "Vec")?
            .into_iter()
            .map(T::from_reply)
            .collect()
    }
}

impl<T: FromValue + Eq + Hash, S: BuildHasher + Default> FromValue for HashSet<T, S> {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        Self::from_reply(value).map_err(|e| demote("HashSet", e))
    }

    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        elements(value, "HashSet")?
            .into_iter()
            .map(T::from_reply)
            .collect()
    }
}

impl<T: FromValue + Ord> FromValue for BTreeSet<T> {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        Self::from_reply(value).map_err(|e| demote("BTreeSet", e))
    }

    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        elements(value, "BTreeSet")?
            .into_iter()
            .map(T::from_reply)
            .collect()
    }
}

impl<K: FromValue + Eq + Hash, V: FromValue, S: BuildHasher + Default> FromValue
    for HashMap<K, V, S>
{
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        Self::from_reply(value).map_err(|e| demote("HashMap", e))
    }

    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        pairs(value, "HashMap")?
            .into_iter()
            .map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?)))
            .collect()
    }
}

impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(value: Value) -> Result<Self, ConversionError> {
        Self::from_reply(value).map_err(|e| demote("BTreeMap", e))
    }

    fn from_reply(value: Value) -> Result<Self, ReplyError> {
        pairs(value, "BTreeMap")?
            .into_iter()
            .map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?)))
            .collect()
    }
}

macro_rules! tuple_from_value {
    ($n:literal; $($t:ident),+) => {
        /// From an aggregate of exactly this many elements.
        impl<$($t: FromValue),+> FromValue for ($($t,)+) {
            fn from_value(value: Value) -> Result<Self, ConversionError> {
                Self::from_reply(value).map_err(|e| demote(concat!("tuple of ", $n), e))
            }

            fn from_reply(value: Value) -> Result<Self, ReplyError> {
                let expected = concat!("tuple of ", $n);
                let items = match value.without_attributes() {
                    Value::Array(items) | Value::Set(items) | Value::Push(items) => items,
                    Value::Error(e) => return Err(ReplyError::Server(e)),
                    v => return Err(mismatch(expected, &v).into()),
                };
                if items.len() != $n {
                    return Err(ConversionError { expected, found: "aggregate of another length" }.into());
                }
                let mut it = items.into_iter();
                Ok(($($t::from_reply(it.next().unwrap_or(Value::Null))?,)+))
            }
        }
    };
}

tuple_from_value!(1; A);
tuple_from_value!(2; A, B);
tuple_from_value!(3; A, B, C);
tuple_from_value!(4; A, B, C, D);
tuple_from_value!(5; A, B, C, D, E);
tuple_from_value!(6; A, B, C, D, E, F);
