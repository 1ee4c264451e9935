//! Encoder tests: the exact bytes of commands and of every value type.

use bytes::{Bytes, BytesMut};
use redwire_core::resp::{
    cmd, encode_value, Cmd, Payload, ServerError, ServerErrorCode, ToArg, Value,
};

fn arg_bytes<A: ToArg>(a: A) -> Vec<u8> {
    let mut out = BytesMut::new();
    a.write_arg(&mut out);
    out.to_vec()
}

fn enc(v: &Value) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_value(v, &mut out);
    out.to_vec()
}

#[test]
fn command_encoding() {
    let c = cmd("SET").arg("key").arg(42);
    assert_eq!(c.argc(), 3);
    assert_eq!(
        &c.to_bytes()[..],
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n42\r\n"
    );
    assert_eq!(c.encoded_len(), c.to_bytes().len());
    // write_to appends, leaving what was there.
    let mut out = BytesMut::from(&b"xx"[..]);
    cmd("PING").write_to(&mut out);
    assert_eq!(&out[..], b"xx*1\r\n$4\r\nPING\r\n");
    assert_eq!(&Cmd::new().to_bytes()[..], b"*0\r\n");
    let many = cmd("DEL").args(["a", "b", "c"]);
    assert_eq!(many.argc(), 4);
    let mut built = cmd("MSET");
    for i in 0..3 {
        built.push_arg(i);
        built.push_arg(format!("v{i}"));
    }
    assert_eq!(built.argc(), 7);
    assert_eq!(cmd("A").arg(1), cmd("A").arg("1"));
}

#[test]
fn every_argument_type() {
    let s = String::from("str");
    let v: Vec<u8> = b"vec".to_vec();
    assert_eq!(arg_bytes("str"), b"$3\r\nstr\r\n");
    assert_eq!(arg_bytes(&s), b"$3\r\nstr\r\n");
    assert_eq!(arg_bytes(s.clone()), b"$3\r\nstr\r\n");
    assert_eq!(arg_bytes(&v), b"$3\r\nvec\r\n");
    assert_eq!(arg_bytes(&v[..]), b"$3\r\nvec\r\n");
    assert_eq!(arg_bytes(v.clone()), b"$3\r\nvec\r\n");
    assert_eq!(arg_bytes(b"arr"), b"$3\r\narr\r\n");
    assert_eq!(arg_bytes(*b"arr"), b"$3\r\narr\r\n");
    assert_eq!(arg_bytes(Bytes::from_static(b"byt")), b"$3\r\nbyt\r\n");
    assert_eq!(arg_bytes(""), b"$0\r\n\r\n");
    assert_eq!(arg_bytes(&b"a\r\n\0"[..]), b"$4\r\na\r\n\0\r\n");
    assert_eq!(arg_bytes(0u8), b"$1\r\n0\r\n");
    assert_eq!(arg_bytes(-1i8), b"$2\r\n-1\r\n");
    assert_eq!(arg_bytes(i64::MIN), b"$20\r\n-9223372036854775808\r\n");
    assert_eq!(arg_bytes(u64::MAX), b"$20\r\n18446744073709551615\r\n");
    assert_eq!(
        arg_bytes(i128::MIN),
        format!("$40\r\n{}\r\n", i128::MIN).into_bytes()
    );
    assert_eq!(
        arg_bytes(u128::MAX),
        format!("$39\r\n{}\r\n", u128::MAX).into_bytes()
    );
    assert_eq!(arg_bytes(12usize), b"$2\r\n12\r\n");
    assert_eq!(arg_bytes(-7isize), b"$2\r\n-7\r\n");
    assert_eq!(arg_bytes(1.5f64), b"$3\r\n1.5\r\n");
    assert_eq!(arg_bytes(0.1f32), b"$3\r\n0.1\r\n");
    assert_eq!(arg_bytes(-0.25f64), b"$5\r\n-0.25\r\n");
    assert_eq!(arg_bytes(1e300f64), b"$5\r\n1e300\r\n");
    assert_eq!(arg_bytes(f64::INFINITY), b"$3\r\ninf\r\n");
    assert_eq!(arg_bytes(f64::NEG_INFINITY), b"$4\r\n-inf\r\n");
    assert_eq!(arg_bytes(3.0f64), b"$3\r\n3.0\r\n");
}

