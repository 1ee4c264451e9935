//! One test per edge of the state table, per close reason, and per request guarantee,
//! driven through the simulation (fake server, hand-driven clock).

mod conn_sim;

use std::io;
use std::time::Duration;

use conn_sim::*;
use redwire_core::conn::{
    CloseReason, Input, ProtocolVersion, RequestError, RequestOptions, StateDetail, StateKind,
    TimeoutKind, TRANSITIONS,
};
use redwire_core::resp::{ProtocolErrorKind, ServerErrorCode, Value};
use StateKind::*;

fn connected(config: redwire_core::conn::Config) -> Sim {
    let mut sim = Sim::new(config);
    sim.open(true);
    sim.pump();
    assert_eq!(sim.state, Connected);
    sim
}

fn last(sim: &Sim) -> (StateKind, StateKind, Option<CloseReason>, u32) {
    sim.transitions.last().cloned().expect("no transition")
}

/// The reason of the last transition that ended a connection or attempt.
fn end_reason(sim: &Sim) -> Option<CloseReason> {
    sim.transitions
        .iter()
        .rev()
        .find(|t| t.2.is_some() && t.1 != Draining)
        .and_then(|t| t.2.clone())
}

fn answer(sim: &Sim, id: redwire_core::conn::RequestId) -> Result<Value, RequestError> {
    sim.expects[&id].answer.clone().expect("not answered")
}

fn echo(sim: &Sim, id: redwire_core::conn::RequestId) -> Value {
    Value::BulkString(sim.expects[&id].tokens[0].clone().into())
}

const PLAIN: RequestOptions = RequestOptions {
    timeout: None,
    retry_safe: false,
};

const RETRY_SAFE: RequestOptions = RequestOptions {
    retry_safe: true,
    ..PLAIN
};

/// Not retry-safe, answered with a timeout after `ms` milliseconds.
fn timing_out(ms: u64) -> RequestOptions {
    RequestOptions {
        timeout: Some(Duration::from_millis(ms)),
        retry_safe: false,
    }
}

/// The answer of a written request whose connection ended for `reason`.
fn lost(reason: CloseReason) -> Result<Value, RequestError> {
    Err(RequestError::ConnectionLost(reason))
}

/// The answer of a request refused because the connection failed for `reason`.
fn failed(reason: CloseReason) -> Result<Value, RequestError> {
    Err(RequestError::Failed(reason))
}

/// Request `id` was answered with its own `ECHO` reply.
#[track_caller]
fn assert_echoed(sim: &Sim, id: redwire_core::conn::RequestId) {
    assert_eq!(answer(sim, id), Ok(echo(sim, id)));
}

/// The command names the fake server has received on the current connection.
fn names(sim: &Sim) -> &[String] {
    &sim.server.as_ref().expect("a connection").names
}

/// The fake server stops answering.
fn mute(sim: &mut Sim) {
    sim.server.as_mut().expect("a connection").mute = true;
}

/// When the next attempt starts, and its number (the state must be `Reconnecting`).
fn reconnect_at(sim: &Sim) -> (std::time::Instant, u32) {
    match sim.conn.state_detail() {
        StateDetail::Reconnecting { at, attempt, .. } => (at, attempt),
        other => panic!("not reconnecting: {other:?}"),
    }
}

/// Every transmit the connection has ready, in order.
fn transmits(sim: &mut Sim) -> Vec<bytes::Bytes> {
    let mut out = vec![];
    while let Some(o) = sim.conn.poll_output() {
        if let redwire_core::conn::Output::Transmit(b) = o {
            out.push(b);
        }
    }
    out
}

#[test]
fn the_model_table_is_the_crate_table() {
    let crate_table: Vec<_> = TRANSITIONS.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(crate_table, LEGAL);
    for from in StateKind::ALL {
        for to in StateKind::ALL {
            assert_eq!(from.can_transition_to(to), LEGAL.contains(&(from, to)));
        }
    }
}

// ---- edges ----

#[test]
fn connecting_to_connected_after_the_handshake_and_queued_requests_follow() {
    let mut sim = Sim::new(sim_config());
    assert_eq!(sim.opens, 1, "the first attempt is immediate");
    let id = sim.submit(1, PLAIN);
    sim.open(true);
    assert_eq!(sim.state, Connecting);
    assert_eq!(names(&sim), Vec::<String>::new());
    sim.pump();
    assert_eq!(last(&sim), (Connecting, Connected, None, 1));
    assert_eq!(names(&sim), ["HELLO", "PING", "ECHO"]);
    assert_echoed(&sim, id);
    assert_eq!(sim.conn.protocol(), Some(ProtocolVersion::Resp3));
    sim.finish();
}

#[test]
fn connecting_to_reconnecting_on_open_failure_then_reconnecting_to_connecting() {
    let mut sim = Sim::new(sim_config());
    sim.open(false);
    assert_eq!(
        last(&sim),
        (
            Connecting,
            Reconnecting,
            Some(CloseReason::Io(io::ErrorKind::ConnectionRefused)),
            2
        )
    );
    let (at, 2) = reconnect_at(&sim) else {
        panic!("not attempt 2")
    };
    let delay = at - sim.now;
    assert!(
        delay >= Duration::from_millis(50) && delay <= Duration::from_millis(100),
        "{delay:?}"
    );
    sim.advance(delay - Duration::from_millis(1));
    assert_eq!(sim.state, Reconnecting, "not before the delay");
    assert_eq!(sim.opens, 1);
    sim.advance(Duration::from_millis(1));
    assert_eq!(last(&sim), (Reconnecting, Connecting, None, 2));
    assert_eq!(sim.opens, 2);
    sim.finish();
}

