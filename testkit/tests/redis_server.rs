//! The redis-server launcher against a real server.

use std::net::TcpStream;
use std::time::Duration;

use redwire_testkit::{wait_until, RedisServer, Reply};

#[test]
fn starts_answers_and_is_killed_on_drop() {
    let server = RedisServer::start();
    let port = server.port();
    assert_ne!(port, 0);
    assert_eq!(server.url(), format!("redis://127.0.0.1:{port}"));
    assert_eq!(server.command(&["PING"]), Reply::Status("PONG".into()));
    assert_eq!(
        server.command(&["SET", "k", "v"]),
        Reply::Status("OK".into())
    );
    assert_eq!(server.command(&["GET", "k"]), Reply::Bulk(b"v".to_vec()));
    assert_eq!(server.command(&["GET", "missing"]), Reply::Nil);
    assert_eq!(server.command(&["INCR", "n"]), Reply::Integer(1));
    assert!(server.command(&["INCR", "k"]).is_error());
    let addr = server.addr();
    drop(server);
    assert!(
        wait_until(Duration::from_secs(5), || TcpStream::connect(addr).is_err()),
        "nothing should listen on the port after drop"
    );
}

#[test]
fn two_servers_get_distinct_ports() {
    let a = RedisServer::start();
    let b = RedisServer::start();
    assert_ne!(a.port(), b.port());
    a.command(&["SET", "only-in-a", "1"]);
    assert_eq!(b.command(&["EXISTS", "only-in-a"]).as_int(), Some(0));
}

#[test]
fn kill_then_start_again_on_the_same_port() {
    let mut server = RedisServer::start();
    let port = server.port();
    let pid = server.pid().unwrap();
    server.command(&["SET", "k", "v"]);
    server.kill();
    assert!(!server.is_running());
    assert!(server.try_command(&["PING"]).is_err());
    server.start_again();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid().unwrap(), pid);
    // Persistence is off: a restart starts empty.
    assert_eq!(server.command(&["DBSIZE"]).as_int(), Some(0));
    server.restart();
    assert_eq!(server.command(&["PING"]).as_str().as_deref(), Some("PONG"));
}

#[test]
fn shutdown_nosave_stops_the_process() {
    let mut server = RedisServer::start();
    server.shutdown_nosave();
    assert!(!server.is_running());
    assert!(server.try_command(&["PING"]).is_err());
    server.start_again();
    assert!(server.is_running());
}

#[test]
fn requirepass_users_and_directives() {
    let mut server = RedisServer::builder()
        .requirepass("s3cret")
        .user("alice on >wonderland ~* &* +@all")
        .protected_mode(false)
        .config("maxclients", &["123"])
        .start();
    // The helper authenticates as `default`.
    assert_eq!(
        server.command(&["CONFIG", "GET", "maxclients"]).to_string(),
        "[maxclients, 123]"
    );
    // An unauthenticated connection is refused.
    let mut anon =
        redwire_testkit::resp::AdminConn::connect(server.addr(), Duration::from_secs(5)).unwrap();
    assert!(
        matches!(anon.command(&["GET", "x"]).unwrap(), Reply::Error(e) if e.starts_with("NOAUTH"))
    );
    assert_eq!(
        anon.command(&["AUTH", "alice", "wonderland"]).unwrap(),
        Reply::Status("OK".into())
    );
    // Changing the password applies now and across restarts.
    server.set_requirepass(Some("changed"));
    let mut c =
        redwire_testkit::resp::AdminConn::connect(server.addr(), Duration::from_secs(5)).unwrap();
    assert!(c.command(&["AUTH", "s3cret"]).unwrap().is_error());
    assert_eq!(server.command(&["PING"]).as_str().as_deref(), Some("PONG"));
    server.restart();
    assert_eq!(server.command(&["PING"]).as_str().as_deref(), Some("PONG"));
    let mut c =
        redwire_testkit::resp::AdminConn::connect(server.addr(), Duration::from_secs(5)).unwrap();
    assert!(c.command(&["AUTH", "s3cret"]).unwrap().is_error());
    assert_eq!(
        c.command(&["AUTH", "changed"]).unwrap(),
        Reply::Status("OK".into())
    );
}

#[test]
fn debug_command_is_enabled() {
    let server = RedisServer::start();
    assert_eq!(
        server.command(&["DEBUG", "SLEEP", "0"]),
        Reply::Status("OK".into())
    );
}

#[test]
fn start_again_waits_until_the_dataset_is_loaded() {
    // 20 µs per key while loading: 5,000 keys keep the server in LOADING for ~100 ms.
    let mut server = RedisServer::builder()
        .config("appendonly", &["yes"])
        .config("appendfsync", &["always"])
        .config("key-load-delay", &["20"])
        .start();
    let r = server.command(&["DEBUG", "POPULATE", "5000"]);
    assert_eq!(r, Reply::Status("OK".into()));
    // DEBUG POPULATE does not go through the AOF: rewrite it so a restart has data to load.
    server.command(&["BGREWRITEAOF"]);
    assert!(wait_until(Duration::from_secs(10), || {
        server
            .command(&["INFO", "persistence"])
            .to_string()
            .contains("aof_rewrite_in_progress:0")
            && !server
                .command(&["INFO", "persistence"])
                .to_string()
                .contains("aof_rewrite_scheduled:1")
    }));
    server.restart();
    // Not "answers while loading": the data is all there when start_again returns.
    assert_eq!(server.command(&["DBSIZE"]).as_int(), Some(5000));
}
