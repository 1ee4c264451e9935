//! Conformance against a real `redis-server`: every reply type that
//! `DEBUG PROTOCOL` offers in RESP3, and ordinary replies in RESP2 and
//! RESP3, encoded by the server and decoded by redwire, must decode to
//! exactly the expected value. The server is started by the test on a free
//! loopback port (`enable-debug-command yes`, no persistence).

// `DEBUG PROTOCOL double` sends 3.141; it is not meant as pi.
#![allow(clippy::approx_constant)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use redwire_core::resp::{cmd, from_value, Cmd, Decoder, Limits, Payload, ServerErrorCode, Value};
use redwire_testkit::RedisServer;

/// A blocking connection speaking through redwire's encoder and decoder.
struct Conn {
    stream: TcpStream,
    decoder: Decoder,
    buf: BytesMut,
}

impl Conn {
    fn open(server: &RedisServer) -> Conn {
        let stream = TcpStream::connect(server.addr()).expect("connect to redis-server");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Conn {
            stream,
            decoder: Decoder::new(Limits::default()),
            buf: BytesMut::with_capacity(16 * 1024),
        }
    }

    fn send(&mut self, c: &Cmd) {
        self.stream.write_all(&c.to_bytes()).expect("write command");
    }

    /// The next frame, reading until one is complete (bounded by a deadline).
    fn read(&mut self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = self
                .decoder
                .decode(&mut self.buf)
                .expect("valid RESP from redis-server")
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no complete reply before the deadline"
            );
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn call(&mut self, c: Cmd) -> Value {
        self.send(&c);
        self.read()
    }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(Payload::copy_from_slice(s.as_bytes()))
}

fn int(n: i64) -> Value {
    Value::Integer(n)
}

fn ok() -> Value {
    Value::SimpleString(Payload::from_static(b"OK"))
}

#[test]
fn debug_protocol_resp3_every_type() {
    let server = RedisServer::start();
    let mut c = Conn::open(&server);
    let hello = c.call(cmd("HELLO").arg(3));
    match &hello {
        Value::Map(pairs) => {
            let proto = pairs
                .iter()
                .find(|(k, _)| *k == bulk("proto"))
                .map(|(_, v)| v.clone());
            assert_eq!(proto, Some(int(3)));
        }
        other => panic!("HELLO 3 did not answer a map: {other:?}"),
    }

    let debug = |c: &mut Conn, t: &str| c.call(cmd("DEBUG").arg("PROTOCOL").arg(t));
    assert_eq!(debug(&mut c, "string"), bulk("Hello World"));
    assert_eq!(debug(&mut c, "integer"), int(12345));
    assert_eq!(debug(&mut c, "double"), Value::Double(3.141));
    assert_eq!(
        debug(&mut c, "bignum"),
        Value::BigNumber(Payload::from_static(
            b"1234567999999999999999999999999999999"
        ))
    );
    assert_eq!(debug(&mut c, "null"), Value::Null);
    assert_eq!(
        debug(&mut c, "array"),
        Value::Array(vec![int(0), int(1), int(2)])
    );
    assert_eq!(
        debug(&mut c, "set"),
        Value::Set(vec![int(0), int(1), int(2)])
    );
    assert_eq!(
        debug(&mut c, "map"),
        Value::Map(vec![
            (int(0), Value::Boolean(false)),
            (int(1), Value::Boolean(true)),
            (int(2), Value::Boolean(false)),
        ])
    );
    assert_eq!(
        debug(&mut c, "attrib"),
        Value::Attribute {
            attributes: vec![(
                bulk("key-popularity"),
                Value::Array(vec![bulk("key:123"), int(90)])
            )],
            value: Box::new(bulk("Some real reply following the attribute")),
        }
    );
    // A push, then the ordinary reply that follows it.
    assert_eq!(
        debug(&mut c, "push"),
        Value::Push(vec![bulk("server-cpu-usage"), int(42)])
    );
    assert_eq!(c.read(), bulk("Some real reply following the push reply"));
    assert_eq!(
        debug(&mut c, "verbatim"),
        Value::Verbatim {
            format: *b"txt",
            text: Payload::from_static(b"This is a verbatim\nstring")
        }
    );
    assert_eq!(debug(&mut c, "true"), Value::Boolean(true));
    assert_eq!(debug(&mut c, "false"), Value::Boolean(false));

    // Nothing left over: the next reply is the next command's.
    assert_eq!(
        c.call(cmd("PING")),
        Value::SimpleString(Payload::from_static(b"PONG"))
    );
    assert!(c.buf.is_empty());
}