#[test]
fn connecting_to_failed_on_a_rejected_handshake() {
    let mut c = sim_config();
    c.password = Some(redwire_core::conn::Password::new("wrong"));
    let mut sim = Sim::new(c);
    sim.scripts.push(Script {
        hello: Hello::Reject(Code::WrongPass),
        ..Script::OK
    });
    let id = sim.submit(1, PLAIN);
    sim.open(true);
    sim.pump();
    let (from, to, reason, _) = last(&sim);
    assert_eq!((from, to), (Connecting, Failed));
    let Some(CloseReason::HandshakeRejected(e)) = reason else {
        panic!("{reason:?}")
    };
    assert_eq!(e.code, ServerErrorCode::WrongPass);
    assert!(matches!(
        answer(&sim, id),
        Err(RequestError::Failed(CloseReason::HandshakeRejected(_)))
    ));
    assert_eq!(sim.executed.len(), 0);
    // Terminal: later requests fail at once, time changes nothing.
    let late = sim.submit(1, PLAIN);
    assert!(matches!(answer(&sim, late), Err(RequestError::Failed(_))));
    sim.finish();
    assert_eq!(sim.opens, 1);
}

#[test]
fn connecting_to_closed_on_close() {
    for opened in [false, true] {
        let mut sim = Sim::new(sim_config());
        let id = sim.submit(1, PLAIN);
        if opened {
            sim.open(true); // handshake bytes written, no reply yet
            assert!(sim.server.is_some());
        }
        sim.input(Input::Close);
        assert_eq!(
            last(&sim),
            (Connecting, Closed, Some(CloseReason::ClientRequested), 1)
        );
        assert!(sim.server.is_none(), "socket closed");
        assert_eq!(answer(&sim, id), Err(RequestError::Closed));
        sim.finish();
    }
}

#[test]
fn connected_to_draining_to_closed_waits_for_replies() {
    let mut sim = connected(sim_config());
    let a = sim.submit(1, PLAIN);
    let b = sim.submit(3, PLAIN);
    sim.write(usize::MAX);
    sim.input(Input::Close);
    assert_eq!(
        last(&sim),
        (Connected, Draining, Some(CloseReason::ClientRequested), 1)
    );
    let refused = sim.submit(1, PLAIN);
    assert_eq!(answer(&sim, refused), Err(RequestError::Closed));
    sim.read(usize::MAX);
    assert_eq!(
        last(&sim),
        (Draining, Closed, Some(CloseReason::ClientRequested), 1)
    );
    assert_echoed(&sim, a);
    let Ok(Value::Array(items)) = answer(&sim, b) else {
        panic!()
    };
    assert_eq!(items.len(), 3);
    sim.finish();
}

#[test]
fn draining_to_closed_on_drain_timeout() {
    let mut sim = connected(sim_config());
    mute(&mut sim);
    let a = sim.submit(1, PLAIN);
    let b = sim.submit(1, PLAIN);
    sim.write(10); // part of `a` only
    sim.input(Input::Close);
    sim.advance(Duration::from_millis(999));
    assert_eq!(sim.state, Draining);
    sim.advance(Duration::from_millis(1));
    let reason = CloseReason::Timeout(TimeoutKind::Drain);
    assert_eq!(last(&sim), (Draining, Closed, Some(reason.clone()), 1));
    assert_eq!(answer(&sim, a), lost(reason));
    assert_eq!(answer(&sim, b), Err(RequestError::Closed), "never written");
    sim.finish();
}

#[test]
fn draining_to_closed_when_the_connection_drops() {
    let mut sim = connected(sim_config());
    let a = sim.submit(1, RETRY_SAFE);
    sim.write(usize::MAX);
    sim.input(Input::Close);
    sim.eof();
    assert_eq!(
        last(&sim),
        (Draining, Closed, Some(CloseReason::PeerClosed), 1)
    );
    assert_eq!(answer(&sim, a), lost(CloseReason::PeerClosed));
    sim.finish();
}

/// A request submitted while connected goes straight into the write buffer. If the socket is
/// lost before the caller took that buffer (no `poll_output` in between), the request was
/// never written: it goes out again on the next connection instead of being answered
/// `ConnectionLost`, though it is not marked safe to retry.
#[test]
fn a_request_lost_before_its_write_buffer_was_taken_is_requeued() {
    let mut sim = connected(sim_config());
    let id = sim.submit_undrained(1, PLAIN);
    sim.eof();
    assert_eq!(last(&sim).1, Reconnecting);
    assert!(
        sim.expects[&id].answer.is_none(),
        "not answered: never written"
    );
    sim.fire_next_timer();
    sim.open(true);
    sim.pump();
    assert_eq!(sim.state, Connected);
    assert_echoed(&sim, id);
    sim.finish();
}

