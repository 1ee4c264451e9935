//! Decoder unit tests: every RESP2/RESP3 type, every protocol error kind,
//! limits, poisoning, and the edge cases of the RESP3 specification.

use bytes::BytesMut;
use redwire_core::resp::{
    Decoder, Limits, Payload, ProtocolError, ProtocolErrorKind, ServerError, ServerErrorCode, Value,
};

fn decode_all_with(limits: Limits, input: &[u8]) -> Result<Vec<Value>, ProtocolError> {
    let mut d = Decoder::new(limits);
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(v) = d.decode(&mut buf)? {
        out.push(v);
    }
    assert!(
        buf.is_empty() || d.is_mid_frame(),
        "undecoded bytes left without a partial frame"
    );
    Ok(out)
}

/// Decodes exactly one frame that spans all of `input`.
fn one(input: &[u8]) -> Value {
    let mut d = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(input);
    let v = d.decode(&mut buf).unwrap().expect("a complete frame");
    assert!(buf.is_empty(), "frame did not consume all input: {:?}", buf);
    assert!(!d.is_mid_frame());
    v
}

fn err_with(limits: Limits, input: &[u8]) -> ProtocolError {
    let mut d = Decoder::new(limits);
    let mut buf = BytesMut::from(input);
    loop {
        match d.decode(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error for {:?}", String::from_utf8_lossy(input)),
            Err(e) => {
                assert!(d.is_failed());
                assert_eq!(d.error(), Some(&e));
                // Poisoned: nothing more is decoded, even valid input.
                let mut more = BytesMut::from(&b"+OK\r\n"[..]);
                let again = d.decode(&mut more).unwrap_err();
                assert_eq!(again.kind, ProtocolErrorKind::Poisoned);
                assert_eq!(again.offset, e.offset);
                return e;
            }
        }
    }
}

fn err(input: &[u8]) -> ProtocolError {
    err_with(Limits::default(), input)
}

/// The kind of the error `input` fails with under the default limits (see [`err`]).
fn kind(input: &[u8]) -> ProtocolErrorKind {
    err(input).kind
}

/// `input` fails with an error of `kind` under `limits` (see [`err_with`]).
#[track_caller]
fn assert_fails_with(limits: Limits, input: &[u8], kind: ProtocolErrorKind) {
    assert_eq!(
        err_with(limits, input).kind,
        kind,
        "for {:?}",
        String::from_utf8_lossy(input)
    );
}

/// `input` fails with an error of `kind` under the default limits (see [`err`]).
#[track_caller]
fn assert_fails(input: &[u8], kind: ProtocolErrorKind) {
    assert_fails_with(Limits::default(), input, kind);
}

/// The default limits with one changed by `set`.
fn with_limit(set: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    set(&mut limits);
    limits
}

/// The error of `kind` at byte `offset` of the stream.
fn at(kind: ProtocolErrorKind, offset: u64) -> ProtocolError {
    ProtocolError { kind, offset }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(Payload::copy_from_slice(s.as_bytes()))
}

fn simple(s: &str) -> Value {
    Value::SimpleString(Payload::copy_from_slice(s.as_bytes()))
}

#[test]
fn simple_string() {
    assert_eq!(one(b"+OK\r\n"), simple("OK"));
    assert_eq!(one(b"+\r\n"), simple(""));
    assert_eq!(one(b"+hello world\r\n"), simple("hello world"));
}

