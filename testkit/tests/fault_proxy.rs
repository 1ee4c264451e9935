//! The fault-injecting proxy in front of a real redis-server.
//!
//! Absence of traffic is checked with a read timeout on the client (nothing may arrive within
//! it); everything else waits for the expected event with a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use redwire_testkit::resp::{encode_command, AdminConn};
use redwire_testkit::{wait_for, Cut, FaultProxy, RedisServer, Reply};

const T: Duration = Duration::from_secs(10);

fn raw(proxy: &FaultProxy) -> TcpStream {
    let s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s
}

fn read_to_end_or_error(s: &mut TcpStream) -> (Vec<u8>, Option<ErrorKind>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e.kind())),
        }
    }
}

#[test]
fn forwards_and_counts_connections() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    for i in 0..3 {
        let mut c = AdminConn::connect(proxy.addr(), T).unwrap();
        assert_eq!(c.command(&["INCR", "n"]).unwrap(), Reply::Integer(i + 1));
    }
    assert_eq!(proxy.connections_accepted(), 3);
    assert_eq!(server.command(&["GET", "n"]).as_int(), Some(3));
}

#[test]
fn blackhole_holds_traffic_without_closing_and_resume_delivers_it() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = raw(&proxy);
    c.write_all(&encode_command(&[b"PING"])).unwrap();
    let mut buf = [0u8; 7];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");

    proxy.blackhole();
    c.write_all(&encode_command(&[b"SET", b"held", b"1"]))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = c.read(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
    // Not forwarded: the server has not seen the SET, and the connection is still open.
    assert_eq!(server.command(&["EXISTS", "held"]).as_int(), Some(0));
    assert_eq!(proxy.live_connections(), 1);

    proxy.resume();
    c.set_read_timeout(Some(T)).unwrap();
    let mut ok = [0u8; 5];
    c.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    assert_eq!(server.command(&["EXISTS", "held"]).as_int(), Some(1));
}

#[test]
fn blackhole_also_swallows_new_connections() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    proxy.blackhole();
    let mut c = raw(&proxy);
    c.write_all(&encode_command(&[b"PING"])).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 7];
    assert!(c.read(&mut buf).is_err());
    proxy.resume();
    c.set_read_timeout(Some(T)).unwrap();
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn cut_all_with_fin_gives_eof() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = AdminConn::connect(proxy.addr(), T).unwrap();
    c.command(&["PING"]).unwrap();
    assert_eq!(proxy.cut_all(Cut::Fin), 1);
    assert_eq!(c.read_reply().unwrap_err().kind(), ErrorKind::UnexpectedEof);
    wait_for("the server to see the close", T, || {
        server
            .command(&["CLIENT", "LIST"])
            .to_string()
            .lines()
            .count()
            == 1
    });
}

#[test]
fn cut_all_with_rst_gives_reset() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = raw(&proxy);
    c.write_all(&encode_command(&[b"PING"])).unwrap();
    let mut buf = [0u8; 7];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(proxy.cut_all(Cut::Rst), 1);
    let (_, err) = read_to_end_or_error(&mut c);
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
    wait_for("the connection to be gone", T, || {
        proxy.live_connections() == 0
    });
}

#[test]
fn cut_mid_reply_after_exactly_n_bytes() {
    let server = RedisServer::start();
    let value = "x".repeat(1000);
    server.command(&["SET", "big", &value]);
    let proxy = FaultProxy::start(server.addr());
    let mut c = raw(&proxy);
    proxy.cut_after_server_bytes(10, Cut::Fin);
    assert!(proxy.cut_pending());
    c.write_all(&encode_command(&[b"GET", b"big"])).unwrap();
    let (got, err) = read_to_end_or_error(&mut c);
    assert_eq!(err, None);
    assert_eq!(got, b"$1000\r\nxxx");
    assert!(!proxy.cut_pending());
    // Only that one connection: the next one gets whole replies.
    let mut c2 = AdminConn::connect(proxy.addr(), T).unwrap();
    assert_eq!(
        c2.command(&["GET", "big"]).unwrap(),
        Reply::Bulk(value.into_bytes())
    );
}

#[test]
fn injected_bytes_reach_the_client() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = raw(&proxy);
    c.write_all(&encode_command(&[b"PING"])).unwrap();
    let mut buf = [0u8; 7];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(proxy.inject_to_clients(b"\x00garbage\r\n"), 1);
    let mut got = [0u8; 10];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"\x00garbage\r\n");
}

#[test]
fn delay_holds_each_chunk() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    let mut c = AdminConn::connect(proxy.addr(), T).unwrap();
    c.command(&["PING"]).unwrap();
    proxy.set_delay(Duration::from_millis(150));
    let t0 = Instant::now();
    assert_eq!(c.command(&["PING"]).unwrap(), Reply::Status("PONG".into()));
    // Held once on the way in and once on the way out: a lower bound, not a performance claim.
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );
    proxy.set_delay(Duration::ZERO);
}

#[test]
fn refuse_closes_new_connections_and_backend_death_propagates() {
    let mut server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    proxy.refuse(true);
    let mut c = raw(&proxy);
    let (got, _) = read_to_end_or_error(&mut c);
    assert!(got.is_empty());
    proxy.refuse(false);

    let mut c = AdminConn::connect(proxy.addr(), T).unwrap();
    c.command(&["PING"]).unwrap();
    server.kill();
    assert!(c.read_reply().is_err());
    drop(c);
    wait_for("the proxied connection to end", T, || {
        proxy.live_connections() == 0
    });
}
