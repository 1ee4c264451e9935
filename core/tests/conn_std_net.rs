//! The `std_net` example's event loop against a real `redis-server`: requests, a killed
//! connection, a restarted server, authentication, and a graceful close.

#[path = "../examples/std_net.rs"]
mod std_net;

use std::time::{Duration, Instant};

use redwire_core::conn::{
    CloseReason, Config, Connection, Endpoint, Output, Password, ProtocolVersion, Request,
    RequestError, RequestId, RequestOptions, StateKind, TimeoutKind,
};
use redwire_core::resp::{cmd, ServerErrorCode, Value};
use redwire_testkit::RedisServer;
use std_net::Driver;

/// Everything the application saw.
#[derive(Default)]
struct Seen {
    replies: Vec<(RequestId, Result<Value, RequestError>)>,
    transitions: Vec<(StateKind, StateKind, Option<CloseReason>)>,
}

impl Seen {
    fn reply(&self, id: RequestId) -> Option<&Result<Value, RequestError>> {
        self.replies.iter().find(|(i, _)| *i == id).map(|(_, r)| r)
    }
}

/// Runs the loop until `done`, failing after 10 s.
fn run_until(
    driver: &mut Driver,
    seen: &mut Seen,
    mut done: impl FnMut(&Connection, &Seen) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&driver.conn, seen) {
        assert!(
            Instant::now() < deadline,
            "timed out; state {:?}",
            driver.conn.state()
        );
        driver
            .step(&mut |_, out| match out {
                Output::Reply { id, result } => seen.replies.push((id, result)),
                Output::Transition(t) => seen.transitions.push((t.from, t.to, t.reason)),
                _ => {}
            })
            .unwrap();
    }
}

fn config(server: &RedisServer) -> Config {
    let mut c = Config::new(Endpoint::tcp("127.0.0.1", server.port()));
    c.seed = 1;
    c.backoff.base = Duration::from_millis(20);
    c
}

fn bulk(s: &str) -> Value {
    Value::BulkString(redwire_core::resp::Payload::copy_from_slice(s.as_bytes()))
}

#[test]
fn set_get_batch_and_graceful_close() {
    let server = RedisServer::start();
    let mut driver = Driver::new(config(&server));
    let now = Instant::now();
    let set = driver
        .conn
        .submit(Request::single(&cmd("SET").arg("k").arg("v")), now);
    let get = driver
        .conn
        .submit(Request::single(&cmd("GET").arg("k")), now);
    let tx = driver.conn.submit(
        Request::batch(&[
            cmd("MULTI"),
            cmd("INCR").arg("n"),
            cmd("INCR").arg("n"),
            cmd("EXEC"),
        ]),
        now,
    );
    let mut seen = Seen::default();
    run_until(&mut driver, &mut seen, |_, s| s.replies.len() == 3);
    assert_eq!(seen.reply(set), Some(&Ok(Value::SimpleString("OK".into()))));
    assert_eq!(seen.reply(get), Some(&Ok(bulk("v"))));
    let Some(Ok(Value::Array(tx))) = seen.reply(tx) else {
        panic!("{:?}", seen.reply(tx))
    };
    assert_eq!(
        tx[3],
        Value::Array(vec![Value::Integer(1), Value::Integer(2)])
    );
    assert_eq!(driver.conn.protocol(), Some(ProtocolVersion::Resp3));

    // A request in flight when Close arrives is still answered.
    let last = driver
        .conn
        .submit(Request::single(&cmd("GET").arg("k")), Instant::now());
    driver
        .conn
        .handle_input(redwire_core::conn::Input::Close, Instant::now());
    run_until(&mut driver, &mut seen, |c, _| {
        c.state() == StateKind::Closed
    });
    assert_eq!(seen.reply(last), Some(&Ok(bulk("v"))));
    assert_eq!(
        seen.transitions.last(),
        Some(&(
            StateKind::Draining,
            StateKind::Closed,
            Some(CloseReason::ClientRequested)
        ))
    );
}

