//! Command and value encoding. (Contract only; implementation in progress.)

use bytes::{Bytes, BytesMut};

use super::Value;

/// A command being built: `cmd("SET").arg("k").arg(42)`.
///
/// Arguments are encoded as they are added, into one buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    args: BytesMut,
    argc: usize,
}

/// Starts a command with its name.
pub fn cmd(name: &str) -> Cmd {
    Cmd::new().arg(name)
}

impl Cmd {
    /// An empty command (no name yet).
    pub fn new() -> Cmd {
        Cmd { args: BytesMut::new(), argc: 0 }
    }

    /// Appends one argument.
    pub fn arg<A: ToArg>(mut self, arg: A) -> Cmd {
        arg.write_arg(&mut self.args);
        self.argc += 1;
        self
    }

    /// Number of arguments, the name included.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// Appends the command's RESP encoding to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        let _ = out;
        todo!("encode")
    }

    /// The command's RESP encoding.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.write_to(&mut out);
        out.freeze()
    }
}

impl Default for Cmd {
    fn default() -> Self {
        Cmd::new()
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmd").field("argc", &self.argc).finish_non_exhaustive()
    }
}

/// Something that can be one command argument.
pub trait ToArg {
    /// Writes `$<len>\r\n<bytes>\r\n` to `out`.
    fn write_arg(&self, out: &mut BytesMut);
}

impl ToArg for &str {
    fn write_arg(&self, out: &mut BytesMut) {
        let _ = out;
        todo!()
    }
}

impl ToArg for i64 {
    fn write_arg(&self, out: &mut BytesMut) {
        let _ = out;
        todo!()
    }
}

/// Appends the RESP3 encoding of any value to `out` (for tests and test servers).
pub fn encode_value(value: &Value, out: &mut BytesMut) {
    let _ = (value, out);
    todo!("encode_value")
}