#[test]
fn debug_protocol_resp2_shapes() {
    let server = RedisServer::start();
    let mut c = Conn::open(&server);
    let debug = |c: &mut Conn, t: &str| c.call(cmd("DEBUG").arg("PROTOCOL").arg(t));
    assert_eq!(debug(&mut c, "string"), bulk("Hello World"));
    assert_eq!(debug(&mut c, "integer"), int(12345));
    // RESP2 has no double, big number, boolean, set or map: they degrade.
    let d = debug(&mut c, "double");
    assert_eq!(from_value::<f64>(d).unwrap(), 3.141);
    assert_eq!(
        debug(&mut c, "bignum"),
        bulk("1234567999999999999999999999999999999")
    );
    assert_eq!(debug(&mut c, "null"), Value::Null);
    assert_eq!(
        debug(&mut c, "set"),
        Value::Array(vec![int(0), int(1), int(2)])
    );
    let map = debug(&mut c, "map");
    assert_eq!(
        map,
        Value::Array(vec![int(0), int(0), int(1), int(1), int(2), int(0)])
    );
    let as_map: std::collections::BTreeMap<i64, bool> = from_value(map).unwrap();
    assert_eq!(
        as_map.into_iter().collect::<Vec<_>>(),
        vec![(0, false), (1, true), (2, false)]
    );
    assert_eq!(debug(&mut c, "true"), int(1));
    assert_eq!(debug(&mut c, "false"), int(0));
    assert!(from_value::<bool>(debug(&mut c, "true")).unwrap());
}