#[test]
fn connected_to_reconnecting_then_back_with_requests_requeued() {
    let mut sim = connected(sim_config());
    let written = sim.submit(1, PLAIN);
    let safe = sim.submit(1, RETRY_SAFE);
    let unwritten = sim.submit(2, PLAIN);
    // Only the first two reach the socket.
    let lens: Vec<usize> = [written, safe]
        .iter()
        .map(|id| {
            let t = &sim.expects[id].tokens[0];
            redwire_core::resp::cmd("ECHO")
                .arg(std::str::from_utf8(t).unwrap())
                .encoded_len()
        })
        .collect();
    sim.write(lens[0] + lens[1]);
    sim.eof();
    assert_eq!(last(&sim).0, Connected);
    assert_eq!(last(&sim).1, Reconnecting);
    assert_eq!(answer(&sim, written), lost(CloseReason::PeerClosed));
    assert!(
        sim.expects[&safe].answer.is_none(),
        "retry-safe request is re-sent"
    );
    assert!(
        sim.expects[&unwritten].answer.is_none(),
        "unwritten request survives"
    );
    // Not healthy yet (connected 0 s < 1 s): attempt 2 after a backoff delay.
    assert_eq!(last(&sim).3, 2);
    sim.fire_next_timer();
    sim.open(true);
    sim.pump();
    assert_eq!(sim.state, Connected);
    assert_echoed(&sim, safe);
    assert_eq!(
        sim.executed[&sim.expects[&safe].tokens[0]], 2,
        "ran twice: once per connection"
    );
    assert!(matches!(answer(&sim, unwritten), Ok(Value::Array(_))));
    sim.finish();
}

#[test]
fn connected_to_failed_when_attempts_run_out() {
    let mut c = sim_config();
    c.backoff.max_attempts = Some(2);
    let mut sim = Sim::new(c);
    sim.open(false);
    sim.fire_next_timer();
    sim.open(true);
    sim.pump();
    assert_eq!(sim.state, Connected);
    let id = sim.submit(1, PLAIN);
    sim.eof(); // attempt 2 dropped before it was healthy
    assert_eq!(
        last(&sim),
        (Connected, Failed, Some(CloseReason::PeerClosed), 2)
    );
    assert_eq!(answer(&sim, id), failed(CloseReason::PeerClosed));
    sim.finish();
}

#[test]
fn reconnecting_to_closed_on_close() {
    let mut sim = Sim::new(sim_config());
    let id = sim.submit(1, PLAIN);
    sim.open(false);
    sim.input(Input::Close);
    assert_eq!(
        last(&sim),
        (Reconnecting, Closed, Some(CloseReason::ClientRequested), 2)
    );
    assert_eq!(answer(&sim, id), Err(RequestError::Closed));
    sim.finish();
}

// ---- backoff and attempts ----

#[test]
fn max_attempts_fails_after_exactly_that_many() {
    for max in 1..5u32 {
        let mut c = sim_config();
        c.backoff.max_attempts = Some(max);
        let mut sim = Sim::new(c);
        let id = sim.submit(1, PLAIN);
        for _ in 0..20 {
            sim.open(false);
            if sim.state == Failed {
                break;
            }
            sim.fire_next_timer();
        }
        assert_eq!(sim.opens as u32, max);
        assert_eq!(last(&sim).1, Failed);
        assert_eq!(last(&sim).3, max);
        assert!(matches!(
            answer(&sim, id),
            Err(RequestError::Failed(CloseReason::Io(_)))
        ));
        sim.finish();
    }
}

#[test]
fn backoff_grows_and_the_counter_resets_after_a_healthy_connection() {
    let mut c = sim_config();
    c.backoff.jitter = 0.0;
    let mut sim = Sim::new(c);
    let mut delays = vec![];
    for _ in 0..6 {
        sim.open(false);
        let (at, _) = reconnect_at(&sim);
        delays.push((at - sim.now).as_millis());
        sim.fire_next_timer();
    }
    assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    sim.open(true);
    sim.pump();
    assert_eq!(last(&sim), (Connecting, Connected, None, 7));
    sim.advance(Duration::from_millis(1000)); // healthy_after
    sim.eof();
    // Healthy: attempt 1 again, at once.
    assert_eq!(
        sim.transitions[sim.transitions.len() - 2],
        (Connected, Reconnecting, Some(CloseReason::PeerClosed), 1)
    );
    assert_eq!(last(&sim), (Reconnecting, Connecting, None, 1));
    sim.open(false);
    let (at, 2) = reconnect_at(&sim) else {
        panic!("not attempt 2")
    };
    assert_eq!((at - sim.now).as_millis(), 100);
    sim.finish();
}

