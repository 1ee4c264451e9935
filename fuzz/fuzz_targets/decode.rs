//! Arbitrary bytes, split into arbitrary chunks, through the decoder.
//!
//! Asserts the decoder's invariants, not just the absence of panics:
//! chunked decoding gives the same frames and the same error as one-shot
//! decoding; every frame respects the limits; a failed decoder stays failed.
//!
//! Input layout: the first byte gives the number of cuts (mod 16), the next
//! that many bytes the chunk lengths; the rest is the stream.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use redwire_core::resp::{Decoder, Limits, ProtocolError, ProtocolErrorKind, Value};

const LIMITS: Limits = Limits {
    max_bulk_len: 4096,
    max_aggregate_len: 1024,
    max_depth: 32,
    max_frame_bytes: 64 * 1024,
    max_line_len: 1024,
    max_frame_elements: 512,
};

/// Frames (with the wire bytes each spanned) and the final error, if any.
fn decode(input: &[u8], chunk_lens: &[usize]) -> (Vec<(Value, u64)>, Option<ProtocolError>) {
    let mut d = Decoder::new(LIMITS);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut rest = input;
    let mut lens = chunk_lens.iter().copied();
    let mut frame_start = 0;
    loop {
        let n = lens.next().unwrap_or(rest.len()).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match d.decode(&mut buf) {
                Ok(Some(v)) => {
                    frames.push((v, d.position() - frame_start));
                    frame_start = d.position();
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(d.is_failed());
                    let again = d.decode(&mut BytesMut::from(&b"+OK\r\n"[..])).unwrap_err();
                    assert_eq!(again.kind, ProtocolErrorKind::Poisoned);
                    return (frames, Some(e));
                }
            }
        }
        if rest.is_empty() {
            // No error and no frame pending: every byte was consumed, or the
            // decoder holds a partial frame.
            assert!(buf.is_empty() || d.is_mid_frame());
            return (frames, None);
        }
    }
}

fn check_limits(v: &Value) {
    let mut elements = 0;
    let mut todo = vec![(v, 0usize)];
    while let Some((v, depth)) = todo.pop() {
        match v {
            Value::Array(items) | Value::Set(items) | Value::Push(items) => {
                assert!(depth < LIMITS.max_depth && items.len() <= LIMITS.max_aggregate_len);
                elements += items.len();
                todo.extend(items.iter().map(|i| (i, depth + 1)));
            }
            Value::Map(pairs)
            | Value::Attribute {
                attributes: pairs, ..
            } => {
                assert!(depth < LIMITS.max_depth && pairs.len() <= LIMITS.max_aggregate_len);
                elements += 2 * pairs.len() + matches!(v, Value::Attribute { .. }) as usize;
                for (k, x) in pairs {
                    todo.push((k, depth + 1));
                    todo.push((x, depth + 1));
                }
                if let Value::Attribute { value, .. } = v {
                    todo.push((value, depth + 1));
                }
            }
            Value::BulkString(b) | Value::SimpleString(b) | Value::BigNumber(b) => {
                assert!(b.len() <= LIMITS.max_bulk_len.max(LIMITS.max_line_len))
            }
            Value::Verbatim { text, .. } => assert!(text.len() + 4 <= LIMITS.max_bulk_len),
            _ => {}
        }
    }
    assert!(elements <= LIMITS.max_frame_elements);
}

fuzz_target!(|data: &[u8]| {
    let Some((&ncuts, rest)) = data.split_first() else {
        return;
    };
    let ncuts = (ncuts % 16) as usize;
    if rest.len() < ncuts {
        return;
    }
    let (cuts, input) = rest.split_at(ncuts);
    let chunk_lens: Vec<usize> = cuts.iter().map(|&c| c as usize).collect();

    let (one, one_err) = decode(input, &[]);
    let (chunked, chunked_err) = decode(input, &chunk_lens);

    // NaN != NaN, so compare debug renderings, which are exact for every value.
    assert_eq!(
        format!("{one:?}"),
        format!("{chunked:?}"),
        "chunked decoding differs"
    );
    match (&one_err, &chunked_err) {
        (None, None) => {}
        (Some(a), Some(b)) => {
            assert_eq!(a.offset, b.offset, "{a:?} vs {b:?}");
            // A partial line may show it breaks one limit before the whole
            // line shows it breaks the other.
            let limit = |k| {
                matches!(
                    k,
                    ProtocolErrorKind::LineTooLong | ProtocolErrorKind::FrameTooLarge
                )
            };
            assert!(
                a.kind == b.kind || (limit(a.kind) && limit(b.kind)),
                "{a:?} vs {b:?}"
            );
        }
        _ => panic!("one-shot {one_err:?} vs chunked {chunked_err:?}"),
    }
    for (v, wire_len) in &one {
        check_limits(v);
        assert!(*wire_len as usize <= LIMITS.max_frame_bytes);
    }
});
