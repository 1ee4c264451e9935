//! Per-request cost through the connection state machine: submit, transmit (and the
//! write confirmation), receive the reply, poll the answer. One request at a time, and
//! 64 at a time (one `Transmit`, one read holding all 64 replies). The reported time per
//! element is the cost of one request; the server side is a pre-encoded reply buffer.

use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use redwire_core::conn::{
    Config, Connection, Endpoint, Input, Output, ProtocolVersion, Request, StateKind,
};
use redwire_core::resp::cmd;

/// A connection that is connected (RESP2 with nothing to set up: the handshake is the `PING`
/// probe alone), with no timers that would add outputs.
fn connected(now: Instant) -> Connection {
    let mut c = Config::new(Endpoint::tcp("bench", 6379));
    c.protocol = ProtocolVersion::Resp2;
    c.health_check_interval = None;
    c.unresponsive_timeout = None;
    c.seed = 1;
    let mut conn = Connection::new(c, now);
    while conn.poll_output().is_some() {}
    conn.handle_input(Input::SocketOpened, now);
    while conn.poll_output().is_some() {}
    conn.handle_input(Input::Received(b"+PONG\r\n"), now);
    while conn.poll_output().is_some() {}
    assert_eq!(conn.state(), StateKind::Connected);
    conn
}

/// Runs `n` requests through: returns the number of answers (always `n`).
fn round(
    conn: &mut Connection,
    request: &Request,
    replies: &[u8],
    n: usize,
    now: Instant,
) -> usize {
    for _ in 0..n {
        conn.submit(request.clone(), now);
    }
    let mut written = 0;
    let mut answers = 0;
    while let Some(out) = conn.poll_output() {
        if let Output::Transmit(bytes) = out {
            written += bytes.len();
            black_box(&bytes);
        }
    }
    conn.handle_input(Input::Written(written), now);
    conn.handle_input(Input::Received(replies), now);
    while let Some(out) = conn.poll_output() {
        if let Output::Reply { result, .. } = out {
            black_box(result.is_ok());
            answers += 1;
        }
    }
    answers
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let get = Request::single(&cmd("GET").arg("key:000000001"));
    let bulk = b"$10\r\nvalue-0001\r\n";
    let mut group = c.benchmark_group("connection");
    for n in [1usize, 64] {
        let replies: Vec<u8> = bulk.iter().copied().cycle().take(bulk.len() * n).collect();
        let mut conn = connected(now);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("get_x{n}"), |b| {
            b.iter(|| assert_eq!(round(&mut conn, &get, &replies, n, now), n))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
