//! Encoding: commands as RESP arrays of bulk strings, and any [`Value`] as RESP3.
//!
//! A [`Cmd`] encodes each argument as it is added, into the one buffer it
//! owns, taken from a per-thread list of recycled command buffers (see
//! `spare`), so an ordinary command allocates nothing once a thread has sent a
//! few. The buffer keeps room in front for the `*<argc>` header:
//! a command moved into a request ([`Cmd::into_bytes`]) becomes its own
//! encoding, without a copy. Numbers are formatted on the stack, never through
//! a `String`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::Value;

/// A command being built: `cmd("SET").arg("k").arg(42)`.
///
/// Arguments are encoded as they are added, into one buffer.
///
/// ```
/// use redwire_core::resp::cmd;
///
/// let set = cmd("SET").arg("key").arg(42);
/// assert_eq!(set.argc(), 3);
/// assert_eq!(&set.to_bytes()[..], b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n42\r\n");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    /// `HEAD_ROOM` bytes kept free for the header, then the encoded arguments. A command
    /// dropped unsent gives the buffer back for the next one. (Moved out by
    /// `Request::from`, after [`Cmd::write_header`].)
    pub(crate) args: spare::Pooled,
    argc: usize,
}

/// Room in front of the arguments for the `*<argc>\r\n` header (at most 20 digits).
const HEAD_ROOM: usize = 1 + 20 + 2;

/// First allocation of a command's buffer: the header and a short command (`SET`, a key and
/// a small value) fit without growing it. Kept small enough for the allocators' fastest size
/// classes (glibc's fast bins end at 128-byte chunks, 8 of them bookkeeping).
const INITIAL_CAPACITY: usize = 112;

/// Starts a command with its name.
#[inline]
pub fn cmd(name: &str) -> Cmd {
    let name = name.as_bytes();
    if name.len() <= SHORT {
        // The room for the header and the name in one append.
        let mut args = spare::take();
        write_short_bulk::<HEAD_ROOM, { HEAD_ROOM + SHORT + 7 }>(&mut args, name);
        Cmd { args, argc: 1 }
    } else {
        Cmd::new().arg(name)
    }
}

impl Cmd {
    /// An empty command (no name yet).
    #[inline]
    pub fn new() -> Cmd {
        let mut args = spare::take();
        args.put_bytes(0, HEAD_ROOM);
        Cmd { args, argc: 0 }
    }

    /// Appends one argument.
    pub fn arg<A: ToArg>(mut self, arg: A) -> Cmd {
        self.push_arg(arg);
        self
    }

    /// Appends every argument of `args`.
    pub fn args<I>(mut self, args: I) -> Cmd
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        for a in args {
            self.push_arg(a);
        }
        self
    }

    /// Appends one argument in place (for building commands in a loop).
    pub fn push_arg<A: ToArg>(&mut self, arg: A) {
        arg.write_arg(&mut self.args);
        self.argc += 1;
    }

    /// Number of arguments, the name included.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// The encoded arguments, name first (`$<len>\r\n<bytes>\r\n` each).
    #[inline]
    pub(crate) fn encoded_args(&self) -> &[u8] {
        &self.args[HEAD_ROOM..]
    }

    /// Length in bytes of the command's RESP encoding.
    pub fn encoded_len(&self) -> usize {
        let mut digits = [0u8; 20];
        1 + format_u64(self.argc as u64, &mut digits).len() + 2 + self.encoded_args().len()
    }

    /// Appends the command's RESP encoding to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        let mut digits = [0u8; 20];
        let argc = format_u64(self.argc as u64, &mut digits);
        let args = self.encoded_args();
        out.reserve(1 + argc.len() + 2 + args.len());
        out.put_u8(b'*');
        out.extend_from_slice(argc);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(args);
    }

    /// The command's RESP encoding (a copy; [`Cmd::into_bytes`] avoids it).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out.freeze()
    }

    /// The command's RESP encoding, in the command's own buffer: the header is written into
    /// the room kept for it, nothing is copied.
    ///
    /// ```
    /// use redwire_core::resp::cmd;
    ///
    /// let get = cmd("GET").arg("key");
    /// assert_eq!(get.to_bytes(), get.clone().into_bytes());
    /// ```
    pub fn into_bytes(self) -> Bytes {
        let (buf, start) = self.into_encoding();
        let mut bytes = buf.into_inner().freeze();
        bytes.advance(start);
        bytes
    }

    /// [`Cmd::into_bytes`], still mutable (freezing a buffer with spare capacity allocates
    /// a small reference count): the buffer and where in it the encoding starts. The
    /// start is not advanced to, so the buffer can be reused whole for another command.
    /// The buffer is moved out as it is (nothing is left behind to drop).
    #[inline]
    pub(crate) fn into_encoding(mut self) -> (spare::Pooled, usize) {
        let start = self.write_header();
        (self.args, start)
    }

    /// Writes the `*<argc>\r\n` header into the room kept for it; returns where it
    /// starts. Then the encoding is `args[start..]`.
    ///
    /// In place, so a command becoming a request is moved only once, after it (see
    /// `Request::from`), and without a panic path in the usual case: either one made the
    /// whole command be copied through the stack first.
    #[inline]
    pub(crate) fn write_header(&mut self) -> usize {
        let argc = self.argc;
        let start = HEAD_ROOM - 4;
        if argc < 10 {
            // The common case, as one store of known size (the room is always there).
            if let Some(head) = self.args.get_mut(start..HEAD_ROOM) {
                head.copy_from_slice(&[b'*', b'0' + argc as u8, b'\r', b'\n']);
                return start;
            }
        }
        self.write_long_header()
    }

    #[inline(never)]
    fn write_long_header(&mut self) -> usize {
        let (argc, buf) = (self.argc, &mut self.args);
        let mut digits = [0u8; 20];
        let argc = format_u64(argc as u64, &mut digits);
        let start = HEAD_ROOM - (1 + argc.len() + 2);
        buf[start] = b'*';
        buf[start + 1..HEAD_ROOM - 2].copy_from_slice(argc);
        buf[HEAD_ROOM - 2..HEAD_ROOM].copy_from_slice(b"\r\n");
        start
    }
}

