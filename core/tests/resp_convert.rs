//! Conversion tests: every target type, from RESP2 and RESP3 shapes, and
//! server errors surfacing as ReplyError::Server at any depth.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use redwire_core::resp::{
    from_value, ConversionError, Payload, ReplyError, ServerError, ServerErrorCode, Value,
};

fn bulk(s: &str) -> Value {
    Value::BulkString(Payload::copy_from_slice(s.as_bytes()))
}

fn simple(s: &str) -> Value {
    Value::SimpleString(Payload::copy_from_slice(s.as_bytes()))
}

fn server_err(code: &str) -> Value {
    Value::Error(ServerError::parse(
        format!("{code} something failed").as_bytes(),
    ))
}

fn conversion<T: std::fmt::Debug>(r: Result<T, ReplyError>) -> ConversionError {
    match r {
        Err(ReplyError::Conversion(e)) => e,
        other => panic!("expected a conversion error, got {other:?}"),
    }
}

fn server<T: std::fmt::Debug>(r: Result<T, ReplyError>) -> ServerError {
    match r {
        Err(ReplyError::Server(e)) => e,
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[test]
fn strings_and_bytes() {
    assert_eq!(from_value::<String>(bulk("hé")).unwrap(), "hé");
    assert_eq!(from_value::<String>(simple("OK")).unwrap(), "OK");
    assert_eq!(
        from_value::<String>(Value::Verbatim {
            format: *b"txt",
            text: Payload::from_static(b"v")
        })
        .unwrap(),
        "v"
    );
    assert_eq!(from_value::<String>(Value::Integer(-4)).unwrap(), "-4");
    assert_eq!(from_value::<String>(Value::Double(2.5)).unwrap(), "2.5");
    assert_eq!(
        from_value::<String>(Value::BigNumber(Payload::from_static(b"123"))).unwrap(),
        "123"
    );
    let e = conversion(from_value::<String>(Value::BulkString(
        Payload::from_static(b"\xff"),
    )));
    assert_eq!(
        e,
        ConversionError {
            expected: "String",
            found: "non-UTF-8 bytes"
        }
    );
    assert_eq!(conversion(from_value::<String>(Value::Null)).found, "null");
    assert_eq!(from_value::<Vec<u8>>(bulk("ab")).unwrap(), b"ab");
    assert_eq!(
        from_value::<Bytes>(bulk("ab")).unwrap(),
        Bytes::from_static(b"ab")
    );
    assert_eq!(
        conversion(from_value::<Bytes>(Value::Array(vec![]))).found,
        "array"
    );
}

#[test]
fn integers_from_every_shape() {
    assert_eq!(from_value::<i64>(Value::Integer(-9)).unwrap(), -9);
    assert_eq!(from_value::<i64>(bulk("42")).unwrap(), 42);
    assert_eq!(from_value::<u64>(simple("7")).unwrap(), 7);
    assert_eq!(from_value::<i32>(Value::Double(3.0)).unwrap(), 3);
    assert_eq!(from_value::<u16>(Value::Boolean(true)).unwrap(), 1);
    assert_eq!(
        from_value::<i128>(Value::BigNumber(Payload::from_static(
            b"-170141183460469231731687303715884105728"
        )))
        .unwrap(),
        i128::MIN
    );
    assert_eq!(
        conversion(from_value::<i64>(Value::Double(3.5))).found,
        "double"
    );
    assert_eq!(
        conversion(from_value::<i64>(bulk("x"))).found,
        "bulk string"
    );
    assert_eq!(
        conversion(from_value::<i8>(Value::Integer(300))),
        ConversionError {
            expected: "i8",
            found: "out-of-range integer"
        }
    );
    assert_eq!(
        conversion(from_value::<u32>(Value::Integer(-1))).found,
        "out-of-range integer"
    );
    assert_eq!(from_value::<usize>(Value::Integer(5)).unwrap(), 5);
    assert_eq!(from_value::<isize>(Value::Integer(-5)).unwrap(), -5);
}

#[test]
fn floats_and_bools() {
    assert_eq!(from_value::<f64>(Value::Double(1.25)).unwrap(), 1.25);
    assert_eq!(from_value::<f64>(bulk("1.25")).unwrap(), 1.25); // RESP2 sends doubles as bulk strings
    assert_eq!(from_value::<f64>(bulk("inf")).unwrap(), f64::INFINITY);
    assert_eq!(from_value::<f64>(bulk("-inf")).unwrap(), f64::NEG_INFINITY);
    assert_eq!(from_value::<f64>(Value::Integer(3)).unwrap(), 3.0);
    assert_eq!(from_value::<f32>(bulk("0.5")).unwrap(), 0.5);
    assert_eq!(conversion(from_value::<f64>(bulk("abc"))).expected, "f64");
    assert_eq!(conversion(from_value::<f32>(Value::Null)).expected, "f32");
    assert!(from_value::<bool>(Value::Boolean(true)).unwrap());
    assert!(from_value::<bool>(Value::Integer(1)).unwrap()); // RESP2 booleans are 0/1
    assert!(!from_value::<bool>(Value::Integer(0)).unwrap());
    assert!(from_value::<bool>(bulk("1")).unwrap());
    assert_eq!(
        conversion(from_value::<bool>(Value::Integer(2))).found,
        "integer"
    );
}

#[test]
fn options_and_sequences() {
    assert_eq!(from_value::<Option<String>>(Value::Null).unwrap(), None);
    assert_eq!(
        from_value::<Option<String>>(bulk("a")).unwrap(),
        Some("a".into())
    );
    assert_eq!(
        from_value::<Vec<i64>>(Value::Array(vec![Value::Integer(1), bulk("2")])).unwrap(),
        vec![1, 2]
    );
    assert_eq!(
        from_value::<Vec<i64>>(Value::Set(vec![Value::Integer(1)])).unwrap(),
        vec![1]
    );
    assert_eq!(
        from_value::<Vec<i64>>(Value::Push(vec![Value::Integer(1)])).unwrap(),
        vec![1]
    );
    assert_eq!(
        from_value::<Vec<String>>(Value::Null).unwrap(),
        Vec::<String>::new()
    ); // RESP2 *-1
    assert_eq!(
        from_value::<Vec<Option<String>>>(Value::Array(vec![bulk("a"), Value::Null])).unwrap(),
        vec![Some("a".into()), None]
    );
    let set: HashSet<String> =
        from_value(Value::Set(vec![bulk("a"), bulk("b"), bulk("a")])).unwrap();
    assert_eq!(set.len(), 2);
    let set: BTreeSet<i64> =
        from_value(Value::Array(vec![Value::Integer(2), Value::Integer(1)])).unwrap();
    assert_eq!(set.into_iter().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(
        conversion(from_value::<Vec<i64>>(Value::Integer(1))).found,
        "integer"
    );
    assert_eq!(
        conversion(from_value::<Vec<i64>>(Value::Array(vec![bulk("x")]))).found,
        "bulk string"
    );
}

#[test]
fn maps_from_resp3_and_resp2_shapes() {
    let resp3 = Value::Map(vec![
        (bulk("a"), Value::Integer(1)),
        (bulk("b"), Value::Integer(2)),
    ]);
    let resp2 = Value::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")]);
    let pairs = Value::Array(vec![
        Value::Array(vec![bulk("a"), Value::Integer(1)]),
        Value::Array(vec![bulk("b"), Value::Integer(2)]),
    ]);
    for v in [resp3, resp2, pairs] {
        let m: HashMap<String, i64> = from_value(v.clone()).unwrap();
        assert_eq!(
            m,
            HashMap::from([("a".to_string(), 1), ("b".to_string(), 2)])
        );
        let m: BTreeMap<String, i64> = from_value(v).unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![("a".to_string(), 1), ("b".to_string(), 2)]
        );
    }
    assert!(from_value::<HashMap<String, i64>>(Value::Null)
        .unwrap()
        .is_empty());
    assert_eq!(
        conversion(from_value::<HashMap<String, i64>>(Value::Array(vec![
            bulk("a")
        ])))
        .found,
        "array of odd length"
    );
    // A map read as a list of pairs.
    let v: Vec<(String, bool)> =
        from_value(Value::Map(vec![(bulk("x"), Value::Boolean(true))])).unwrap();
    assert_eq!(v, vec![("x".to_string(), true)]);
}

#[test]
fn tuples() {
    let v = Value::Array(vec![
        bulk("k"),
        Value::Integer(1),
        Value::Double(1.5),
        Value::Boolean(true),
        Value::Null,
        bulk("z"),
    ]);
    let t: (String, i64, f64, bool, Option<i64>, Vec<u8>) = from_value(v).unwrap();
    assert_eq!(t, ("k".into(), 1, 1.5, true, None, b"z".to_vec()));
    let (a,): (i64,) = from_value(Value::Array(vec![Value::Integer(9)])).unwrap();
    assert_eq!(a, 9);
    // BLPOP's (key, value) reply.
    let (k, v): (String, String) =
        from_value(Value::Array(vec![bulk("list"), bulk("item")])).unwrap();
    assert_eq!((k.as_str(), v.as_str()), ("list", "item"));
    assert_eq!(
        conversion(from_value::<(i64, i64)>(Value::Array(vec![
            Value::Integer(1)
        ])))
        .found,
        "aggregate of another length"
    );
    assert_eq!(
        conversion(from_value::<(i64, i64, i64)>(Value::Integer(1))).expected,
        "tuple of 3"
    );
}

#[test]
fn server_errors_surface_at_any_depth() {
    assert_eq!(
        server(from_value::<String>(server_err("WRONGTYPE"))).code,
        ServerErrorCode::WrongType
    );
    assert_eq!(
        server(from_value::<()>(server_err("NOAUTH"))).code,
        ServerErrorCode::NoAuth
    );
    // Nested in a sequence, a map value, a map key, an option, a tuple.
    let nested = Value::Array(vec![Value::Integer(1), server_err("EXECABORT")]);
    assert_eq!(
        server(from_value::<Vec<i64>>(nested)).code,
        ServerErrorCode::ExecAbort
    );
    let in_map = Value::Map(vec![(bulk("a"), server_err("LOADING"))]);
    assert_eq!(
        server(from_value::<HashMap<String, i64>>(in_map)).code,
        ServerErrorCode::Loading
    );
    let in_key = Value::Array(vec![server_err("MOVED"), bulk("1")]);
    assert_eq!(
        server(from_value::<BTreeMap<String, String>>(in_key)).code,
        ServerErrorCode::Moved
    );
    let deep = Value::Array(vec![Value::Array(vec![Value::Set(vec![server_err(
        "BUSY",
    )])])]);
    assert_eq!(
        server(from_value::<Vec<Vec<HashSet<String>>>>(deep)).code,
        ServerErrorCode::Busy
    );
    let in_tuple = Value::Array(vec![bulk("k"), server_err("READONLY")]);
    assert_eq!(
        server(from_value::<(String, Option<String>)>(in_tuple)).code,
        ServerErrorCode::ReadOnly
    );
    // Converting to Value keeps nested errors as elements (EXEC results).
    let exec = Value::Array(vec![simple("OK"), server_err("ERR")]);
    assert_eq!(from_value::<Value>(exec.clone()).unwrap(), exec);
    assert_eq!(from_value::<Vec<Value>>(exec.clone()).unwrap().len(), 2);
    // ... but a top-level error is still the reply's error.
    assert_eq!(
        server(from_value::<Value>(server_err("ERR"))).code,
        ServerErrorCode::Err
    );
}

#[test]
fn attributes_are_looked_through() {
    let attributed = |v: Value| Value::Attribute {
        attributes: vec![(simple("ttl"), Value::Integer(3))],
        value: Box::new(v),
    };
    assert_eq!(from_value::<i64>(attributed(Value::Integer(5))).unwrap(), 5);
    assert_eq!(
        from_value::<Vec<i64>>(attributed(Value::Array(vec![attributed(Value::Integer(
            1
        ))])))
        .unwrap(),
        vec![1]
    );
    assert_eq!(
        server(from_value::<i64>(attributed(server_err("ERR")))).code,
        ServerErrorCode::Err
    );
    // Value keeps them.
    assert!(matches!(
        from_value::<Value>(attributed(Value::Null)).unwrap(),
        Value::Attribute { .. }
    ));
}

#[test]
fn unit_accepts_any_non_error() {
    from_value::<()>(simple("OK")).unwrap();
    from_value::<()>(Value::Integer(0)).unwrap();
    from_value::<()>(Value::Null).unwrap();
}