#[test]
fn simple_error_is_split_into_typed_code() {
    let cases: &[(&[u8], ServerErrorCode, &str)] = &[
        (
            b"-ERR unknown command 'foo'\r\n",
            ServerErrorCode::Err,
            "unknown command 'foo'",
        ),
        (
            b"-WRONGTYPE Operation against a key\r\n",
            ServerErrorCode::WrongType,
            "Operation against a key",
        ),
        (
            b"-MOVED 3999 127.0.0.1:6381\r\n",
            ServerErrorCode::Moved,
            "3999 127.0.0.1:6381",
        ),
        (
            b"-ASK 3999 127.0.0.1:6381\r\n",
            ServerErrorCode::Ask,
            "3999 127.0.0.1:6381",
        ),
        (
            b"-LOADING Redis is loading\r\n",
            ServerErrorCode::Loading,
            "Redis is loading",
        ),
        (
            b"-NOAUTH Authentication required.\r\n",
            ServerErrorCode::NoAuth,
            "Authentication required.",
        ),
        (
            b"-WRONGPASS invalid\r\n",
            ServerErrorCode::WrongPass,
            "invalid",
        ),
        (b"-NOPERM no\r\n", ServerErrorCode::NoPerm, "no"),
        (
            b"-NOPROTO unsupported\r\n",
            ServerErrorCode::NoProto,
            "unsupported",
        ),
        (
            b"-READONLY You can't write\r\n",
            ServerErrorCode::ReadOnly,
            "You can't write",
        ),
        (
            b"-MASTERDOWN Link down\r\n",
            ServerErrorCode::MasterDown,
            "Link down",
        ),
        (b"-BUSY script\r\n", ServerErrorCode::Busy, "script"),
        (
            b"-NOSCRIPT No matching\r\n",
            ServerErrorCode::NoScript,
            "No matching",
        ),
        (
            b"-EXECABORT discarded\r\n",
            ServerErrorCode::ExecAbort,
            "discarded",
        ),
        (
            b"-CLUSTERDOWN down\r\n",
            ServerErrorCode::ClusterDown,
            "down",
        ),
        (b"-TRYAGAIN later\r\n", ServerErrorCode::TryAgain, "later"),
        (b"-CROSSSLOT keys\r\n", ServerErrorCode::CrossSlot, "keys"),
        (
            b"-OOM command not allowed\r\n",
            ServerErrorCode::Oom,
            "command not allowed",
        ),
        (
            b"-NOREPLICAS not enough\r\n",
            ServerErrorCode::NoReplicas,
            "not enough",
        ),
        (b"-BUSYKEY exists\r\n", ServerErrorCode::BusyKey, "exists"),
        (
            b"-MISCONF cannot persist\r\n",
            ServerErrorCode::Misconf,
            "cannot persist",
        ),
        (
            b"-UNBLOCKED client unblocked\r\n",
            ServerErrorCode::Unblocked,
            "client unblocked",
        ),
        (b"-ERR\r\n", ServerErrorCode::Err, ""),
        (
            b"-CUSTOM something odd\r\n",
            ServerErrorCode::Other("CUSTOM".into()),
            "something odd",
        ),
        (b"-\r\n", ServerErrorCode::Other(String::new()), ""),
    ];
    for (wire, code, message) in cases {
        assert_eq!(
            one(wire),
            Value::Error(ServerError {
                code: code.clone(),
                message: (*message).into()
            }),
            "{}",
            String::from_utf8_lossy(wire)
        );
        assert_eq!(
            code.as_str(),
            ServerErrorCode::from_code(code.as_str()).as_str()
        );
    }
}

#[test]
fn bulk_error() {
    assert_eq!(
        one(b"!21\r\nSYNTAX invalid syntax\r\n"),
        Value::Error(ServerError {
            code: ServerErrorCode::Other("SYNTAX".into()),
            message: "invalid syntax".into()
        })
    );
    // A bulk error may contain CRLF.
    assert_eq!(
        one(b"!10\r\nERR a\r\nbcd\r\n"),
        Value::Error(ServerError {
            code: ServerErrorCode::Err,
            message: "a\r\nbcd".into()
        })
    );
}

#[test]
fn integers() {
    assert_eq!(one(b":0\r\n"), Value::Integer(0));
    assert_eq!(one(b":1000\r\n"), Value::Integer(1000));
    assert_eq!(one(b":-42\r\n"), Value::Integer(-42));
    assert_eq!(one(b":+7\r\n"), Value::Integer(7));
    assert_eq!(one(b":9223372036854775807\r\n"), Value::Integer(i64::MAX));
    assert_eq!(one(b":-9223372036854775808\r\n"), Value::Integer(i64::MIN));
}

#[test]
fn invalid_integers() {
    for wire in [
        &b":\r\n"[..],
        b":-\r\n",
        b":+\r\n",
        b":12a\r\n",
        b": 1\r\n",
        b":1.5\r\n",
        b":9223372036854775808\r\n",
        b":-9223372036854775809\r\n",
        b":99999999999999999999\r\n",
    ] {
        let e = err(wire);
        assert_eq!(
            e.kind,
            ProtocolErrorKind::InvalidInteger,
            "{}",
            String::from_utf8_lossy(wire)
        );
        assert_eq!(e.offset, 1);
    }
}

#[test]
fn bulk_strings() {
    assert_eq!(one(b"$5\r\nhello\r\n"), bulk("hello"));
    assert_eq!(one(b"$0\r\n\r\n"), bulk(""));
    // Binary safe: CR, LF and NUL inside.
    assert_eq!(
        one(b"$6\r\na\r\n\0bc\r\n"),
        Value::BulkString(Payload::from_static(b"a\r\n\0bc"))
    );
}

