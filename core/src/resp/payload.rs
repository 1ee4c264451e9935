//! [`Payload`]: the bytes of a string reply, inline when short.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

/// The bytes of a string reply (bulk, simple, big number, verbatim text).
///
/// A payload of up to [`Payload::INLINE_CAPACITY`] bytes is stored inside the
/// value itself; a longer one is a zero-copy [`Bytes`] slice of the
/// connection's read buffer. Short replies are the common case (keys, small
/// values, `OK`, field names), and for them a copy of a few bytes is much
/// cheaper than a shared slice, whose clone and drop are atomic operations on
/// the buffer's reference count. An inline payload also does not keep the
/// whole read buffer it came from alive: a map of a million small values holds
/// the values, not the socket reads they arrived in.
///
/// A `Payload` dereferences to `[u8]` and compares, hashes and orders as its
/// bytes, whatever its storage. [`Payload::into_bytes`] (or `Bytes::from`)
/// hands a long payload over without a copy and copies a short one.
///
/// ```
/// use bytes::Bytes;
/// use redwire_core::resp::Payload;
///
/// let short = Payload::copy_from_slice(b"hello");
/// assert!(short.is_inline());
/// assert_eq!(short, "hello");
/// assert_eq!(&short[1..3], b"el");
///
/// let long = Payload::from(Bytes::from(vec![b'x'; 100]));
/// assert!(!long.is_inline());
/// let ptr = long.as_ptr();
/// assert_eq!(long.into_bytes().as_ptr(), ptr); // handed over, not copied
/// ```
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    // Measured: a tag of its own (rather than a niche in the `Bytes`) and the
    // data before the length make building and moving a short payload about a
    // third faster than the 32-byte layout.
    Inline {
        data: [u8; Payload::INLINE_CAPACITY],
        len: u8,
    },
    Shared(Bytes),
}

// A payload is one word larger than the `Bytes` it replaces; a `Value` is no
// larger for it.
const _: () = assert!(std::mem::size_of::<Payload>() <= std::mem::size_of::<Bytes>() + 8);

impl Payload {
    /// The longest payload stored inline, without a shared buffer.
    pub const INLINE_CAPACITY: usize = 32;

    /// An empty payload.
    pub const fn new() -> Payload {
        Payload(Repr::Inline {
            len: 0,
            data: [0; Payload::INLINE_CAPACITY],
        })
    }

    /// A payload of static bytes: inline when short, else a static `Bytes`
    /// (never copied, never reference counted).
    pub const fn from_static(bytes: &'static [u8]) -> Payload {
        if bytes.len() > Payload::INLINE_CAPACITY {
            return Payload(Repr::Shared(Bytes::from_static(bytes)));
        }
        let mut data = [0; Payload::INLINE_CAPACITY];
        let mut i = 0;
        while i < bytes.len() {
            data[i] = bytes[i];
            i += 1;
        }
        Payload(Repr::Inline {
            data,
            len: bytes.len() as u8,
        })
    }

    /// A payload holding a copy of `bytes`: inline when short, else in a new
    /// buffer.
    #[inline]
    pub fn copy_from_slice(bytes: &[u8]) -> Payload {
        Payload::inline(bytes)
            .unwrap_or_else(|| Payload(Repr::Shared(Bytes::copy_from_slice(bytes))))
    }

    /// `bytes` stored inline, or `None` when longer than [`Payload::INLINE_CAPACITY`].
    #[inline]
    pub(crate) fn inline(bytes: &[u8]) -> Option<Payload> {
        if bytes.len() > Payload::INLINE_CAPACITY {
            return None;
        }
        let mut data = [0; Payload::INLINE_CAPACITY];
        data[..bytes.len()].copy_from_slice(bytes);
        Some(Payload(Repr::Inline {
            len: bytes.len() as u8,
            data,
        }))
    }

    /// The first `n` bytes of `src` stored inline, where `n` is at most
    /// [`Payload::INLINE_CAPACITY`] and at most `src.len()`. When `src` holds
    /// a whole inline capacity, that many bytes are copied at once (a fixed
    /// size copy is a few instructions; a variable one is a call); the bytes
    /// past `n` are never read.
    #[inline(always)]
    pub(crate) fn inline_prefix(src: &[u8], n: usize) -> Payload {
        debug_assert!(n <= Payload::INLINE_CAPACITY && n <= src.len());
        let data = match src.first_chunk::<{ Payload::INLINE_CAPACITY }>() {
            Some(whole) => *whole,
            None => {
                let mut data = [0; Payload::INLINE_CAPACITY];
                data[..n].copy_from_slice(&src[..n]);
                data
            }
        };
        Payload(Repr::Inline { len: n as u8, data })
    }