#[test]
fn every_value_type() {
    let b = |s: &'static [u8]| Payload::from_static(s);
    assert_eq!(enc(&Value::SimpleString(b(b"OK"))), b"+OK\r\n");
    assert_eq!(
        enc(&Value::Error(ServerError {
            code: ServerErrorCode::WrongType,
            message: "bad".into()
        })),
        b"-WRONGTYPE bad\r\n"
    );
    assert_eq!(
        enc(&Value::Error(ServerError {
            code: ServerErrorCode::Err,
            message: "".into()
        })),
        b"-ERR\r\n"
    );
    // An error text with CRLF can only be a bulk error.
    assert_eq!(
        enc(&Value::Error(ServerError {
            code: ServerErrorCode::Err,
            message: "a\r\nb".into()
        })),
        b"!8\r\nERR a\r\nb\r\n"
    );
    assert_eq!(enc(&Value::Integer(-3)), b":-3\r\n");
    assert_eq!(enc(&Value::BulkString(b(b"hi"))), b"$2\r\nhi\r\n");
    assert_eq!(enc(&Value::Null), b"_\r\n");
    assert_eq!(enc(&Value::Boolean(true)), b"#t\r\n");
    assert_eq!(enc(&Value::Boolean(false)), b"#f\r\n");
    assert_eq!(enc(&Value::Double(1.5)), b",1.5\r\n");
    assert_eq!(enc(&Value::Double(f64::INFINITY)), b",inf\r\n");
    assert_eq!(enc(&Value::Double(f64::NEG_INFINITY)), b",-inf\r\n");
    assert_eq!(enc(&Value::Double(f64::NAN)), b",nan\r\n");
    assert_eq!(
        enc(&Value::BigNumber(b(b"-123456789012345678901234567890"))),
        b"(-123456789012345678901234567890\r\n"
    );
    assert_eq!(
        enc(&Value::Verbatim {
            format: *b"txt",
            text: b(b"hi")
        }),
        b"=6\r\ntxt:hi\r\n"
    );
    assert_eq!(
        enc(&Value::Array(vec![Value::Integer(1), Value::Null])),
        b"*2\r\n:1\r\n_\r\n"
    );
    assert_eq!(enc(&Value::Set(vec![Value::Integer(1)])), b"~1\r\n:1\r\n");
    assert_eq!(enc(&Value::Push(vec![])), b">0\r\n");
    assert_eq!(
        enc(&Value::Map(vec![(
            Value::SimpleString(b(b"a")),
            Value::Integer(1)
        )])),
        b"%1\r\n+a\r\n:1\r\n"
    );
    assert_eq!(
        enc(&Value::Attribute {
            attributes: vec![(Value::SimpleString(b(b"ttl")), Value::Integer(5))],
            value: Box::new(Value::Array(vec![Value::Integer(1), Value::Integer(2)])),
        }),
        b"|1\r\n+ttl\r\n:5\r\n*2\r\n:1\r\n:2\r\n"
    );
}

#[test]
fn deep_values_encode_without_recursion() {
    let mut v = Value::Integer(1);
    for _ in 0..200_000 {
        v = Value::Array(vec![v]);
    }
    let mut out = BytesMut::new();
    encode_value(&v, &mut out);
    assert_eq!(out.len(), 200_000 * 4 + 4);
    // Take it apart iteratively: a recursive drop this deep would overflow.
    while let Value::Array(mut items) = v {
        v = items.pop().unwrap();
    }
}

/// A command moved into its encoding (header written into the room kept in front of the
/// arguments) gives exactly the bytes of the copying encoder, whatever the header's width,
/// and a request built from it writes those bytes.
#[test]
fn moved_command_encodes_like_a_copied_one() {
    for n in [0usize, 1, 8, 9, 10, 99, 100, 1000] {
        let mut c = Cmd::new();
        for i in 0..n {
            c.push_arg(i);
        }
        let copied = c.to_bytes();
        assert_eq!(c.encoded_len(), copied.len());
        let request = redwire_core::conn::Request::from(c.clone());
        assert_eq!(request.bytes(), &copied[..], "{n} arguments");
        assert_eq!(c.into_bytes(), copied, "{n} arguments");
    }
    let big = vec![7u8; 100_000];
    let c = cmd("SET").arg("k").arg(&big[..]);
    assert_eq!(c.to_bytes(), c.clone().into_bytes());
}

/// The bulk string of `data`, written the plain way.
fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Every argument length around the short-argument path's limits (each byte distinct, so a
/// byte copied to the wrong place shows), as a command's name and as a later argument,
/// appended to buffers of every fill level up to their capacity.
#[test]
fn arguments_of_every_short_length_encode_exactly() {
    for n in 0..=80usize {
        let data: Vec<u8> = (0..n).map(|i| b'A' + (i % 50) as u8).collect();
        let name = String::from_utf8(data.clone()).unwrap();
        let mut expected = b"*2\r\n".to_vec();
        expected.extend(bulk(&data));
        expected.extend(bulk(&data));
        let c = cmd(&name).arg(&data[..]);
        assert_eq!(c.to_bytes(), expected, "{n} bytes");
        assert_eq!(c.encoded_len(), expected.len(), "{n} bytes");
        assert_eq!(c.into_bytes(), expected, "{n} bytes");
        for fill in 0..=130usize {
            let mut out = BytesMut::with_capacity(128);
            out.extend_from_slice(&vec![b'x'; fill]);
            data[..].write_arg(&mut out);
            assert_eq!(
                &out[..fill],
                &vec![b'x'; fill][..],
                "{n} bytes after {fill}"
            );
            assert_eq!(&out[fill..], &bulk(&data)[..], "{n} bytes after {fill}");
        }
    }
}