#[test]
fn nulls_resp2_and_resp3() {
    assert_eq!(one(b"$-1\r\n"), Value::Null);
    assert_eq!(one(b"*-1\r\n"), Value::Null);
    assert_eq!(one(b"_\r\n"), Value::Null);
    assert_fails(b"_x\r\n", ProtocolErrorKind::InvalidNull);
    // Only bulk strings and arrays have a RESP2 null.
    for wire in [
        &b"%-1\r\n"[..],
        b"~-1\r\n",
        b">-1\r\n",
        b"|-1\r\n",
        b"!-1\r\n",
        b"=-1\r\n",
        b"$-2\r\n",
        b"*-2\r\n",
    ] {
        assert_eq!(
            kind(wire),
            ProtocolErrorKind::InvalidLength,
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn arrays_nested_and_empty() {
    assert_eq!(one(b"*0\r\n"), Value::Array(vec![]));
    assert_eq!(
        one(b"*3\r\n:1\r\n$3\r\nfoo\r\n*2\r\n+a\r\n*0\r\n"),
        Value::Array(vec![
            Value::Integer(1),
            bulk("foo"),
            Value::Array(vec![simple("a"), Value::Array(vec![])])
        ])
    );
    // RESP2 null elements inside an array.
    assert_eq!(
        one(b"*2\r\n$-1\r\n*-1\r\n"),
        Value::Array(vec![Value::Null, Value::Null])
    );
}

#[test]
fn booleans() {
    assert_eq!(one(b"#t\r\n"), Value::Boolean(true));
    assert_eq!(one(b"#f\r\n"), Value::Boolean(false));
    for wire in [&b"#\r\n"[..], b"#T\r\n", b"#tf\r\n", b"#1\r\n"] {
        assert_fails(wire, ProtocolErrorKind::InvalidBoolean);
    }
}

#[test]
fn doubles() {
    assert_eq!(one(b",1.23\r\n"), Value::Double(1.23));
    assert_eq!(one(b",10\r\n"), Value::Double(10.0));
    assert_eq!(one(b",-0.5\r\n"), Value::Double(-0.5));
    assert_eq!(one(b",+2.5\r\n"), Value::Double(2.5));
    assert_eq!(one(b",1.5e3\r\n"), Value::Double(1500.0));
    assert_eq!(one(b",1E-2\r\n"), Value::Double(0.01));
    assert_eq!(one(b",inf\r\n"), Value::Double(f64::INFINITY));
    assert_eq!(one(b",-inf\r\n"), Value::Double(f64::NEG_INFINITY));
    match one(b",nan\r\n") {
        Value::Double(d) => assert!(d.is_nan()),
        v => panic!("{v:?}"),
    }
    for wire in [
        &b",\r\n"[..],
        b",abc\r\n",
        b",1.2.3\r\n",
        b",infinity\r\n",
        b",NaN\r\n",
        b",1e\r\n",
        b",.\r\n",
        b", 1\r\n",
    ] {
        assert_eq!(
            kind(wire),
            ProtocolErrorKind::InvalidDouble,
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn big_numbers() {
    assert_eq!(
        one(b"(3492890328409238509324850943850943825024385\r\n"),
        Value::BigNumber(Payload::from_static(
            b"3492890328409238509324850943850943825024385"
        ))
    );
    assert_eq!(
        one(b"(-12\r\n"),
        Value::BigNumber(Payload::from_static(b"-12"))
    );
    for wire in [&b"(\r\n"[..], b"(-\r\n", b"(12x\r\n", b"(1.5\r\n"] {
        assert_fails(wire, ProtocolErrorKind::InvalidBigNumber);
    }
}

#[test]
fn verbatim_strings() {
    assert_eq!(
        one(b"=15\r\ntxt:Some string\r\n"),
        Value::Verbatim {
            format: *b"txt",
            text: Payload::from_static(b"Some string")
        }
    );
    assert_eq!(
        one(b"=4\r\nmkd:\r\n"),
        Value::Verbatim {
            format: *b"mkd",
            text: Payload::new()
        }
    );
    for wire in [&b"=3\r\ntxt\r\n"[..], b"=5\r\ntxtxy\r\n", b"=0\r\n\r\n"] {
        let e = err(wire);
        assert_eq!(e.kind, ProtocolErrorKind::InvalidVerbatim);
        assert_eq!(
            e.offset,
            wire.iter().position(|&b| b == b'\n').unwrap() as u64 + 1
        );
    }
}

#[test]
fn maps_and_sets() {
    assert_eq!(
        one(b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"),
        Value::Map(vec![
            (simple("first"), Value::Integer(1)),
            (simple("second"), Value::Integer(2))
        ])
    );
    assert_eq!(one(b"%0\r\n"), Value::Map(vec![]));
    assert_eq!(
        one(b"~3\r\n+a\r\n:1\r\n#t\r\n"),
        Value::Set(vec![simple("a"), Value::Integer(1), Value::Boolean(true)])
    );
    assert_eq!(one(b"~0\r\n"), Value::Set(vec![]));
    // Aggregates as map keys.
    assert_eq!(
        one(b"%1\r\n*1\r\n:1\r\n~1\r\n:2\r\n"),
        Value::Map(vec![(
            Value::Array(vec![Value::Integer(1)]),
            Value::Set(vec![Value::Integer(2)])
        )])
    );
}

#[test]
fn push() {
    assert_eq!(
        one(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
        Value::Push(vec![bulk("message"), bulk("ch"), bulk("hi")])
    );
    assert_eq!(one(b">0\r\n"), Value::Push(vec![]));
}

#[test]
fn attributes_attach_to_the_following_value() {
    // The example of the RESP3 specification.
    let wire = b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n";
    assert_eq!(
        one(wire),
        Value::Attribute {
            attributes: vec![(
                simple("key-popularity"),
                Value::Map(vec![
                    (bulk("a"), Value::Double(0.1923)),
                    (bulk("b"), Value::Double(0.0012))
                ])
            )],
            value: Box::new(Value::Array(vec![
                Value::Integer(2039123),
                Value::Integer(9543892)
            ])),
        }
    );
    // Inside an aggregate the attribute does not count as an element.
    let wire = b"*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n";
    assert_eq!(
        one(wire),
        Value::Array(vec![
            Value::Integer(1),
            Value::Attribute {
                attributes: vec![(simple("ttl"), Value::Integer(3600))],
                value: Box::new(Value::Integer(2))
            }
        ])
    );
    // Empty attributes and attributes on attributes.
    assert_eq!(
        one(b"|0\r\n|1\r\n+a\r\n+b\r\n:5\r\n"),
        Value::Attribute {
            attributes: vec![],
            value: Box::new(Value::Attribute {
                attributes: vec![(simple("a"), simple("b"))],
                value: Box::new(Value::Integer(5))
            })
        }
    );
}

#[test]
fn streamed_strings() {
    assert_eq!(
        one(b"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n"),
        bulk("Hello word")
    );
    assert_eq!(one(b"$?\r\n;0\r\n"), bulk(""));
    // A chunk may contain CRLF.
    assert_eq!(one(b"$?\r\n;2\r\n\r\n\r\n;0\r\n"), bulk("\r\n"));
    // Inside an aggregate.
    assert_eq!(
        one(b"*2\r\n$?\r\n;1\r\na\r\n;0\r\n:1\r\n"),
        Value::Array(vec![bulk("a"), Value::Integer(1)])
    );
    // Only chunks may follow `$?`, and chunks only follow `$?`.
    assert_fails(b"$?\r\n:1\r\n", ProtocolErrorKind::UnexpectedStreamMarker);
    assert_fails(b";1\r\na\r\n", ProtocolErrorKind::UnexpectedStreamMarker);
    assert_fails(b"$?\r\n;-1\r\n", ProtocolErrorKind::InvalidLength);
    assert_fails(b"$?\r\n;?\r\n", ProtocolErrorKind::InvalidLength);
}

#[test]
fn streamed_aggregates() {
    assert_eq!(
        one(b"*?\r\n:1\r\n:2\r\n.\r\n"),
        Value::Array(vec![Value::Integer(1), Value::Integer(2)])
    );
    assert_eq!(one(b"*?\r\n.\r\n"), Value::Array(vec![]));
    assert_eq!(one(b"~?\r\n+a\r\n.\r\n"), Value::Set(vec![simple("a")]));
    assert_eq!(
        one(b"%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n"),
        Value::Map(vec![
            (simple("a"), Value::Integer(1)),
            (simple("b"), Value::Integer(2))
        ])
    );
    // Nested streamed aggregates each take their own end marker.
    assert_eq!(
        one(b"*?\r\n*?\r\n:1\r\n.\r\n*1\r\n:2\r\n.\r\n"),
        Value::Array(vec![
            Value::Array(vec![Value::Integer(1)]),
            Value::Array(vec![Value::Integer(2)])
        ])
    );
    // End marker outside a streamed aggregate, in a counted one, or between a key and its value.
    assert_fails(b".\r\n", ProtocolErrorKind::UnexpectedStreamMarker);
    assert_fails(
        b"*2\r\n:1\r\n.\r\n",
        ProtocolErrorKind::UnexpectedStreamMarker,
    );
    assert_fails(
        b"%?\r\n+a\r\n.\r\n",
        ProtocolErrorKind::UnexpectedStreamMarker,
    );
    assert_fails(b"*?\r\n.x\r\n", ProtocolErrorKind::UnexpectedStreamMarker);
    // Push and attribute have no streamed form.
    assert_fails(b">?\r\n", ProtocolErrorKind::InvalidLength);
    assert_fails(b"|?\r\n", ProtocolErrorKind::InvalidLength);
}

#[test]
fn unknown_type_byte() {
    let e = err(b"+OK\r\n@foo\r\n");
    assert_eq!(e, at(ProtocolErrorKind::UnknownType(b'@'), 5));
    // Reported as soon as the byte arrives, without waiting for a line end.
    let mut d = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&b"x"[..]);
    assert_eq!(
        d.decode(&mut buf).unwrap_err().kind,
        ProtocolErrorKind::UnknownType(b'x')
    );
    // Inline (telnet-style) replies are not RESP.
    assert_fails(b"OK\r\n", ProtocolErrorKind::UnknownType(b'O'));
}

#[test]
fn missing_crlf() {
    let e = err(b"+OK\n");
    assert_eq!(e, at(ProtocolErrorKind::MissingCrlf, 3));
    let e = err(b"$3\r\nfooXY");
    assert_eq!(e, at(ProtocolErrorKind::MissingCrlf, 7));
    assert_fails(b"$3\r\nfoo\rX", ProtocolErrorKind::MissingCrlf);
    assert_fails(b":1\n", ProtocolErrorKind::MissingCrlf);
}

#[test]
fn invalid_lengths() {
    for wire in [
        &b"$\r\n"[..],
        b"$abc\r\n",
        b"$+3\r\n",
        b"$ 3\r\n",
        b"*x\r\n",
        b"*\r\n",
        b"%1.0\r\n",
        b"=?\r\n",
        b"!?\r\n",
    ] {
        let e = err(wire);
        assert_eq!(
            e.kind,
            ProtocolErrorKind::InvalidLength,
            "{}",
            String::from_utf8_lossy(wire)
        );
        assert_eq!(e.offset, 1);
    }
}

#[test]
fn error_offsets_count_from_decoder_creation() {
    let mut d = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&b"+OK\r\n:1\r\n"[..]);
    assert_eq!(d.decode(&mut buf).unwrap(), Some(simple("OK")));
    assert_eq!(d.decode(&mut buf).unwrap(), Some(Value::Integer(1)));
    assert_eq!(d.position(), 9);
    let mut buf = BytesMut::from(&b"*1\r\n#x\r\n"[..]);
    let e = d.decode(&mut buf).unwrap_err();
    assert_eq!(e, at(ProtocolErrorKind::InvalidBoolean, 9 + 4 + 1));
}

#[test]
fn limits_bulk_len() {
    let limits = with_limit(|l| l.max_bulk_len = 4);
    assert_eq!(
        decode_all_with(limits, b"$4\r\nabcd\r\n").unwrap(),
        vec![bulk("abcd")]
    );
    assert_fails_with(limits, b"$5\r\n", ProtocolErrorKind::BulkTooLong);
    assert_fails_with(limits, b"=9\r\n", ProtocolErrorKind::BulkTooLong);
    assert_fails_with(limits, b"!5\r\n", ProtocolErrorKind::BulkTooLong);
    // A streamed string counts the sum of its chunks.
    assert_fails_with(
        limits,
        b"$?\r\n;3\r\nabc\r\n;2\r\n",
        ProtocolErrorKind::BulkTooLong,
    );
    // Huge declared lengths: rejected from the header alone, nothing reserved.
    let e = err(b"$4294967296\r\n");
    assert_eq!(e, at(ProtocolErrorKind::BulkTooLong, 0));
    assert_fails(
        b"$99999999999999999999999999\r\n",
        ProtocolErrorKind::BulkTooLong,
    );
}

#[test]
fn limits_aggregate_len() {
    let limits = with_limit(|l| l.max_aggregate_len = 2);
    assert!(decode_all_with(limits, b"*2\r\n:1\r\n:2\r\n").is_ok());
    for wire in [&b"*3\r\n"[..], b"~3\r\n", b">3\r\n", b"%3\r\n", b"|3\r\n"] {
        assert_fails_with(limits, wire, ProtocolErrorKind::AggregateTooLong);
    }
    // Redis's own maximum is accepted as a header and costs nothing until elements arrive.
    let mut d = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&b"*2147483647\r\n:1\r\n"[..]);
    assert_eq!(d.decode(&mut buf).unwrap(), None);
    assert!(d.is_mid_frame());
    assert_fails(b"*4294967296\r\n", ProtocolErrorKind::AggregateTooLong);
}

#[test]
fn limits_depth() {
    let limits = with_limit(|l| l.max_depth = 3);
    assert_eq!(
        decode_all_with(limits, b"*1\r\n*1\r\n*1\r\n:1\r\n").unwrap(),
        vec![Value::Array(vec![Value::Array(vec![Value::Array(vec![
            Value::Integer(1)
        ])])])]
    );
    let e = err_with(limits, b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
    assert_eq!(e, at(ProtocolErrorKind::TooDeep, 12));
    assert_fails_with(
        limits,
        b"|1\r\n|1\r\n%1\r\n~1\r\n",
        ProtocolErrorKind::TooDeep,
    );
    // Empty aggregates open no level.
    assert!(decode_all_with(limits, b"*1\r\n*1\r\n*1\r\n*0\r\n").is_ok());
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let depth = 1_000_000;
    let mut wire = Vec::new();
    for _ in 0..depth {
        wire.extend_from_slice(b"*1\r\n");
    }
    wire.extend_from_slice(b":7\r\n");
    let limits = with_limit(|l| l.max_depth = usize::MAX);
    let mut v = decode_all_with(limits, &wire).unwrap().pop().unwrap();
    // Unwind iteratively too: dropping a million-deep value recursively would overflow.
    let mut levels = 0;
    loop {
        match v {
            Value::Array(mut items) => {
                levels += 1;
                v = items.pop().unwrap();
            }
            Value::Integer(7) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(levels, depth);
    // With the default limit it is a typed error.
    assert_fails(&wire, ProtocolErrorKind::TooDeep);
}

#[test]
fn limits_line_len() {
    let limits = with_limit(|l| l.max_line_len = 5);
    assert_eq!(
        decode_all_with(limits, b"+abcde\r\n").unwrap(),
        vec![simple("abcde")]
    );
    assert_fails_with(limits, b"+abcdef\r\n", ProtocolErrorKind::LineTooLong);
    // Without a line end in sight, as soon as the limit is passed.
    assert_fails_with(limits, b"+abcdefgh", ProtocolErrorKind::LineTooLong);
    assert_fails_with(limits, b":1234567", ProtocolErrorKind::LineTooLong);
}

#[test]
fn limits_frame_bytes() {
    let limits = with_limit(|l| l.max_frame_bytes = 20);
    // 4 + 9 + 7 = 20 bytes: allowed.
    assert!(decode_all_with(limits, b"*2\r\n$3\r\nabc\r\n:1234\r\n").is_ok());
    assert_fails_with(
        limits,
        b"*2\r\n$3\r\nabc\r\n:12345\r\n",
        ProtocolErrorKind::FrameTooLarge,
    );
    // A bulk whose declared size breaks the limit fails at its header.
    assert_fails_with(limits, b"*1\r\n$20\r\n", ProtocolErrorKind::FrameTooLarge);
    // The limit is per frame: many small frames are fine.
    let mut many = Vec::new();
    for _ in 0..100 {
        many.extend_from_slice(b"*1\r\n:1\r\n");
    }
    assert_eq!(decode_all_with(limits, &many).unwrap().len(), 100);
}

#[test]
fn consumes_exactly_one_frame_and_leaves_the_rest() {
    let mut d = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&b"*1\r\n:1\r\n+next\r\n$3\r\nab"[..]);
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(Value::Array(vec![Value::Integer(1)]))
    );
    assert_eq!(&buf[..], b"+next\r\n$3\r\nab");
    assert_eq!(d.decode(&mut buf).unwrap(), Some(simple("next")));
    assert_eq!(d.decode(&mut buf).unwrap(), None);
    assert!(d.is_mid_frame());
    buf.extend_from_slice(b"c\r\n");
    assert_eq!(d.decode(&mut buf).unwrap(), Some(bulk("abc")));
    assert!(buf.is_empty());
    assert_eq!(d.decode(&mut buf).unwrap(), None);
    assert!(!d.is_mid_frame());
}

#[test]
fn byte_by_byte_feeding() {
    let wire: &[u8] = b"*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n,1.5\r\n|1\r\n+a\r\n#t\r\n=8\r\ntxt:abcd\r\n$?\r\n;2\r\nxy\r\n;0\r\n";
    let expected = decode_all_with(Limits::default(), wire).unwrap();
    assert_eq!(expected.len(), 2);
    let mut d = Decoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in wire {
        buf.extend_from_slice(&[b]);
        while let Some(v) = d.decode(&mut buf).unwrap() {
            got.push(v);
        }
    }
    assert_eq!(got, expected);
}

#[test]
fn long_bulk_payload_is_a_slice_of_the_read_buffer() {
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(b"$40\r\n0123456789012345678901234567890123456789\r\n");
    const _: () = assert!(40 > Payload::INLINE_CAPACITY);
    let base = buf.as_ptr() as usize;
    let mut d = Decoder::new(Limits::default());
    match d.decode(&mut buf).unwrap() {
        Some(Value::BulkString(b)) => {
            assert!(!b.is_inline());
            assert_eq!(b.as_ptr() as usize, base + 5, "payload was copied")
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn short_payloads_are_inline_and_release_the_read_buffer() {
    let max = Payload::INLINE_CAPACITY;
    let short = "s".repeat(max);
    let wire = format!(
        "*3\r\n${max}\r\n{short}\r\n+{short}\r\n${}\r\n{short}x\r\n",
        max + 1
    );
    let mut buf = BytesMut::from(wire.as_bytes());
    let base = buf.as_ptr() as usize;
    match Decoder::new(Limits::default()).decode(&mut buf).unwrap() {
        Some(Value::Array(items)) => match &items[..] {
            [Value::BulkString(a), Value::SimpleString(b), Value::BulkString(c)] => {
                assert!(a.is_inline() && b.is_inline() && !c.is_inline());
                assert_eq!((&a[..], &b[..]), (short.as_bytes(), short.as_bytes()));
                assert_eq!(c.as_ptr() as usize, base + wire.len() - max - 3);
            }
            other => panic!("{other:?}"),
        },
        v => panic!("{v:?}"),
    }
    // Decoded one by one, the slow path too.
    let wire = format!("${max}\r\n{short}\r\n+{short}\r\n(12345\r\n=7\r\ntxt:abc\r\n");
    for v in decode_all_with(Limits::default(), wire.as_bytes()).unwrap() {
        match v {
            Value::BulkString(p) | Value::SimpleString(p) | Value::BigNumber(p) => {
                assert!(p.is_inline(), "{p:?}")
            }
            Value::Verbatim { text, .. } => assert!(text.is_inline() && text == "abc"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn nested_and_chunked_payloads_are_not_copied() {
    // Inside an aggregate.
    let long = "l".repeat(Payload::INLINE_CAPACITY + 1);
    let head = format!("*2\r\n${}\r\n", long.len());
    let mut buf = BytesMut::with_capacity(128);
    buf.extend_from_slice(format!("{head}{long}\r\n+{long}\r\n").as_bytes());
    let base = buf.as_ptr() as usize;
    match Decoder::new(Limits::default()).decode(&mut buf).unwrap() {
        Some(Value::Array(items)) => match &items[..] {
            [Value::BulkString(a), Value::SimpleString(h)] => {
                assert_eq!(a.as_ptr() as usize, base + head.len());
                assert_eq!(h.as_ptr() as usize, base + head.len() + long.len() + 3);
            }
            other => panic!("{other:?}"),
        },
        v => panic!("{v:?}"),
    }
    // A 1 MiB bulk arriving in 1 KiB pieces into a buffer that does not
    // reallocate: the payload is the buffer's own bytes.
    let len = 1 << 20;
    let header = format!("${len}\r\n");
    let mut wire = header.clone().into_bytes();
    wire.extend((0..len).map(|i| (i % 251) as u8));
    wire.extend_from_slice(b"\r\n");
    let mut buf = BytesMut::with_capacity(wire.len());
    let base = buf.as_ptr() as usize;
    let mut d = Decoder::new(Limits::default());
    let mut got = None;
    for piece in wire.chunks(1024) {
        buf.extend_from_slice(piece);
        if let Some(v) = d.decode(&mut buf).unwrap() {
            got = Some(v);
        }
    }
    match got {
        Some(Value::BulkString(b)) => {
            assert_eq!(b.len(), len);
            assert_eq!(
                b.as_ptr() as usize,
                base + header.len(),
                "payload was copied"
            );
            assert_eq!(&b[..], &wire[header.len()..header.len() + len]);
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn runs_of_bulks_in_aggregates() {
    let items: Vec<Value> = (0..150).map(|i| bulk(&"x".repeat(i % 7))).collect();
    let mut wire = b"*150\r\n".to_vec();
    for i in 0..150 {
        wire.extend_from_slice(format!("${}\r\n{}\r\n", i % 7, "x".repeat(i % 7)).as_bytes());
    }
    assert_eq!(one(&wire), Value::Array(items.clone()));
    let set = [b"~".as_slice(), &wire[1..]].concat();
    assert_eq!(one(&set), Value::Set(items.clone()));
    let push = [b">".as_slice(), &wire[1..]].concat();
    assert_eq!(one(&push), Value::Push(items));
    // Bulks mixed with other elements and nested aggregates.
    assert_eq!(
        one(b"*6\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n$1\r\nc\r\n*2\r\n$1\r\nd\r\n$1\r\ne\r\n$-1\r\n"),
        Value::Array(vec![
            bulk("a"),
            bulk("b"),
            Value::Integer(1),
            bulk("c"),
            Value::Array(vec![bulk("d"), bulk("e")]),
            Value::Null
        ])
    );
    // Limits broken in the middle of a run are reported at the element that breaks them.
    let wire = b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$9\r\n123456789\r\n$1\r\nc\r\n";
    let e = err_with(with_limit(|l| l.max_bulk_len = 8), wire);
    assert_eq!(e, at(ProtocolErrorKind::BulkTooLong, 18));
    let e = err_with(with_limit(|l| l.max_frame_bytes = 20), wire);
    assert_eq!(e, at(ProtocolErrorKind::FrameTooLarge, 18));
    // A bad CRLF inside a run.
    let e = err(b"*3\r\n$1\r\na\r\n$1\r\nbXY$1\r\nc\r\n");
    assert_eq!(e, at(ProtocolErrorKind::MissingCrlf, 16));
}

#[test]
fn runs_of_scalars_in_maps_and_attributes() {
    // Every simple element type in one map, decoded as one run.
    let wire = b"%4\r\n$1\r\na\r\n:-5\r\n+b\r\n,2.5\r\n#t\r\n_\r\n:7\r\n#f\r\n";
    assert_eq!(
        one(wire),
        Value::Map(vec![
            (bulk("a"), Value::Integer(-5)),
            (simple("b"), Value::Double(2.5)),
            (Value::Boolean(true), Value::Null),
            (Value::Integer(7), Value::Boolean(false)),
        ])
    );
    // An attribute map completed by a run, then the value it describes.
    assert_eq!(
        one(b"|2\r\n+a\r\n:1\r\n+b\r\n:2\r\n*2\r\n:3\r\n:4\r\n"),
        Value::Attribute {
            attributes: vec![
                (simple("a"), Value::Integer(1)),
                (simple("b"), Value::Integer(2))
            ],
            value: Box::new(Value::Array(vec![Value::Integer(3), Value::Integer(4)])),
        }
    );
    // Errors inside a run are reported by the per-element path at their own offset.
    let e = err(b"%2\r\n:1\r\n:2\r\n#x\r\n:3\r\n");
    assert_eq!(e, at(ProtocolErrorKind::InvalidBoolean, 13));
    let e = err(b"*3\r\n:1\r\n,1.5\r\n,abc\r\n");
    assert_eq!(e, at(ProtocolErrorKind::InvalidDouble, 15));
    let e = err_with(
        with_limit(|l| l.max_line_len = 3),
        b"*3\r\n:1\r\n:22\r\n:4444\r\n",
    );
    assert_eq!(e, at(ProtocolErrorKind::LineTooLong, 13));
}

#[test]
fn limits_frame_elements() {
    let limits = with_limit(|l| l.max_frame_elements = 4);
    // Four values: allowed (a map pair counts two, a nested aggregate one).
    assert!(decode_all_with(limits, b"*2\r\n*2\r\n_\r\n_\r\n_\r\n").is_ok());
    assert!(decode_all_with(limits, b"*2\r\n*2\r\n_\r\n_\r\n*1\r\n_\r\n").is_err());
    assert!(decode_all_with(limits, b"*2\r\n*1\r\n_\r\n_\r\n").is_ok());
    assert!(decode_all_with(limits, b"%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n").is_ok());
    // The fifth value is refused, at the end of the element that breaks the limit.
    let e = err_with(limits, b"*5\r\n_\r\n_\r\n_\r\n_\r\n_\r\n");
    assert_eq!(e, at(ProtocolErrorKind::FrameTooLarge, 19));
    let e = err_with(
        limits,
        b"*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    assert_eq!(e, at(ProtocolErrorKind::FrameTooLarge, 39));
    // The count is per frame.
    let mut many = Vec::new();
    for _ in 0..10 {
        many.extend_from_slice(b"*4\r\n_\r\n_\r\n_\r\n_\r\n");
    }
    assert_eq!(decode_all_with(limits, &many).unwrap().len(), 10);
    // The default bounds what a hostile server can make a frame hold in memory.
    assert_eq!(Limits::default().max_frame_elements, 8 * 1024 * 1024);
}