/// Command buffers, recycled per thread.
///
/// Every command needs a buffer, and a request holds its own until it is
/// answered (for a retry). Taking it back here when the request is done, and
/// handing it to the next command, saves an allocation and a free per request
/// (measured: about 5 % of a client's instructions per `SET`/`GET`). The list
/// only keeps buffers of ordinary size and is bounded by the bytes it holds,
/// [`spare::MAX_BYTES`] per thread (plus the list itself, a pointer-sized handle
/// of 32 bytes per buffer): enough for a buffer per request of about two thousand
/// short requests in flight, so a busy connection allocates no command buffer at
/// steady state.
pub(crate) mod spare {
    use std::cell::RefCell;
    use std::ops::{Deref, DerefMut};

    use bytes::BytesMut;

    use super::INITIAL_CAPACITY;

    /// A command buffer that goes back to the list when dropped ([`give_from`]). Held by a
    /// command, then by the request it becomes, it moves from one to the other as it is.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    pub(crate) struct Pooled(BytesMut);

    impl Pooled {
        /// `buf`, to be given back when dropped.
        #[cfg(test)]
        pub(crate) fn from_test(buf: BytesMut) -> Pooled {
            Pooled(buf)
        }

        /// The buffer, no longer to be given back.
        pub(crate) fn into_inner(mut self) -> BytesMut {
            std::mem::take(&mut self.0)
        }
    }

    impl Drop for Pooled {
        #[inline]
        fn drop(&mut self) {
            give_from(&mut self.0);
        }
    }

    impl Deref for Pooled {
        type Target = BytesMut;
        #[inline]
        fn deref(&self) -> &BytesMut {
            &self.0
        }
    }

    impl DerefMut for Pooled {
        #[inline]
        fn deref_mut(&mut self) -> &mut BytesMut {
            &mut self.0
        }
    }

    /// Capacity kept per thread, in bytes, all buffers together.
    pub(crate) const MAX_BYTES: usize = 256 * 1024;
    /// Larger buffers are freed, not kept.
    pub(crate) const MAX_CAPACITY: usize = 1024;

    struct Spare {
        /// Kept as `Pooled` values, so one moves in and out of the list as it is (a buffer
        /// taken out of a `Pooled` leaves an empty one behind, to be dropped).
        buffers: Vec<Pooled>,
        /// The capacity of `buffers`, summed.
        bytes: usize,
    }

    thread_local! {
        static SPARE: RefCell<Spare> = const {
            RefCell::new(Spare { buffers: Vec::new(), bytes: 0 })
        };
    }

