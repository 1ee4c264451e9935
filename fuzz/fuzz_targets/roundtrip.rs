//! Encoder/decoder round trips driven by arbitrary bytes.
//!
//! 1. Whatever the decoder accepts, re-encoding it and decoding that gives
//!    the same value (compared through its encoding, so NaN is handled).
//! 2. A command built from arbitrary arguments decodes as an array of
//!    exactly those bulk strings.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use redwire_core::resp::{encode_value, Cmd, Decoder, Limits, Payload, Value};

fn limits() -> Limits {
    Limits {
        max_depth: 32,
        ..Limits::default()
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. Values the decoder produced from arbitrary bytes.
    let mut d = Decoder::new(limits());
    let mut buf = BytesMut::from(data);
    while let Ok(Some(v)) = d.decode(&mut buf) {
        let mut wire = BytesMut::new();
        encode_value(&v, &mut wire);
        let canonical = wire.clone();
        let mut d2 = Decoder::new(limits());
        let back = d2
            .decode(&mut wire)
            .expect("re-encoded value decodes")
            .expect("complete frame");
        assert!(wire.is_empty(), "re-encoded value left bytes");
        let mut again = BytesMut::new();
        encode_value(&back, &mut again);
        assert_eq!(
            canonical, again,
            "value changed in a round trip: {v:?} -> {back:?}"
        );
    }

    // 2. A command from arbitrary arguments: split the input at 0xff bytes.
    let args: Vec<&[u8]> = data.split(|&b| b == 0xff).collect();
    let mut cmd = Cmd::new();
    for a in &args {
        cmd.push_arg(*a);
    }
    assert_eq!(cmd.argc(), args.len());
    let mut wire = BytesMut::new();
    cmd.write_to(&mut wire);
    assert_eq!(wire.len(), cmd.encoded_len());
    let mut d = Decoder::new(Limits::default());
    let v = d
        .decode(&mut wire)
        .expect("command decodes")
        .expect("complete frame");
    assert!(wire.is_empty());
    let expected = Value::Array(
        args.iter()
            .map(|a| Value::BulkString(Payload::copy_from_slice(a)))
            .collect(),
    );
    assert_eq!(v, expected);
});