#[test]
fn jitter_is_reproducible_from_the_seed() {
    let run = |seed| {
        let mut c = sim_config();
        c.seed = seed;
        let mut sim = Sim::new(c);
        let mut ats = vec![];
        for _ in 0..5 {
            sim.open(false);
            let (at, _) = reconnect_at(&sim);
            ats.push(at - sim.start);
            sim.fire_next_timer();
        }
        ats
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

// ---- close reasons ----

fn reason_after(setup: impl FnOnce(&mut Sim)) -> CloseReason {
    let mut sim = connected(sim_config());
    setup(&mut sim);
    let reason = sim
        .transitions
        .iter()
        .rev()
        .find(|t| t.1 == Reconnecting || t.1 == Failed)
        .and_then(|t| t.2.clone())
        .expect("connection did not end");
    sim.finish();
    reason
}

#[test]
fn reason_peer_closed() {
    assert_eq!(reason_after(|s| s.eof()), CloseReason::PeerClosed);
}

#[test]
fn reason_io_error() {
    assert_eq!(
        reason_after(|s| s.io_error()),
        CloseReason::Io(io::ErrorKind::ConnectionReset)
    );
}

#[test]
fn reason_protocol_error() {
    let r = reason_after(|s| s.step(&Step::Garbage));
    assert_eq!(
        r,
        CloseReason::Protocol(ProtocolErrorKind::UnknownType(b'?'))
    );
    assert!(r.is_retryable());
}

#[test]
fn reason_unexpected_reply() {
    let r = reason_after(|s| s.step(&Step::Unsolicited));
    assert_eq!(r, CloseReason::UnexpectedReply);
}

#[test]
fn reason_connect_timeout() {
    let mut sim = Sim::new(sim_config());
    sim.advance(Duration::from_millis(499));
    assert_eq!(sim.state, Connecting);
    sim.advance(Duration::from_millis(1));
    assert_eq!(
        last(&sim).2,
        Some(CloseReason::Timeout(TimeoutKind::Connect))
    );
    sim.open(true); // too late: ignored
    assert!(sim.server.is_none());
    sim.finish();
}

#[test]
fn reason_handshake_timeout() {
    let mut sim = Sim::new(sim_config());
    sim.open(true);
    mute(&mut sim);
    sim.pump();
    sim.advance(Duration::from_millis(500));
    assert_eq!(
        last(&sim).2,
        Some(CloseReason::Timeout(TimeoutKind::Handshake))
    );
    assert!(sim.server.is_none());
    sim.finish();
}

#[test]
fn reason_unresponsive() {
    let mut c = sim_config();
    c.health_check_interval = None;
    let mut sim = connected(c);
    sim.advance(Duration::from_secs(10)); // idle for long: no false alarm later
    mute(&mut sim);
    let id = sim.submit(1, PLAIN);
    sim.write(usize::MAX);
    sim.advance(Duration::from_millis(2999));
    assert_eq!(sim.state, Connected);
    sim.advance(Duration::from_millis(1));
    let reason = CloseReason::Timeout(TimeoutKind::Unresponsive);
    assert_eq!(end_reason(&sim), Some(reason.clone()));
    assert_eq!(answer(&sim, id), lost(reason));
    sim.finish();
}

#[test]
fn reason_health_check_timeout_and_a_healthy_ping() {
    let mut sim = connected(sim_config());
    sim.advance(Duration::from_millis(2000));
    assert_eq!(sim.unwritten.as_ref(), b"*1\r\n$4\r\nPING\r\n");
    sim.pump();
    assert_eq!(sim.state, Connected, "answered PING keeps the connection");
    sim.advance(Duration::from_millis(2000));
    mute(&mut sim);
    sim.pump();
    sim.advance(Duration::from_millis(699));
    assert_eq!(sim.state, Connected);
    sim.advance(Duration::from_millis(1));
    assert_eq!(
        end_reason(&sim),
        Some(CloseReason::Timeout(TimeoutKind::HealthCheck))
    );
    assert_eq!(sim.pushes, 0);
    sim.finish();
}

#[test]
fn reason_handshake_rejected_classes() {
    for code in Code::ALL {
        for (label, script) in [
            (
                "hello",
                Script {
                    hello: Hello::Reject(code),
                    ..Script::OK
                },
            ),
            (
                "select",
                Script {
                    select: Some(code),
                    ..Script::OK
                },
            ),
        ] {
            let mut c = sim_config();
            c.database = 3;
            let mut sim = Sim::new(c);
            sim.scripts.push(script);
            sim.open(true);
            sim.pump();
            let fallback = label == "hello" && matches!(code, Code::Err | Code::NoProto);
            if fallback {
                assert_eq!(sim.state, Connected, "{code:?}: RESP2 fallback");
                assert_eq!(sim.conn.protocol(), Some(ProtocolVersion::Resp2));
                sim.finish();
                continue;
            }
            let (from, to, reason, _) = last(&sim);
            let Some(CloseReason::HandshakeRejected(e)) = reason.clone() else {
                panic!("{reason:?}")
            };
            assert_eq!(e.code, code.code());
            let transient = matches!(
                code,
                Code::Loading | Code::Busy | Code::MasterDown | Code::TryAgain | Code::ClusterDown
            );
            assert_eq!(
                reason.as_ref().unwrap().is_retryable(),
                transient,
                "{label} {code:?}"
            );
            assert_eq!(
                (from, to),
                (Connecting, if transient { Reconnecting } else { Failed }),
                "{label} {code:?}"
            );
            sim.finish();
        }
    }
}

#[test]
fn reason_client_requested_and_drain_are_not_retryable() {
    assert!(!CloseReason::ClientRequested.is_retryable());
    assert!(!CloseReason::Timeout(TimeoutKind::Drain).is_retryable());
    for k in [
        TimeoutKind::Connect,
        TimeoutKind::Handshake,
        TimeoutKind::Unresponsive,
        TimeoutKind::HealthCheck,
    ] {
        assert!(CloseReason::Timeout(k).is_retryable());
    }
}

// ---- handshake ----

/// One request submitted, then a connection to a server without `HELLO`, run until
/// nothing more happens.
fn one_request_without_hello(
    config: redwire_core::conn::Config,
) -> (Sim, redwire_core::conn::RequestId) {
    let mut sim = Sim::new(config);
    sim.scripts.push(Script {
        hello: Hello::Unknown,
        ..Script::OK
    });
    let id = sim.submit(1, PLAIN);
    sim.open(true);
    sim.pump();
    (sim, id)
}

/// Password, name, database 2 and one configured handshake command (`PING`).
fn with_handshake_command() -> redwire_core::conn::Config {
    let mut c = config_variant(false, true, 2, false, None);
    c.handshake_commands = vec![redwire_core::resp::cmd("PING")];
    c
}

#[test]
fn resp2_fallback_sends_auth_setname_select_and_user_commands() {
    let (mut sim, id) = one_request_without_hello(with_handshake_command());
    assert_eq!(
        names(&sim),
        ["HELLO", "AUTH", "CLIENT", "SELECT", "PING", "PING", "ECHO"]
    );
    assert_echoed(&sim, id);
    sim.finish();
}

#[test]
fn resp3_handshake_is_hello_then_select_and_the_ping_probe() {
    let mut sim = Sim::new(config_variant(false, true, 2, false, None));
    let id = sim.submit(1, PLAIN);
    sim.open(true);
    // One round trip: SELECT and the probe are pipelined behind HELLO.
    sim.write(usize::MAX);
    assert_eq!(names(&sim), ["HELLO", "SELECT", "PING"]);
    assert!(sim.unwritten.is_empty(), "no request before the PONG");
    sim.read(usize::MAX);
    assert_eq!(last(&sim), (Connecting, Connected, None, 1));
    assert_eq!(sim.conn.protocol(), Some(ProtocolVersion::Resp3));
    sim.pump();
    assert_eq!(names(&sim), ["HELLO", "SELECT", "PING", "ECHO"]);
    assert_echoed(&sim, id);
    sim.finish();
}

#[test]
fn configured_handshake_commands_wait_for_hello_to_be_accepted() {
    // Configured commands never run before HELLO is answered (a refused HELLO would
    // otherwise run them twice), so HELLO goes alone.
    let mut sim = Sim::new(with_handshake_command());
    sim.open(true);
    sim.write(usize::MAX);
    assert_eq!(names(&sim), ["HELLO"]);
    sim.pump();
    assert_eq!(sim.state, Connected);
    assert_eq!(names(&sim), ["HELLO", "SELECT", "PING", "PING"]);
    sim.finish();
}

#[test]
fn a_refused_hello_drops_the_replies_pipelined_behind_it() {
    // No HELLO here: SELECT and PING behind it ran anyway; their replies are not the
    // RESP2 setup's, which runs SELECT and the probe again.
    let (mut sim, id) = one_request_without_hello(config_variant(false, false, 2, false, None));
    assert_eq!(sim.state, Connected);
    assert_eq!(sim.conn.protocol(), Some(ProtocolVersion::Resp2));
    assert_eq!(
        names(&sim),
        ["HELLO", "SELECT", "PING", "SELECT", "PING", "ECHO"]
    );
    assert_echoed(&sim, id);
    sim.finish();

    // A refusal in the RESP2 setup still ends the attempt, one in the dropped part not.
    let mut sim = Sim::new(config_variant(false, false, 2, false, None));
    sim.scripts.push(Script {
        hello: Hello::Unknown,
        select: Some(Code::Err),
        ..Script::OK
    });
    sim.open(true);
    sim.write(usize::MAX);
    sim.read(usize::MAX);
    assert_eq!(
        sim.state, Connecting,
        "the dropped SELECT error ends nothing"
    );
    assert_eq!(
        sim.unwritten.as_ref(),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*1\r\n$4\r\nPING\r\n"
    );
    sim.pump();
    assert_ne!(sim.state, Connected);
    match end_reason(&sim) {
        Some(CloseReason::HandshakeRejected(e)) => assert_eq!(e.code, ServerErrorCode::Err),
        other => panic!("{other:?}"),
    }
    sim.finish();
}

#[test]
fn resp2_configured_skips_hello_and_an_empty_handshake_is_the_ping_probe() {
    let mut sim = Sim::new(config_variant(true, false, 0, false, None));
    let id = sim.submit(1, PLAIN);
    sim.open(true);
    // Even with nothing to set up, one round trip: the readiness probe alone.
    assert_eq!(sim.state, Connecting);
    assert_eq!(sim.unwritten.as_ref(), b"*1\r\n$4\r\nPING\r\n");
    sim.write(usize::MAX);
    assert_eq!(sim.state, Connecting, "not connected before PONG");
    assert!(sim.expects[&id].answer.is_none());
    assert!(sim.unwritten.is_empty(), "no request before the PONG");
    sim.pump();
    assert_eq!(last(&sim), (Connecting, Connected, None, 1));
    assert_eq!(names(&sim), ["PING", "ECHO"]);
    assert_echoed(&sim, id);
    sim.finish();
}

#[test]
fn a_server_loading_its_dataset_is_retried_and_requests_wait_unwritten() {
    // A restarted server loading its dataset: HELLO and SELECT accepted, PING refused.
    let mut sim = Sim::new(config_variant(false, true, 2, false, None));
    let loading = Script {
        ping: Some(Code::Loading),
        ..Script::OK
    };
    sim.scripts.push(loading);
    sim.scripts.push(loading);
    let ids: Vec<_> = (0..3).map(|_| sim.submit(1, PLAIN)).collect();
    for attempt in 1..=2 {
        sim.open(true);
        // HELLO with SELECT and the probe pipelined behind it.
        sim.write(usize::MAX);
        assert_eq!(
            names(&sim),
            ["HELLO", "SELECT", "PING"],
            "attempt {attempt}: only the handshake was written"
        );
        assert!(sim.unwritten.is_empty());
        sim.read(usize::MAX);
        match last(&sim) {
            (Connecting, Reconnecting, Some(CloseReason::HandshakeRejected(e)), n) => {
                assert_eq!(e.code, ServerErrorCode::Loading);
                assert_eq!(n, attempt + 1, "the next attempt's number");
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
        assert!(!sim.transitions.iter().any(|t| t.1 == Connected));
        assert!(sim.executed.is_empty(), "no request ran");
        for id in &ids {
            assert!(sim.expects[id].answer.is_none(), "still queued: {id:?}");
        }
        assert_eq!(sim.conn.backlog(), 3);
        assert!(sim.fire_next_timer(), "backoff timer armed");
        assert_eq!(sim.state, Connecting);
    }
    // Loading is over: the next attempt completes and the queued requests are answered.
    sim.open(true);
    sim.pump();
    assert_eq!(last(&sim), (Connecting, Connected, None, 3));
    assert_eq!(
        names(&sim),
        ["HELLO", "SELECT", "PING", "ECHO", "ECHO", "ECHO"]
    );
    for id in ids {
        assert_echoed(&sim, id);
        assert_eq!(sim.expects[&id].answers, 1);
    }
    sim.finish();
}

#[test]
fn auth_rejected_on_the_resp2_path_fails() {
    let mut sim = Sim::new(config_variant(true, true, 0, false, None));
    sim.scripts.push(Script {
        auth: Some(Code::WrongPass),
        ..Script::OK
    });
    sim.open(true);
    sim.pump();
    assert_eq!(last(&sim).1, Failed);
    sim.finish();
}

// ---- requests ----

#[test]
fn pushes_never_take_a_reply_slot() {
    let mut sim = Sim::new(sim_config());
    sim.scripts.push(Script {
        pushes: true,
        ..Script::OK
    });
    sim.open(true);
    sim.pump();
    let ids: Vec<_> = (0..5).map(|i| sim.submit(1 + i % 2, PLAIN)).collect();
    for _ in 0..200 {
        sim.write(7);
        sim.read(3);
    }
    for id in ids {
        assert!(answer(&sim, id).is_ok());
    }
    assert_eq!(sim.pushes, 9, "one per command: HELLO, PING and 7 ECHOs");
    sim.finish();
}

#[test]
fn per_request_timeout_keeps_the_slot_and_discards_the_late_reply() {
    let mut sim = connected(sim_config());
    let slow = sim.submit(1, timing_out(100));
    let queued_then_timed_out = {
        sim.write(usize::MAX);
        sim.advance(Duration::from_millis(100));
        assert_eq!(
            answer(&sim, slow),
            Err(RequestError::Timeout { written: true })
        );
        sim.submit(1, PLAIN)
    };
    sim.pump();
    assert_eq!(
        sim.state, Connected,
        "the late reply was consumed, not unexpected"
    );
    assert_echoed(&sim, queued_then_timed_out);
    sim.finish();
}

#[test]
fn a_request_that_times_out_while_queued_was_not_written() {
    let mut sim = Sim::new(sim_config());
    let id = sim.submit(1, timing_out(50));
    sim.advance(Duration::from_millis(50));
    assert_eq!(
        answer(&sim, id),
        Err(RequestError::Timeout { written: false })
    );
    sim.open(true);
    sim.pump();
    assert!(sim.executed.is_empty());
    sim.finish();
}

#[test]
fn queue_limit_and_fail_fast() {
    let mut sim = Sim::new(sim_config());
    let ids: Vec<_> = (0..17).map(|_| sim.submit(1, PLAIN)).collect();
    assert_eq!(answer(&sim, ids[16]), Err(RequestError::QueueFull));
    sim.open(true);
    sim.pump();
    assert!(ids[..16].iter().all(|id| answer(&sim, *id).is_ok()));
    sim.finish();

    let mut sim = Sim::new(config_variant(false, false, 0, true, None));
    let id = sim.submit(1, PLAIN);
    assert_eq!(answer(&sim, id), Err(RequestError::NotConnected(None)));
    sim.open(false);
    let id = sim.submit(1, PLAIN);
    assert!(matches!(
        answer(&sim, id),
        Err(RequestError::NotConnected(Some(CloseReason::Io(_))))
    ));
    sim.finish();
}

#[test]
fn all_pending_requests_go_out_in_one_transmit() {
    let mut sim = connected(sim_config());
    for _ in 0..10 {
        sim.conn.submit(
            redwire_core::conn::Request::single(&redwire_core::resp::cmd("PING")),
            sim.now,
        );
    }
    let transmits = transmits(&mut sim);
    assert_eq!(transmits.len(), 1);
    assert_eq!(transmits[0].len(), 10 * 14);
}

#[test]
fn empty_batch_is_answered_at_once() {
    let mut sim = Sim::new(sim_config());
    let id = sim.submit(0, PLAIN);
    assert_eq!(answer(&sim, id), Ok(Value::Array(vec![])));
    sim.finish();
}

#[test]
fn zero_copy_read_path() {
    let mut sim = connected(sim_config());
    let id = sim.submit(1, PLAIN);
    sim.write(usize::MAX);
    let reply = sim.server.as_mut().unwrap().out.split();
    let (a, b) = reply.split_at(3);
    sim.conn.read_buf().extend_from_slice(a);
    sim.input(Input::ReceivedInPlace(a.len()));
    assert!(sim.expects[&id].answer.is_none());
    sim.conn.read_buf().extend_from_slice(b);
    sim.input(Input::ReceivedInPlace(b.len()));
    assert_echoed(&sim, id);
    sim.finish();
}

#[test]
fn batches_are_never_split_across_connections() {
    let mut sim = connected(sim_config());
    let id = sim.submit(3, RETRY_SAFE);
    sim.write(20); // part of the batch
    sim.io_error();
    sim.fire_next_timer();
    sim.open(true);
    sim.pump();
    let Ok(Value::Array(items)) = answer(&sim, id) else {
        panic!()
    };
    let tokens: Vec<Value> = sim.expects[&id]
        .tokens
        .iter()
        .cloned()
        .map(|t| Value::BulkString(t.into()))
        .collect();
    assert_eq!(items, tokens);
    sim.finish();
}

#[test]
fn large_requests_are_handed_out_without_copying_and_in_order() {
    let mut sim = connected(sim_config());
    let big = "x".repeat(20_000);
    let small = |sim: &mut Sim, t: &str| {
        let r = redwire_core::conn::Request::single(&redwire_core::resp::cmd("ECHO").arg(t));
        sim.conn.submit(r, sim.now)
    };
    let a = small(&mut sim, "a");
    let large =
        redwire_core::conn::Request::single(&redwire_core::resp::cmd("ECHO").arg(big.as_str()));
    let large_ptr = large.bytes().as_ptr();
    let b = sim.conn.submit(large, sim.now);
    let c = small(&mut sim, "c");
    let mut replies = std::collections::HashMap::new();
    let transmits = transmits(&mut sim);
    assert_eq!(transmits.len(), 3);
    assert_eq!(
        transmits[1].as_ptr(),
        large_ptr,
        "the large request's own bytes, not a copy"
    );
    let all: Vec<u8> = transmits.concat();
    let mut server = FakeServer::new(Script::OK);
    let mut executed = Default::default();
    server.feed(&all, &mut executed);
    sim.conn.handle_input(Input::Written(all.len()), sim.now);
    sim.conn.handle_input(Input::Received(&server.out), sim.now);
    while let Some(out) = sim.conn.poll_output() {
        if let redwire_core::conn::Output::Reply { id, result } = out {
            replies.insert(id, result.unwrap());
        }
    }
    assert_eq!(replies[&a], Value::BulkString("a".into()));
    assert_eq!(replies[&b], Value::BulkString(big.into()));
    assert_eq!(replies[&c], Value::BulkString("c".into()));
}

#[test]
fn queue_limit_also_bounds_requests_awaiting_replies() {
    let mut sim = connected(sim_config());
    let ids: Vec<_> = (0..17).map(|_| sim.submit(1, PLAIN)).collect();
    sim.write(usize::MAX); // all written, no reply read yet
    assert_eq!(answer(&sim, ids[16]), Err(RequestError::QueueFull));
    assert_eq!(sim.conn.backlog(), 16);
    sim.pump();
    assert!(ids[..16].iter().all(|id| answer(&sim, *id).is_ok()));
    sim.finish();
}

#[test]
fn an_old_server_requiring_a_password_answers_hello_with_noauth_and_gets_auth() {
    // Redis < 6 with requirepass: NOAUTH before it even finds HELLO unknown.
    let mut sim = Sim::new(config_variant(false, true, 0, false, None));
    sim.scripts.push(Script {
        hello: Hello::Reject(Code::NoAuth),
        ..Script::OK
    });
    sim.open(true);
    sim.pump();
    assert_eq!(sim.state, Connected);
    // The probe pipelined behind HELLO ran unauthenticated (its NOAUTH is dropped); the
    // RESP2 setup's own probe decides.
    assert_eq!(names(&sim), ["HELLO", "PING", "AUTH", "CLIENT", "PING"]);
    assert_eq!(sim.conn.protocol(), Some(ProtocolVersion::Resp2));
    sim.finish();

    // Without a password to offer, NOAUTH is final.
    let mut sim = Sim::new(sim_config());
    sim.scripts.push(Script {
        hello: Hello::Reject(Code::NoAuth),
        ..Script::OK
    });
    sim.open(true);
    sim.pump();
    assert_eq!(sim.state, Failed);
    sim.finish();
}

#[test]
fn the_documented_table_is_the_code_table() {
    // The crate docs' state table must list exactly `TRANSITIONS`, in order.
    let docs = include_str!("../src/lib.rs");
    let rows: Vec<(String, String, String)> = docs
        .lines()
        .skip_while(|l| *l != "//! | From | To | On |")
        .skip(2) // header and separator
        .map_while(|l| l.strip_prefix("//! | "))
        .map(|l| {
            l.trim_end_matches(" |")
                .split(" | ")
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|c| (c[0].clone(), c[1].clone(), c[2].clone()))
        .collect();
    let code: Vec<(String, String, String)> = TRANSITIONS
        .iter()
        .map(|e| {
            (
                format!("{:?}", e.from),
                format!("{:?}", e.to),
                e.on.to_owned(),
            )
        })
        .collect();
    assert_eq!(rows, code);
}

/// A configuration whose only timer is the per-request `response_timeout`.
fn only_response_timeouts(response_timeout: Duration) -> redwire_core::conn::Config {
    let mut c = sim_config();
    c.response_timeout = Some(response_timeout);
    c.health_check_interval = None;
    c.unresponsive_timeout = None;
    c
}

/// Lets the server answer everything, checks that request `last` got its own reply, and that
/// with nothing left waiting no deadline remains; then runs the simulation to its end.
fn last_answered_leaves_no_timer(mut sim: Sim, last: redwire_core::conn::RequestId) {
    sim.pump();
    assert_echoed(&sim, last);
    assert_eq!(sim.conn.poll_timeout(), None);
    sim.finish();
}

/// Deadlines of answered requests that sit below a live one's pile up until they are the
/// majority, and are then dropped; the deadlines of the requests still waiting are kept.
#[test]
fn stale_deadlines_are_dropped_and_live_ones_kept() {
    let mut c = only_response_timeouts(Duration::from_secs(30));
    c.queue_limit = 1000;
    let mut sim = connected(c);
    let answered: Vec<_> = (0..200).map(|_| sim.submit(1, PLAIN)).collect();
    // Submitted after them and due before them: its deadline stays on top while theirs go
    // stale below it.
    let short = sim.submit(1, timing_out(1000));
    sim.write(usize::MAX);
    let token = &sim.expects[&short].tokens[0];
    let short_reply = format!("${}\r\n", token.len()).len() + token.len() + 2;
    let replies = sim.server.as_ref().expect("connected").out.len();
    sim.read(replies - short_reply);
    for id in &answered {
        assert_echoed(&sim, *id);
    }
    // Due after the short one; its reply is held back.
    let late = sim.submit(1, PLAIN);
    let late_due = sim.now + Duration::from_secs(30);
    sim.write(usize::MAX);
    assert_eq!(
        sim.conn.poll_timeout(),
        Some(sim.now + Duration::from_secs(1))
    );
    assert!(sim.fire_next_timer());
    assert_eq!(
        answer(&sim, short),
        Err(RequestError::Timeout { written: true })
    );
    assert!(sim.expects[&late].answer.is_none());
    assert_eq!(
        sim.conn.poll_timeout(),
        Some(late_due),
        "the deadline of the request still waiting is kept"
    );
    last_answered_leaves_no_timer(sim, late);
}

#[test]
fn answered_requests_leave_no_timer_behind() {
    let mut sim = connected(only_response_timeouts(Duration::from_secs(5)));
    for _ in 0..100 {
        sim.submit(1, PLAIN);
        sim.pump();
    }
    assert_eq!(sim.conn.pending_requests(), 0);
    assert_eq!(
        sim.conn.poll_timeout(),
        None,
        "no wake-up for requests already answered"
    );
    let id = sim.submit(1, PLAIN);
    assert_eq!(
        sim.conn.poll_timeout(),
        Some(sim.now + Duration::from_secs(5))
    );
    last_answered_leaves_no_timer(sim, id);
}

/// `handle_input_with` hands replies to its callback only while no output is queued, so the
/// order the caller sees is the one `handle_input` gives: a reply decoded after a queued
/// output still comes as `Output::Reply`, after it.
#[test]
fn direct_replies_keep_their_place_among_outputs() {
    use redwire_core::conn::Output;

    let mut sim = connected(sim_config());
    let take_replies = |sim: &mut Sim| {
        let chunk = sim.server.as_mut().unwrap().out.split().freeze();
        let mut direct = Vec::new();
        let now = sim.now;
        sim.conn
            .handle_input_with(Input::Received(&chunk), now, |id, v| direct.push((id, v)));
        direct
    };

    // Nothing queued: both replies go to the callback, in order, and no output is left.
    let a = sim.submit(1, PLAIN);
    let b = sim.submit(1, PLAIN);
    sim.write(usize::MAX);
    let direct = take_replies(&mut sim);
    assert_eq!(direct, vec![(a, echo(&sim, a)), (b, echo(&sim, b))]);
    assert!(sim.conn.poll_output().is_none());

    // A transition queued first: the reply comes after it, as an output.
    let c = sim.submit(1, PLAIN);
    sim.write(usize::MAX);
    let now = sim.now;
    sim.conn.handle_input(Input::Close, now);
    assert!(take_replies(&mut sim).is_empty());
    match sim.conn.poll_output() {
        Some(Output::Transition(t)) => assert_eq!(t.to, Draining),
        other => panic!("expected the transition first, got {other:?}"),
    }
    match sim.conn.poll_output() {
        Some(Output::Reply { id, result }) => {
            assert_eq!(id, c);
            assert_eq!(result, Ok(echo(&sim, c)));
        }
        other => panic!("expected c's reply, got {other:?}"),
    }
}