#[test]
fn killed_connection_and_restarted_server_are_survived() {
    let mut server = RedisServer::start();
    let mut driver = Driver::new(config(&server));
    let mut seen = Seen::default();
    let first = driver.conn.submit(
        Request::single(&cmd("SET").arg("k").arg("1")),
        Instant::now(),
    );
    run_until(&mut driver, &mut seen, |_, s| s.reply(first).is_some());

    // The server kills this very connection (it answers the kill, then closes). The two
    // requests written behind it in the same write never run: the plain one is answered
    // "connection lost" (the client cannot know it did not run), the retry-safe one is
    // sent again on the next connection.
    let now = Instant::now();
    let kill = driver.conn.submit(
        Request::single(
            &cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg("normal")
                .arg("SKIPME")
                .arg("no"),
        ),
        now,
    );
    let lost = driver
        .conn
        .submit(Request::single(&cmd("INCR").arg("k")), now);
    let retried = driver.conn.submit(
        Request::single(&cmd("GET").arg("k")).with_options(RequestOptions {
            retry_safe: true,
            ..Default::default()
        }),
        now,
    );
    run_until(&mut driver, &mut seen, |_, s| s.reply(retried).is_some());
    assert_eq!(seen.reply(kill), Some(&Ok(Value::Integer(1))));
    assert_eq!(
        seen.reply(lost),
        Some(&Err(RequestError::ConnectionLost(CloseReason::PeerClosed)))
    );
    assert_eq!(seen.reply(retried), Some(&Ok(bulk("1"))));
    let after = driver
        .conn
        .submit(Request::single(&cmd("GET").arg("k")), Instant::now());
    run_until(&mut driver, &mut seen, |_, s| s.reply(after).is_some());
    assert_eq!(seen.reply(after), Some(&Ok(bulk("1"))));
    assert!(seen
        .transitions
        .iter()
        .any(|t| t.1 == StateKind::Reconnecting && t.2 == Some(CloseReason::PeerClosed)));

    // A restart (empty again: persistence is off). The client notices the closed socket;
    // a request submitted before it is back is queued and written once it is.
    server.restart();
    let reconnects = seen
        .transitions
        .iter()
        .filter(|t| t.1 == StateKind::Reconnecting)
        .count();
    run_until(&mut driver, &mut seen, |_, s| {
        s.transitions
            .iter()
            .filter(|t| t.1 == StateKind::Reconnecting)
            .count()
            > reconnects
    });
    let queued = driver
        .conn
        .submit(Request::single(&cmd("GET").arg("k")), Instant::now());
    run_until(&mut driver, &mut seen, |_, s| s.reply(queued).is_some());
    assert_eq!(seen.reply(queued), Some(&Ok(Value::Null)));
    assert_eq!(driver.conn.state(), StateKind::Connected);
}

#[test]
fn wrong_password_fails_for_good_and_the_right_one_connects() {
    let server = RedisServer::builder().requirepass("s3cret").start();
    let mut c = config(&server);
    c.password = Some(Password::new("wrong"));
    let mut driver = Driver::new(c);
    let id = driver
        .conn
        .submit(Request::single(&cmd("PING")), Instant::now());
    let mut seen = Seen::default();
    run_until(&mut driver, &mut seen, |c, _| c.state().is_terminal());
    assert_eq!(driver.conn.state(), StateKind::Failed);
    let Some(Err(RequestError::Failed(CloseReason::HandshakeRejected(e)))) = seen.reply(id) else {
        panic!("{:?}", seen.reply(id))
    };
    assert_eq!(e.code, ServerErrorCode::WrongPass);

    let mut c = config(&server);
    c.password = Some(Password::new("s3cret"));
    c.client_name = Some("redwire-test".into());
    c.database = 2;
    let mut driver = Driver::new(c);
    let id = driver.conn.submit(
        Request::single(&cmd("CLIENT").arg("GETNAME")),
        Instant::now(),
    );
    let mut seen = Seen::default();
    run_until(&mut driver, &mut seen, |_, s| s.reply(id).is_some());
    assert_eq!(seen.reply(id), Some(&Ok(bulk("redwire-test"))));
}

