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

/// A server with a proxy in front of it.
fn proxied() -> (RedisServer, FaultProxy) {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    (server, proxy)
}

fn raw(proxy: &FaultProxy) -> TcpStream {
    let s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s
}

/// Reads exactly as many bytes as `expected` from `c`; they must be `expected`.
fn expect_bytes(c: &mut TcpStream, expected: &[u8]) {
    let mut got = vec![0u8; expected.len()];
    c.read_exact(&mut got).unwrap();
    assert_eq!(got, expected);
}

/// Sends `PING` on `c` and reads exactly the `+PONG` reply.
fn ping(c: &mut TcpStream) {
    c.write_all(&encode_command(&[b"PING"])).unwrap();
    expect_bytes(c, b"+PONG\r\n");
}

/// An admin connection through `proxy`, shown to work with one `PING`.
fn admin_working(proxy: &FaultProxy) -> AdminConn {
    let mut c = AdminConn::connect(proxy.addr(), T).unwrap();
    c.command(&["PING"]).unwrap();
    c
}

/// A raw connection through `proxy`, shown to work with one `PING`.
fn raw_working(proxy: &FaultProxy) -> TcpStream {
    let mut c = raw(proxy);
    ping(&mut c);
    c
}

/// Asserts nothing arrives on `c` for a while: the read times out (neither data nor a close).
fn assert_silent(c: &mut TcpStream) {
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = c.read(&mut [0u8; 16]).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
    c.set_read_timeout(Some(T)).unwrap();
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
    let (server, proxy) = proxied();
    for i in 0..3 {
        let mut c = AdminConn::connect(proxy.addr(), T).unwrap();
        assert_eq!(c.command(&["INCR", "n"]).unwrap(), Reply::Integer(i + 1));
    }
    assert_eq!(proxy.connections_accepted(), 3);
    assert_eq!(server.command(&["GET", "n"]).as_int(), Some(3));
}

#[test]
fn blackhole_holds_traffic_without_closing_and_resume_delivers_it() {
    let (server, proxy) = proxied();
    let mut c = raw_working(&proxy);

    proxy.blackhole();
    c.write_all(&encode_command(&[b"SET", b"held", b"1"]))
        .unwrap();
    assert_silent(&mut c);
    // Not forwarded: the server has not seen the SET, and the connection is still open.
    assert_eq!(server.command(&["EXISTS", "held"]).as_int(), Some(0));
    assert_eq!(proxy.live_connections(), 1);

    proxy.resume();
    expect_bytes(&mut c, b"+OK\r\n");
    assert_eq!(server.command(&["EXISTS", "held"]).as_int(), Some(1));
}

#[test]
fn blackhole_also_swallows_new_connections() {
    let (_server, proxy) = proxied();
    proxy.blackhole();
    let mut c = raw(&proxy);
    c.write_all(&encode_command(&[b"PING"])).unwrap();
    assert_silent(&mut c);
    proxy.resume();
    expect_bytes(&mut c, b"+PONG\r\n");
}

#[test]
fn cut_all_with_fin_gives_eof() {
    let (server, proxy) = proxied();
    let mut c = admin_working(&proxy);
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
    let (_server, proxy) = proxied();
    let mut c = raw_working(&proxy);
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
    let (_server, proxy) = proxied();
    let mut c = raw_working(&proxy);
    assert_eq!(proxy.inject_to_clients(b"\x00garbage\r\n"), 1);
    expect_bytes(&mut c, b"\x00garbage\r\n");
}

#[test]
fn delay_holds_each_chunk() {
    let (_server, proxy) = proxied();
    let mut c = admin_working(&proxy);
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

    let mut c = admin_working(&proxy);
    server.kill();
    assert!(c.read_reply().is_err());
    drop(c);
    wait_for("the proxied connection to end", T, || {
        proxy.live_connections() == 0
    });
}