    /// Whether the bytes are stored inline (short payloads) rather than in a
    /// shared buffer.
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// The bytes as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..*len as usize],
            Repr::Shared(b) => b,
        }
    }

    /// The bytes as [`Bytes`]: a shared payload is handed over as it is, an
    /// inline one is copied into a new buffer.
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Inline { len, data } => Bytes::copy_from_slice(&data[..len as usize]),
            Repr::Shared(b) => b,
        }
    }

    /// The bytes as a `Vec<u8>` (a copy; a payload never owns a `Vec`).
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_slice().to_vec()
    }
}

impl Default for Payload {
    fn default() -> Payload {
        Payload::new()
    }
}

impl Deref for Payload {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Payload {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.as_slice().escape_ascii())
    }
}

impl From<Bytes> for Payload {
    /// Keeps the `Bytes` as it is (no copy, even when short).
    fn from(bytes: Bytes) -> Payload {
        Payload(Repr::Shared(bytes))
    }
}

impl From<Payload> for Bytes {
    fn from(payload: Payload) -> Bytes {
        payload.into_bytes()
    }
}

impl From<Payload> for Vec<u8> {
    fn from(payload: Payload) -> Vec<u8> {
        match payload.0 {
            Repr::Inline { len, data } => data[..len as usize].to_vec(),
            Repr::Shared(b) => b.into(),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Payload {
        Payload::inline(&v).unwrap_or_else(|| Payload(Repr::Shared(Bytes::from(v))))
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Payload {
        Payload::from(s.into_bytes())
    }
}

impl From<&'static str> for Payload {
    fn from(s: &'static str) -> Payload {
        Payload::from_static(s.as_bytes())
    }
}

impl From<&'static [u8]> for Payload {
    fn from(s: &'static [u8]) -> Payload {
        Payload::from_static(s)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Payload {}

impl PartialOrd for Payload {
    fn partial_cmp(&self, other: &Payload) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Payload {
    fn cmp(&self, other: &Payload) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for Payload {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

macro_rules! eq_bytes {
    ($($t:ty => |$v:ident| $bytes:expr),* $(,)?) => {$(
        impl PartialEq<$t> for Payload {
            fn eq(&self, $v: &$t) -> bool {
                self.as_slice() == $bytes
            }
        }
        impl PartialEq<Payload> for $t {
            fn eq(&self, other: &Payload) -> bool {
                let $v = self;
                other.as_slice() == $bytes
            }
        }
    )*};
}

eq_bytes! {
    [u8] => |v| v,
    &[u8] => |v| *v,
    str => |v| v.as_bytes(),
    &str => |v| v.as_bytes(),
    Vec<u8> => |v| &v[..],
    String => |v| v.as_bytes(),
    Bytes => |v| &v[..],
}

impl<const N: usize> PartialEq<[u8; N]> for Payload {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Payload {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_slice() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_follows_length() {
        let max = vec![7u8; Payload::INLINE_CAPACITY];
        assert!(Payload::copy_from_slice(&max).is_inline());
        assert!(!Payload::copy_from_slice(&[7u8; Payload::INLINE_CAPACITY + 1]).is_inline());
        assert!(Payload::from(max.clone()).is_inline());
        assert!(!Payload::from(Bytes::from_static(b"ab")).is_inline());
        assert!(Payload::from_static(b"OK").is_inline());
        assert!(!Payload::from_static(&[b'x'; Payload::INLINE_CAPACITY + 1]).is_inline());
        assert_eq!(
            Payload::copy_from_slice(&max),
            Payload::from(Bytes::from(max))
        );
    }

    #[test]
    fn compares_and_hashes_as_bytes() {
        use std::collections::hash_map::DefaultHasher;
        let a = Payload::copy_from_slice(b"key");
        let b = Payload::from(Bytes::from_static(b"key"));
        let hash = |p: &Payload| {
            let mut h = DefaultHasher::new();
            p.hash(&mut h);
            h.finish()
        };
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(a, "key");
        assert_eq!(a, b"key");
        let (a, b) = (Payload::from("a"), Payload::copy_from_slice(b"b"));
        assert!(a < b);
        assert_eq!(b.cmp(&a), std::cmp::Ordering::Greater);
        assert_eq!(format!("{:?}", Payload::from("a\r\n\"")), r#"b"a\r\n\"""#);
    }

    #[test]
    fn conversions_keep_the_bytes() {
        let short = Payload::copy_from_slice(b"abc");
        assert_eq!(Bytes::from(short.clone()), Bytes::from_static(b"abc"));
        assert_eq!(Vec::from(short), b"abc".to_vec());
        assert_eq!(Payload::from(String::from("xyz")), "xyz");
        assert_eq!(Payload::new().len(), 0);
        assert_eq!(Payload::default(), Payload::from(""));
    }
}
