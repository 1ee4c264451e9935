//! HAProxy in front of a real redis-server: forwarding, health check, sessions shut on backend death.

use std::io::ErrorKind;
use std::time::Duration;

use redwire_testkit::resp::AdminConn;
use redwire_testkit::{wait_until, Haproxy, RedisServer, Reply};

const T: Duration = Duration::from_secs(10);

#[test]
fn forwards_to_the_backend() {
    let server = RedisServer::start();
    let proxy = Haproxy::start(server.addr());
    assert_ne!(proxy.port(), server.port());
    assert!(proxy.backend_status().unwrap().starts_with("UP"));
    let mut c = AdminConn::connect(proxy.addr(), T).unwrap();
    assert_eq!(
        c.command(&["SET", "through", "haproxy"]).unwrap(),
        Reply::Status("OK".into())
    );
    assert_eq!(
        server.command(&["GET", "through"]).as_str().as_deref(),
        Some("haproxy")
    );
}

#[test]
fn backend_death_closes_client_sessions_and_recovery_is_seen() {
    let mut server = RedisServer::start();
    let proxy = Haproxy::start(server.addr());
    let mut c = AdminConn::connect(proxy.addr(), T).unwrap();
    assert_eq!(c.command(&["PING"]).unwrap(), Reply::Status("PONG".into()));

    server.kill();
    proxy.wait_backend_status(false, T);
    // The established session was closed by HAProxy: the client reads EOF (or a reset).
    let err = c.command(&["PING"]).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "unexpected error {err:?}"
    );
    // New sessions are accepted and closed while the backend is down.
    assert!(!proxy.ping_through().unwrap_or(false));

    server.start_again();
    proxy.wait_backend_status(true, T);
    assert!(wait_until(T, || proxy.ping_through().unwrap_or(false)));
}

#[test]
fn health_check_can_authenticate() {
    let server = RedisServer::builder().requirepass("pw").start();
    // Would never be marked up without AUTH, since PING gets NOAUTH.
    let proxy = Haproxy::builder(server.addr()).check_password("pw").start();
    assert!(proxy.backend_is_up());
}