#[test]
fn ordinary_replies_resp2() {
    let server = RedisServer::start();
    let mut c = Conn::open(&server);
    assert_eq!(c.call(cmd("SET").arg("k").arg("v")), ok());
    assert_eq!(c.call(cmd("GET").arg("k")), bulk("v"));
    assert_eq!(c.call(cmd("GET").arg("missing")), Value::Null);
    assert_eq!(c.call(cmd("INCRBY").arg("n").arg(-5i64)), int(-5));
    assert_eq!(c.call(cmd("INCRBYFLOAT").arg("f").arg(1.5f64)), bulk("1.5"));
    assert_eq!(
        c.call(cmd("RPUSH").arg("l").arg("a").arg(&b"b\r\n"[..]).arg(3u8)),
        int(3)
    );
    assert_eq!(
        c.call(cmd("LRANGE").arg("l").arg(0).arg(-1)),
        Value::Array(vec![bulk("a"), bulk("b\r\n"), bulk("3")])
    );
    assert_eq!(
        c.call(cmd("LRANGE").arg("nolist").arg(0).arg(-1)),
        Value::Array(vec![])
    );
    // A binary value with every byte survives the round trip.
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(c.call(cmd("SET").arg("bin").arg(&all)), ok());
    assert_eq!(
        c.call(cmd("GET").arg("bin")),
        Value::BulkString(Payload::from(all))
    );
    // A bulk reply larger than one read.
    let big = "x".repeat(200_000);
    assert_eq!(c.call(cmd("SET").arg("big").arg(&big)), ok());
    assert_eq!(
        from_value::<String>(c.call(cmd("GET").arg("big"))).unwrap(),
        big
    );

    // Errors carry their typed code.
    match c.call(cmd("LPUSH").arg("k").arg("x")) {
        Value::Error(e) => assert_eq!(e.code, ServerErrorCode::WrongType),
        other => panic!("{other:?}"),
    }
    match c.call(cmd("NOSUCHCOMMAND")) {
        Value::Error(e) => assert_eq!(e.code, ServerErrorCode::Err),
        other => panic!("{other:?}"),
    }
    match c.call(
        cmd("EVALSHA")
            .arg("ffffffffffffffffffffffffffffffffffffffff")
            .arg(0),
    ) {
        Value::Error(e) => assert_eq!(e.code, ServerErrorCode::NoScript),
        other => panic!("{other:?}"),
    }
    // An error inside a transaction result is an element, not the reply.
    assert_eq!(c.call(cmd("MULTI")), ok());
    assert_eq!(
        c.call(cmd("SET").arg("t").arg("1")),
        Value::SimpleString(Payload::from_static(b"QUEUED"))
    );
    assert_eq!(
        c.call(cmd("INCR").arg("k")),
        Value::SimpleString(Payload::from_static(b"QUEUED"))
    );
    match c.call(cmd("EXEC")) {
        Value::Array(items) => {
            assert_eq!(items.len(), 2);
            assert_eq!(items[0], ok());
            assert!(matches!(&items[1], Value::Error(e) if e.code == ServerErrorCode::Err));
        }
        other => panic!("{other:?}"),
    }
    // RESP2 null array.
    assert_eq!(c.call(cmd("BLPOP").arg("nolist").arg("0.01")), Value::Null);
    // HGETALL is a flat array in RESP2.
    assert_eq!(
        c.call(cmd("HSET").arg("h").arg("f1").arg(1).arg("f2").arg(2)),
        int(2)
    );
    let h: std::collections::HashMap<String, i64> =
        from_value(c.call(cmd("HGETALL").arg("h"))).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h["f1"], 1);
}

#[test]
fn ordinary_replies_resp3() {
    let server = RedisServer::start();
    let mut c = Conn::open(&server);
    assert!(matches!(c.call(cmd("HELLO").arg("3")), Value::Map(_)));
    assert_eq!(c.call(cmd("HSET").arg("h").arg("f1").arg(1)), int(1));
    assert_eq!(
        c.call(cmd("HGETALL").arg("h")),
        Value::Map(vec![(bulk("f1"), bulk("1"))])
    );
    assert_eq!(c.call(cmd("SADD").arg("s").arg("m")), int(1));
    assert_eq!(
        c.call(cmd("SMEMBERS").arg("s")),
        Value::Set(vec![bulk("m")])
    );
    assert_eq!(c.call(cmd("ZADD").arg("z").arg(2.5).arg("m")), int(1));
    assert_eq!(c.call(cmd("ZSCORE").arg("z").arg("m")), Value::Double(2.5));
    assert_eq!(c.call(cmd("ZADD").arg("z").arg("inf").arg("top")), int(1));
    assert_eq!(
        c.call(cmd("ZSCORE").arg("z").arg("top")),
        Value::Double(f64::INFINITY)
    );
    assert_eq!(c.call(cmd("GET").arg("missing")), Value::Null);
    assert_eq!(c.call(cmd("EXISTS").arg("h")), int(1));
    // Pub/Sub confirmations are pushes in RESP3.
    assert_eq!(
        c.call(cmd("SUBSCRIBE").arg("ch")),
        Value::Push(vec![bulk("subscribe"), bulk("ch"), int(1)])
    );
    let mut publisher = Conn::open(&server);
    assert_eq!(publisher.call(cmd("PUBLISH").arg("ch").arg("hi")), int(1));
    assert_eq!(
        c.read(),
        Value::Push(vec![bulk("message"), bulk("ch"), bulk("hi")])
    );
}
