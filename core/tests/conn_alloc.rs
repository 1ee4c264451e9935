//! The hot path allocates nothing per request at steady state, the copy of a prepared
//! request included (command buffers are recycled): counted with a counting global
//! allocator over many requests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use redwire_core::conn::{Config, Connection, Endpoint, Input, Output, ProtocolVersion, Request};
use redwire_core::resp::cmd;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn round(conn: &mut Connection, request: &Request, replies: &[u8], n: usize, now: Instant) {
    for _ in 0..n {
        conn.submit(request.clone(), now);
    }
    let mut written = 0;
    while let Some(out) = conn.poll_output() {
        if let Output::Transmit(bytes) = out {
            written += bytes.len();
        }
    }
    conn.handle_input(Input::Written(written), now);
    conn.handle_input(Input::Received(replies), now);
    let mut answers = 0;
    while let Some(out) = conn.poll_output() {
        if let Output::Reply { result, .. } = out {
            assert!(result.is_ok());
            answers += 1;
        }
    }
    assert_eq!(answers, n);
}

#[test]
fn steady_state_requests_do_not_allocate() {
    let now = Instant::now();
    let mut c = Config::new(Endpoint::tcp("test", 6379));
    c.protocol = ProtocolVersion::Resp2;
    // Per-request deadlines are tracked too (a heap reused across requests).
    c.response_timeout = Some(std::time::Duration::from_secs(30));
    let mut conn = Connection::new(c, now);
    while conn.poll_output().is_some() {}
    conn.handle_input(Input::SocketOpened, now);
    while conn.poll_output().is_some() {}
    // The handshake's `PING` probe (RESP2, no options: nothing else).
    conn.handle_input(Input::Received(b"+PONG\r\n"), now);
    while conn.poll_output().is_some() {}
    assert_eq!(conn.state(), redwire_core::conn::StateKind::Connected);
    let request = Request::single(&cmd("GET").arg("key"));
    // Short bulk string replies are stored inline in the value, so they allocate
    // nothing either once the read buffer has grown to its working size.
    for (reply, n) in [
        (&b":1\r\n"[..], 1usize),
        (b":1\r\n", 64),
        (b"$3\r\nabc\r\n", 1),
        (b"$3\r\nabc\r\n", 64),
    ] {
        let replies: Vec<u8> = reply
            .iter()
            .copied()
            .cycle()
            .take(reply.len() * n)
            .collect();
        for _ in 0..100 {
            round(&mut conn, &request, &replies, n, now); // warm up: buffers reach their size
        }
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let rounds = 1000;
        for _ in 0..rounds {
            round(&mut conn, &request, &replies, n, now);
        }
        let per_request =
            (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / (rounds * n) as f64;
        println!(
            "{n} at a time, {}: {per_request:.3} allocations per request",
            String::from_utf8_lossy(reply).escape_debug()
        );
        assert!(
            per_request < 0.05,
            "{per_request} allocations per request ({n} at a time)"
        );
    }
}