#[test]
fn a_request_timeout_does_not_desynchronise_the_stream() {
    let server = RedisServer::start();
    let mut driver = Driver::new(config(&server));
    let mut seen = Seen::default();
    let slow = driver.conn.submit(
        Request::single(&cmd("BLPOP").arg("nothing").arg("0.3")).with_options(RequestOptions {
            timeout: Some(Duration::from_millis(100)),
            retry_safe: false,
        }),
        Instant::now(),
    );
    let next = driver
        .conn
        .submit(Request::single(&cmd("ECHO").arg("after")), Instant::now());
    run_until(&mut driver, &mut seen, |_, s| s.reply(next).is_some());
    assert_eq!(
        seen.reply(slow),
        Some(&Err(RequestError::Timeout { written: true }))
    );
    assert_eq!(
        seen.reply(next),
        Some(&Ok(bulk("after"))),
        "late BLPOP reply was discarded"
    );
    assert!(!seen
        .transitions
        .iter()
        .any(|t| t.2 == Some(CloseReason::Timeout(TimeoutKind::Unresponsive))));
}

#[test]
fn behind_haproxy_a_dead_backend_is_ridden_out() {
    let mut server = RedisServer::start();
    let proxy = redwire_testkit::Haproxy::start(server.addr());
    let mut c = Config::new(Endpoint::tcp("127.0.0.1", proxy.port()));
    c.seed = 3;
    c.backoff.base = Duration::from_millis(20);
    c.backoff.cap = Duration::from_millis(200);
    let mut driver = Driver::new(c);
    let mut seen = Seen::default();
    let set = driver.conn.submit(
        Request::single(&cmd("SET").arg("k").arg("v")),
        Instant::now(),
    );
    run_until(&mut driver, &mut seen, |_, s| s.reply(set).is_some());
    assert_eq!(seen.reply(set), Some(&Ok(Value::SimpleString("OK".into()))));

    // The backend dies: the proxy ends the session (EOF), and while the backend is down
    // it accepts sockets and closes them, which the handshake sees as EOF too.
    server.kill();
    run_until(&mut driver, &mut seen, |_, s| {
        s.transitions
            .iter()
            .any(|t| t.0 == StateKind::Connected && t.1 == StateKind::Reconnecting)
    });
    let queued = driver
        .conn
        .submit(Request::single(&cmd("GET").arg("k")), Instant::now());
    // Once the proxy has marked the backend down, attempts through it fail.
    proxy.wait_backend_status(false, Duration::from_secs(10));
    let reconnects = |s: &Seen| {
        s.transitions
            .iter()
            .filter(|t| t.1 == StateKind::Reconnecting)
            .count()
    };
    let before = reconnects(&seen);
    run_until(&mut driver, &mut seen, |_, s| reconnects(s) >= before + 2);
    assert!(seen.reply(queued).is_none(), "still queued, not failed");
    server.start_again();
    run_until(&mut driver, &mut seen, |_, s| s.reply(queued).is_some());
    assert_eq!(
        seen.reply(queued),
        Some(&Ok(Value::Null)),
        "written once the backend is back"
    );
    let lost: Vec<_> = seen
        .transitions
        .iter()
        .filter(|t| t.1 == StateKind::Reconnecting)
        .map(|t| t.2.clone().unwrap())
        .collect();
    println!("reconnect reasons: {lost:?}");
    assert!(lost.iter().all(|r| r.is_retryable()), "{lost:?}");
    assert_eq!(lost[0], CloseReason::PeerClosed);
}