    /// An empty buffer with room for an ordinary command.
    #[inline]
    pub(crate) fn take() -> Pooled {
        let spare = SPARE.try_with(|s| {
            let mut s = s.try_borrow_mut().ok()?;
            let mut buf = s.buffers.pop()?;
            s.bytes -= buf.capacity();
            // Buffers are kept as they were used: cleared here, once, rather than each
            // as it is given back.
            buf.clear();
            Some(buf)
        });
        match spare {
            Ok(Some(buf)) => buf,
            _ => Pooled(BytesMut::with_capacity(INITIAL_CAPACITY)),
        }
    }

    /// Keeps `buf` for a later [`take`], if it is of ordinary size and there is room.
    #[cfg(test)]
    pub(crate) fn give(mut buf: BytesMut) {
        give_from(&mut buf);
    }

    /// [`give`], moving the buffer out of `buf` only once it is kept: a buffer that is
    /// not kept, and the empty one left behind, are dropped where they are (a buffer moved
    /// into the closure as a value was copied through the stack three times).
    #[inline]
    fn give_from(buf: &mut BytesMut) {
        let cap = buf.capacity();
        if !ordinary(cap) {
            return;
        }
        // During thread exit the list may be gone: the buffer is then just freed.
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.bytes + cap <= MAX_BYTES {
                    s.bytes += cap;
                    s.buffers.push(Pooled(std::mem::take(buf)));
                }
            }
        });
    }

    /// Whether a buffer of capacity `cap` is of a size the list keeps.
    #[inline]
    fn ordinary(cap: usize) -> bool {
        (INITIAL_CAPACITY / 2..=MAX_CAPACITY).contains(&cap)
    }

    /// Buffers to give back together, with one look-up of the list and one copy of them
    /// into it: what a connection does with the buffers of the requests one read answered,
    /// instead of giving each back as it is dropped.
    #[derive(Debug, Default)]
    pub(crate) struct Batch {
        /// Of ordinary size only, not cleared yet ([`take`] clears).
        buffers: Vec<Pooled>,
        /// The capacity of `buffers`, summed.
        bytes: usize,
    }

    impl Batch {
        pub(crate) fn len(&self) -> usize {
            self.buffers.len()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.buffers.is_empty()
        }

        /// Adds `buf`, if the list would keep it (else it is freed here).
        #[inline]
        pub(crate) fn push(&mut self, buf: Pooled) {
            let cap = buf.capacity();
            if ordinary(cap) {
                self.bytes += cap;
                self.buffers.push(buf);
            }
        }

        /// Gives every buffer back to the thread's list, as far as its bound allows (the
        /// rest are freed). The batch is left empty, its room kept.
        pub(crate) fn give_back(&mut self) {
            let batch = &mut *self;
            // During thread exit the list may be gone: the buffers are then just freed.
            let _ = SPARE.try_with(|s| {
                let Ok(mut s) = s.try_borrow_mut() else {
                    return;
                };
                let s = &mut *s;
                if s.bytes + batch.bytes <= MAX_BYTES {
                    // The usual case: all of them, copied at once.
                    s.bytes += batch.bytes;
                    s.buffers.append(&mut batch.buffers);
                    return;
                }
                while let Some(buf) = batch.buffers.pop() {
                    let cap = buf.capacity();
                    if s.bytes + cap <= MAX_BYTES {
                        s.bytes += cap;
                        s.buffers.push(buf);
                    } else {
                        // Not kept: freed (the list is borrowed, so its drop keeps nothing).
                        drop(buf.into_inner());
                    }
                }
            });
            self.buffers.clear();
            self.bytes = 0;
        }
    }

    #[cfg(test)]
    pub(crate) fn len() -> usize {
        SPARE.with(|s| s.borrow().buffers.len())
    }

    #[cfg(test)]
    pub(crate) fn bytes() -> usize {
        SPARE.with(|s| s.borrow().bytes)
    }
}

impl Default for Cmd {
    fn default() -> Self {
        Cmd::new()
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmd")
            .field("argc", &self.argc)
            .finish_non_exhaustive()
    }
}

/// Something that can be one command argument.
///
/// Implemented for strings, byte slices and vectors, [`Bytes`], byte
/// arrays, every integer type and floats, and for references to any of them.
pub trait ToArg {
    /// Writes `$<len>\r\n<bytes>\r\n` to `out`.
    fn write_arg(&self, out: &mut BytesMut);
}

/// Writes one bulk string.
#[inline]
pub(crate) fn write_bulk(out: &mut BytesMut, data: &[u8]) {
    if data.len() <= SHORT {
        write_short_bulk::<0, { SHORT + 7 }>(out, data)
    } else {
        write_long_bulk(out, data)
    }
}

