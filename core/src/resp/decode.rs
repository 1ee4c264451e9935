//! Incremental decoder. (Contract only; implementation in progress.)

use bytes::BytesMut;

use super::{ProtocolError, Value};

/// Bounds on what a server can make the decoder accept or allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string, bulk error or verbatim string, in bytes. Default: 512 MiB (Redis's own `proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Most elements in one aggregate (array, set, push; map and attribute count pairs). Default: 2^32 - 1... see impl.
    pub max_aggregate_len: usize,
    /// Deepest nesting of aggregates. Default: 128.
    pub max_depth: usize,
    /// Most bytes buffered for one frame, counting every part of it. Default: 1 GiB.
    pub max_frame_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_aggregate_len: u32::MAX as usize,
            max_depth: 128,
            max_frame_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Decodes RESP frames from a byte buffer as it fills.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Decoder { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes the next complete frame, consuming its bytes from `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a frame; call again
    /// after appending more bytes. Progress on a partial frame is kept, so
    /// bytes already examined are not scanned again.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, ProtocolError> {
        let _ = buf;
        todo!("decoder")
    }

    /// Whether an earlier call returned a protocol error; a failed decoder decodes nothing more.
    pub fn is_failed(&self) -> bool {
        false
    }
}