/// Arguments of at most this many bytes are written by [`write_short_bulk`].
const SHORT: usize = 32;

/// Writes `PRE` zero bytes (`0` or [`HEAD_ROOM`]), then one bulk string of at most [`SHORT`]
/// bytes, with a single capacity check and no call to `memcpy`: room of constant size is
/// appended zeroed, the header and the argument (by two overlapping copies of constant
/// size, as `memcpy` itself does for short lengths) are written into it in place, and the
/// bytes past the end are cut off again. `N` is `PRE + SHORT + 7`: room for
/// `$<2 digits>\r\n`, the argument and `\r\n`.
///
/// Nothing written here is read back soon: a bulk string put together in a stack array
/// and then appended as one copy (as this did before) takes the same instructions, but the
/// copy's wide loads straddle the narrow stores that had just assembled the array, which
/// the processor cannot forward, and each such load waits for those stores to land.
#[inline]
fn write_short_bulk<const PRE: usize, const N: usize>(out: &mut BytesMut, data: &[u8]) {
    let n = data.len();
    debug_assert!(n <= SHORT && N == PRE + SHORT + 7);
    let len = out.len();
    out.put_bytes(0, N);
    let room: &mut [u8; N] = (&mut out[len..len + N])
        .try_into()
        .expect("N bytes were just appended");
    // A one-digit header is four bytes; its table entry's fifth byte (a zero) is then
    // overwritten by the argument.
    room[PRE..PRE + 5].copy_from_slice(&SHORT_HEADERS[n]);
    let at = PRE + 4 + usize::from(n >= 10);
    let dst: &mut [u8; SHORT] = (&mut room[at..at + SHORT])
        .try_into()
        .expect("N is long enough");
    copy_short(dst, data);
    room[at + n..at + n + 2].copy_from_slice(b"\r\n");
    out.truncate(len + at + n + 2);
}

/// `$<n>\r\n` for every `n` up to [`SHORT`], in 5 bytes (a zero last when `n` has one
/// digit), so a short argument's header is one store of constant size.
const SHORT_HEADERS: [[u8; 5]; SHORT + 1] = {
    let mut headers = [[0u8; 5]; SHORT + 1];
    let mut n = 0;
    while n <= SHORT {
        headers[n] = if n < 10 {
            [b'$', b'0' + n as u8, b'\r', b'\n', 0]
        } else {
            [
                b'$',
                b'0' + (n / 10) as u8,
                b'0' + (n % 10) as u8,
                b'\r',
                b'\n',
            ]
        };
        n += 1;
    }
    headers
};

/// Copies `src` (at most [`SHORT`] bytes) to the start of `dst` with copies of constant
/// size (the last ones overlapping the first), so no call to `memcpy`.
#[inline(always)]
fn copy_short(dst: &mut [u8; SHORT], src: &[u8]) {
    let n = src.len();
    if n >= 16 {
        dst[..16].copy_from_slice(&src[..16]);
        dst[n - 16..n].copy_from_slice(&src[n - 16..]);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..n].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..n].copy_from_slice(&src[n - 4..]);
    } else if n > 0 {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/// Writes one bulk string longer than [`SHORT`] bytes.
#[inline(never)]
fn write_long_bulk(out: &mut BytesMut, data: &[u8]) {
    let mut digits = [0u8; 20];
    let len = format_u64(data.len() as u64, &mut digits);
    out.reserve(1 + len.len() + 2 + data.len() + 2);
    out.extend_from_slice(b"$");
    out.extend_from_slice(len);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Formats `n` in decimal at the end of `buf`, returning the digits.
#[inline]
fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Formats `n` in decimal at the end of `buf`, returning the digits.
#[inline]
fn format_i128(n: i128, buf: &mut [u8; 40]) -> &[u8] {
    let mut m = n.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

impl<T: ToArg + ?Sized> ToArg for &T {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        (**self).write_arg(out)
    }
}

impl ToArg for str {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self.as_bytes())
    }
}

impl ToArg for [u8] {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self)
    }
}

impl<const N: usize> ToArg for [u8; N] {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self)
    }
}

impl ToArg for String {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self.as_bytes())
    }
}

impl ToArg for Vec<u8> {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self)
    }
}

impl ToArg for Bytes {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self)
    }
}

impl ToArg for BytesMut {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        write_bulk(out, self)
    }
}

macro_rules! int_to_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            #[inline]
            fn write_arg(&self, out: &mut BytesMut) {
                let mut digits = [0u8; 40];
                write_bulk(out, format_i128(*self as i128, &mut digits))
            }
        }
    )*};
}

int_to_arg!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl ToArg for i128 {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        let mut digits = [0u8; 40];
        write_bulk(out, format_i128(*self, &mut digits))
    }
}

impl ToArg for u128 {
    fn write_arg(&self, out: &mut BytesMut) {
        match i128::try_from(*self) {
            Ok(n) => n.write_arg(out),
            Err(_) => write_bulk(out, self.to_string().as_bytes()),
        }
    }
}

/// Writes a float the way Redis parses it: shortest round-trip digits,
/// `inf`, `-inf` (`nan` is written as `nan`, which Redis rejects as it should).
fn write_float(out: &mut BytesMut, f: f64) {
    use std::io::Write;
    let mut buf = [0u8; 40];
    let text: &[u8] = if f.is_nan() {
        b"nan"
    } else if f.is_infinite() {
        if f > 0.0 {
            b"inf"
        } else {
            b"-inf"
        }
    } else {
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        // `{:?}` gives the shortest digits that round-trip, with an exponent
        // for very large or small values; 40 bytes always hold it.
        if write!(cursor, "{f:?}").is_err() {
            return write_bulk(out, f.to_string().as_bytes());
        }
        let n = cursor.position() as usize;
        &buf[..n]
    };
    write_bulk(out, text)
}

impl ToArg for f64 {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        write_float(out, *self)
    }
}

impl ToArg for f32 {
    #[inline]
    fn write_arg(&self, out: &mut BytesMut) {
        // Through the shortest f32 digits, so 0.1f32 is sent as "0.1", not "0.10000000149011612".
        match self.to_string().parse::<f64>() {
            Ok(f) => write_float(out, f),
            Err(_) => write_float(out, *self as f64),
        }
    }
}

/// Appends the RESP3 encoding of any value to `out` (for tests and test servers).
///
/// Nulls are written as RESP3 `_`, streamed framing is not reproduced, and a
/// server error is written as a simple error unless its text holds CR or LF,
/// then as a bulk error. Simple strings and big numbers are written as they
/// are: they must not contain CR or LF. Deeply nested values are encoded
/// without recursion.
pub fn encode_value(value: &Value, out: &mut BytesMut) {
    // Explicit work stack, so values nested deeper than the call stack allows
    // (which the decoder accepts if its depth limit is raised) still encode.
    let mut stack: Vec<&Value> = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::SimpleString(s) => line(out, b'+', s),
            Value::Error(e) => {
                let text = e.to_text();
                if text.bytes().any(|b| b == b'\r' || b == b'\n') {
                    header(out, b'!', text.len());
                    out.extend_from_slice(text.as_bytes());
                    out.extend_from_slice(b"\r\n");
                } else {
                    line(out, b'-', text.as_bytes());
                }
            }
            Value::Integer(n) => {
                let mut digits = [0u8; 40];
                line(out, b':', format_i128(*n as i128, &mut digits));
            }
            Value::BulkString(b) => write_bulk(out, b),
            Value::Null => out.extend_from_slice(b"_\r\n"),
            Value::Boolean(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Value::Double(d) => {
                let text = if d.is_nan() {
                    "nan".to_owned()
                } else if d.is_infinite() {
                    if *d > 0.0 { "inf" } else { "-inf" }.to_owned()
                } else {
                    format!("{d:?}")
                };
                line(out, b',', text.as_bytes());
            }
            Value::BigNumber(b) => line(out, b'(', b),
            Value::Verbatim { format, text } => {
                header(out, b'=', text.len() + 4);
                out.extend_from_slice(format);
                out.put_u8(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Value::Array(items) => seq(out, b'*', items, &mut stack),
            Value::Set(items) => seq(out, b'~', items, &mut stack),
            Value::Push(items) => seq(out, b'>', items, &mut stack),
            Value::Map(pairs) => pairs_to(out, b'%', pairs, &mut stack),
            Value::Attribute { attributes, value } => {
                // The attributed value comes after the attribute map.
                stack.push(value);
                pairs_to(out, b'|', attributes, &mut stack);
            }
        }
    }
}

fn line(out: &mut BytesMut, ty: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(ty);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

fn header(out: &mut BytesMut, ty: u8, n: usize) {
    let mut digits = [0u8; 20];
    line(out, ty, format_u64(n as u64, &mut digits));
}

fn seq<'a>(out: &mut BytesMut, ty: u8, items: &'a [Value], stack: &mut Vec<&'a Value>) {
    header(out, ty, items.len());
    stack.extend(items.iter().rev());
}

fn pairs_to<'a>(
    out: &mut BytesMut,
    ty: u8,
    pairs: &'a [(Value, Value)],
    stack: &mut Vec<&'a Value>,
) {
    header(out, ty, pairs.len());
    for (k, v) in pairs.iter().rev() {
        stack.push(v);
        stack.push(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_commands_buffer_serves_the_next_command() {
        // Tests run on their own threads: this thread's list starts empty.
        assert_eq!(spare::len(), 0);
        let (first, start) = cmd("SET").arg("k").arg("v").into_encoding();
        assert_eq!(
            &first[start..],
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        let ptr = first.as_ptr();
        drop(first);
        assert_eq!(spare::len(), 1);
        let second = cmd("GET").arg("k");
        assert_eq!(spare::len(), 0);
        // The same allocation, whole.
        assert_eq!(second.args.as_ptr(), ptr);
        assert!(second.args.capacity() >= INITIAL_CAPACITY);
        assert_eq!(&second.to_bytes()[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        drop(second);
        assert_eq!(spare::len(), 1);
    }

    #[test]
    fn a_batch_gives_its_buffers_back_at_once_within_the_bound() {
        let mut batch = spare::Batch::default();
        // Too large to keep: freed as it is pushed.
        batch.push(spare::Pooled::default());
        let mut big = cmd("SET")
            .arg(vec![b'x'; 4 * spare::MAX_CAPACITY])
            .into_encoding()
            .0;
        assert!(big.capacity() > spare::MAX_CAPACITY);
        big.clear();
        batch.push(big);
        assert!(batch.is_empty());
        let (used, _) = cmd("SET").arg("k").arg("v").into_encoding();
        let ptr = used.as_ptr();
        batch.push(used);
        batch.push(spare::take());
        assert_eq!(batch.len(), 2);
        assert_eq!(spare::len(), 0);
        batch.give_back();
        assert!(batch.is_empty());
        assert_eq!(spare::len(), 2);
        // Kept as used, handed out cleared.
        let mut reused = (spare::take(), spare::take());
        if reused.0.as_ptr() != ptr {
            std::mem::swap(&mut reused.0, &mut reused.1);
        }
        assert_eq!(reused.0.as_ptr(), ptr);
        assert!(reused.0.is_empty() && reused.1.is_empty());
        drop(reused);
        while spare::len() > 0 {
            drop(spare::take().into_inner());
        }
        // Near the bound, a batch is kept only as far as it fits.
        let big = spare::MAX_BYTES / spare::MAX_CAPACITY;
        for _ in 0..big - 1 {
            spare::give(BytesMut::with_capacity(spare::MAX_CAPACITY));
        }
        for _ in 0..3 {
            batch.push(spare::Pooled::from_test(BytesMut::with_capacity(
                spare::MAX_CAPACITY,
            )));
        }
        batch.give_back();
        assert!(batch.is_empty());
        assert_eq!(spare::len(), big);
        assert!(spare::bytes() <= spare::MAX_BYTES);
    }

    #[test]
    fn large_buffers_are_not_kept_and_the_list_is_bounded_in_bytes() {
        spare::give(BytesMut::with_capacity(spare::MAX_CAPACITY * 4));
        assert_eq!(spare::len(), 0);
        // Buffers of the largest kept size: the bound is reached after few of them.
        let big = spare::MAX_BYTES / spare::MAX_CAPACITY;
        for _ in 0..big + 10 {
            spare::give(BytesMut::with_capacity(spare::MAX_CAPACITY));
        }
        assert_eq!(spare::len(), big);
        assert!(spare::bytes() <= spare::MAX_BYTES);
        // Taking them all back empties the count as well as the list.
        for _ in 0..big {
            assert!(spare::take().into_inner().capacity() >= spare::MAX_CAPACITY);
        }
        assert_eq!((spare::len(), spare::bytes()), (0, 0));
        // Buffers of ordinary size: many more fit (a request in flight holds one each).
        let small = BytesMut::with_capacity(INITIAL_CAPACITY).capacity();
        for _ in 0..4096 {
            spare::give(BytesMut::with_capacity(INITIAL_CAPACITY));
        }
        assert_eq!(spare::len(), (spare::MAX_BYTES / small).min(4096));
        assert!(spare::len() >= 2048, "{} buffers kept", spare::len());
        assert!(spare::bytes() <= spare::MAX_BYTES);
    }
}
