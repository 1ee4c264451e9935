//! Fault-injection suite: every common way a connection dies, against real processes
//! (redis-server, HAProxy, and the testkit's fault-injecting proxy), on tokio, async-std and
//! smol. Each scenario runs writers throughout and checks, against what the server holds at
//! the end, that nothing acknowledged was lost, nothing reported unwritten was run, nothing ran
//! twice and no reply went to the wrong request (see `fault_support`). The steps every
//! scenario shares (load, wait for the drop, recover, check, report) are `FaultRun`'s, so each
//! scenario below is only its fault, its heal and its own assertions.
//!
//! Every scenario prints one summary line; with `REDWIRE_RELIABILITY_OUT=<file>` it also appends
//! a machine-readable line there, from which `scripts/reliability` renders docs/reliability.md.
//!
//! Waits are bounded and wait for events; the only fixed pauses are the outage lengths the
//! scenarios are about (a backend kept down for N seconds) and writer pacing.

mod fault_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fault_support::*;
use redwire_client::{
    cmd, ClientConfig, CloseReason, Error, QueuePolicy, ServerErrorCode, StateKind, TimeoutKind,
};
use redwire_e2e::testkit::{free_port, Cut, FaultProxy, Haproxy, RedisServer};
use redwire_e2e::Rt;

redwire_e2e::runtime_tests!(
    scenario_1_haproxy_backend_killed,
    scenario_2_kill_9_and_restart_with_backoff,
    scenario_3a_shutdown_nosave,
    scenario_3b_client_kill,
    scenario_4a_black_hole_busy,
    scenario_4b_black_hole_idle,
    scenario_5_debug_sleep_past_response_timeout,
    scenario_6_garbage_from_server,
    scenario_7_password_changed_while_down,
    scenario_8_unreachable_with_max_attempts,
    scenario_9_queue_bound_and_fail_fast,
    scenario_10_restart_into_loading,
    scenario_11_cut_mid_reply,
);

fn tcp(port: u16) -> ClientConfig {
    ClientConfig::tcp("127.0.0.1", port)
}

/// Scenario 1: Client through HAProxy (health check PING/+PONG every 100 ms, on-marked-down
/// shutdown-sessions), default client settings. The backend is killed with requests in flight;
/// HAProxy closes the client's socket; the backend is restarted.
async fn scenario_1_haproxy_backend_killed(rt: Rt) {
    let server = durable(RedisServer::builder());
    let addr = lock(&server).addr();
    let haproxy = Arc::new(Haproxy::start(addr));
    let config = tcp(haproxy.port());
    let mut run = FaultRun::begin(
        &rt,
        config,
        "1",
        "HAProxy: backend killed, sessions shut, backend restarted (defaults)",
    );
    // A second client with the defaults but a 500 ms response timeout: no request may be held
    // past it, even while the backend is down.
    let timeout = Duration::from_millis(500);
    let bounded = rt.client(tcp(haproxy.port()).response_timeout(Some(timeout)));
    let bounded_writers = Writers::start(&rt, &bounded, "s1t", 1, PACE);
    run.first_acks().await;
    bounded_writers
        .wait_acks(&rt, 30, PROMPT, "first acknowledgements (bounded client)")
        .await;

    with_server(&server, RedisServer::kill).await;
    // HAProxy closing the session.
    run.wait_transport_close("the connection to drop").await;

    // Down for a second: several failed attempts through HAProxy (it accepts, then closes).
    sleep(&rt, Duration::from_secs(1)).await;
    let h = haproxy.clone();
    let back = with_server(&server, move |s| {
        s.start_again();
        // The backend counts as reachable again when HAProxy's health check marks it up.
        while !h.backend_is_up() {
            std::thread::sleep(Duration::from_millis(1));
        }
        Instant::now()
    })
    .await;
    let done = run
        .recover(back, "acknowledgements after the backend is back")
        .await;
    bounded_writers
        .wait_acks(
            &rt,
            30,
            PROMPT,
            "bounded client acknowledgements after recovery",
        )
        .await;
    let bounded_prefix = bounded_writers.prefix.clone();
    let bounded_ops = bounded_writers.finish(&rt, PROMPT).await;

    let max_hold = bounded_ops
        .iter()
        .map(|o| o.done - o.issued)
        .max()
        .unwrap_or_default();
    // Scheduling slack only: the deadline itself is what is checked.
    assert!(
        max_hold <= timeout + Duration::from_millis(300),
        "a request was held {max_hold:?} despite a {timeout:?} response timeout"
    );
    let bounded_tally = check(&lock(&server), &bounded_prefix, &bounded_ops);
    let reasons = format!(
        "{}; client with a 500 ms response timeout: longest wait for an answer {} ms",
        done.reasons(),
        max_hold.as_millis()
    );
    done.conclude(&server, "yes", reasons).await;
    bounded_tally.assert_clean();
    bounded.close().await;
}

/// Scenario 2: `kill -9`, restart on the same port after longer than several backoff steps, default
/// settings: the events show growing, jittered delays, then recovery.
async fn scenario_2_kill_9_and_restart_with_backoff(rt: Rt) {
    let server = durable(RedisServer::builder());
    let config = tcp(lock(&server).port());
    let backoff = config.core().backoff;
    let run = FaultRun::start(
        &rt,
        config,
        "2",
        "kill -9, restart on the same port after 2 s (defaults)",
    )
    .await;

    let killed = Instant::now();
    with_server(&server, RedisServer::kill).await;
    // Default backoff: 100 ms doubling, so two seconds cover four or five attempts.
    sleep(&rt, Duration::from_secs(2)).await;
    let back = start_again(&server).await;
    let done = run
        .recover(back, "acknowledgements after the restart")
        .await;

    let evs = done.transitions();
    // Delay of each wait: from entering Reconnecting to the next Connecting.
    let mut delays = Vec::new();
    for w in evs.windows(2) {
        if w[0].to == StateKind::Reconnecting
            && w[1].to == StateKind::Connecting
            && w[0].at >= killed
        {
            delays.push((w[0].attempt, w[1].at - w[0].at));
        }
    }
    assert!(
        delays.len() >= 3,
        "expected several attempts during a 2 s outage: {delays:?}\n{evs:#?}"
    );
    let slack = Duration::from_millis(150);
    let mut jittered = 0;
    for &(attempt, d) in &delays {
        let nominal = backoff.delay(attempt.saturating_sub(1));
        let low = nominal.mul_f64(1.0 - backoff.jitter);
        assert!(
            d + Duration::from_millis(2) >= low && d <= nominal + slack,
            "attempt {attempt}: {d:?} not in [{low:?}, {nominal:?}]"
        );
        if d + Duration::from_millis(2) < nominal {
            jittered += 1;
        }
    }
    assert!(jittered > 0, "no delay was shortened by jitter: {delays:?}");
    let growing = delays
        .windows(2)
        .all(|w| w[1].1 + Duration::from_millis(100) >= w[0].1);
    assert!(
        growing && delays.last().unwrap().1 > delays[0].1 * 2,
        "backoff does not grow: {delays:?}"
    );

    let shown: Vec<String> = delays
        .iter()
        .map(|(a, d)| format!("#{a}:{}ms", d.as_millis()))
        .collect();
    let reasons = format!("{}; backoff {}", reasons_of(&evs), shown.join(" "));
    done.conclude(&server, "yes", reasons).await;
}

/// Scenario 3a: `SHUTDOWN NOSAVE`, then a restart.
async fn scenario_3a_shutdown_nosave(rt: Rt) {
    let server = durable(RedisServer::builder());
    let config = fast_backoff(tcp(lock(&server).port()));
    let mut run = FaultRun::start(&rt, config, "3a", "SHUTDOWN NOSAVE, restart").await;

    with_server(&server, RedisServer::shutdown_nosave).await;
    run.wait_transport_close("the drop").await;
    let back = start_again(&server).await;
    let done = run
        .recover(back, "acknowledgements after the restart")
        .await;
    let reasons = done.reasons();
    done.conclude(&server, "yes", reasons).await;
}

/// Scenario 3b: `CLIENT KILL TYPE normal` while the server stays up.
async fn scenario_3b_client_kill(rt: Rt) {
    let server = durable(RedisServer::builder());
    let config = fast_backoff(tcp(lock(&server).port()));
    let mut run = FaultRun::start(&rt, config, "3b", "CLIENT KILL TYPE normal").await;

    let back = with_server(&server, |s| {
        let r = s.command(&["CLIENT", "KILL", "TYPE", "normal"]);
        assert!(
            r.as_int().unwrap_or(0) >= 1,
            "CLIENT KILL killed nothing: {r}"
        );
        Instant::now()
    })
    .await;
    run.wait_transport_close("the drop").await;
    let done = run.recover(back, "acknowledgements after the kill").await;
    let reasons = done.reasons();
    done.conclude(&server, "yes", reasons).await;
}

/// Short bounds for the black-hole scenarios.
fn black_hole_config(port: u16) -> ClientConfig {
    fast_backoff(tcp(port))
        .unresponsive_timeout(Some(Duration::from_millis(500)))
        .health_check_interval(Some(Duration::from_millis(800)))
        .health_check_timeout(Duration::from_millis(300))
        .handshake_timeout(Duration::from_millis(500))
}

/// Scenario 4a: Black hole with requests outstanding: detected by the unresponsive bound.
async fn scenario_4a_black_hole_busy(rt: Rt) {
    black_hole(rt, true).await
}

/// Scenario 4b: Black hole on an idle connection: detected by the health check.
async fn scenario_4b_black_hole_idle(rt: Rt) {
    black_hole(rt, false).await
}

async fn black_hole(rt: Rt, busy: bool) {
    let server = durable(RedisServer::builder());
    let proxy = Arc::new(FaultProxy::start(lock(&server).addr()));
    let config = black_hole_config(proxy.port());
    let core = config.core().clone();
    let (id, title) = if busy {
        (
            "4a",
            "black hole, requests outstanding (unresponsive bound 500 ms)",
        )
    } else {
        (
            "4b",
            "black hole, idle (health check every 800 ms, 300 ms timeout)",
        )
    };
    let mut run = FaultRun::start(&rt, config, id, title).await;
    if !busy {
        run.quiesce().await;
    }

    let start = Instant::now();
    proxy.blackhole();
    let t = run.wait_reconnecting("the dead link to be noticed").await;
    let detected = t.at.saturating_duration_since(start);
    let (expected, bound) = if busy {
        (
            TimeoutKind::Unresponsive,
            core.unresponsive_timeout.unwrap(),
        )
    } else {
        (
            TimeoutKind::HealthCheck,
            core.health_check_interval.unwrap() + core.health_check_timeout,
        )
    };
    assert_eq!(t.reason, Some(CloseReason::Timeout(expected)), "{t:?}");
    // Within its configured bound (plus scheduling slack), not some unrelated, longer timer.
    assert!(
        detected <= bound + Duration::from_millis(500),
        "detected after {detected:?}, bound {bound:?}"
    );

    // The path heals: what the black hole held is dropped, as a dead link would.
    proxy.cut_all(Cut::Rst);
    let back = Instant::now();
    proxy.resume();
    let done = run
        .recover(back, "acknowledgements after the path healed")
        .await;
    let reasons = format!(
        "{}; detected after {} ms",
        done.reasons(),
        detected.as_millis()
    );
    done.conclude(&server, "yes", reasons).await;
}

/// Scenario 5: `DEBUG SLEEP` longer than the response timeout: that request times out at its deadline,
/// the connection stays in sync (later requests get their own replies), no reconnect.
async fn scenario_5_debug_sleep_past_response_timeout(rt: Rt) {
    let server = durable(RedisServer::builder());
    let timeout = Duration::from_millis(300);
    let config = fast_backoff(tcp(lock(&server).port())).response_timeout(Some(timeout));
    let run = FaultRun::start(
        &rt,
        config,
        "5",
        "DEBUG SLEEP 1.5 s with a 300 ms response timeout",
    )
    .await;

    let t0 = Instant::now();
    let slow = run.client.send(&cmd("DEBUG").arg("SLEEP").arg("1.5"));
    // An admin connection queued behind the sleep answers when the server is responsive again.
    let back = with_server(&server, |s| {
        let _ = s.command(&["PING"]);
        Instant::now()
    });
    let err = slow.await.unwrap_err();
    let waited = t0.elapsed();
    assert_eq!(err, Error::Timeout { written: true });
    // Failed at its own deadline, not when the late reply came (1.5 s).
    assert!(
        waited < Duration::from_millis(1200),
        "held for {waited:?} with a {timeout:?} timeout"
    );
    let back = back.await;
    let done = run
        .recover_by(back, 60, "acknowledgements after the sleep")
        .await;
    let evs = done.transitions();
    assert!(
        evs.iter()
            .all(|t| t.to == StateKind::Connected || t.to == StateKind::Connecting),
        "no reconnect should be needed: {evs:#?}"
    );
    let reasons = format!("sleeping request: {err:?} after {} ms", waited.as_millis());
    done.conclude(&server, "yes (no reconnect)", reasons).await;
}

/// Scenario 6: Bytes that are not RESP arrive from the server side while a request waits:
/// protocol-error close, the waiting request fails (never gets the garbage as its reply),
/// reconnect.
async fn scenario_6_garbage_from_server(rt: Rt) {
    let server = durable(RedisServer::builder());
    let proxy = Arc::new(FaultProxy::start(lock(&server).addr()));
    let config = fast_backoff(tcp(proxy.port()));
    let mut run = FaultRun::start(&rt, config, "6", "garbage injected from the server side").await;
    run.quiesce().await;

    // A request that is waiting at the server when the garbage comes.
    let blocked = run.client.send(&cmd("BLPOP").arg("s6:nothing").arg(10));
    with_server(&server, |s| {
        redwire_e2e::testkit::wait_for("BLPOP to block", PROMPT, || {
            s.command(&["INFO", "clients"])
                .to_string()
                .contains("blocked_clients:1")
        })
    })
    .await;
    let back = Instant::now();
    assert_eq!(proxy.inject_to_clients(b"\x00\x01this is not RESP\r\n"), 1);
    let err = rt
        .within("the waiting request to fail", PROMPT, blocked)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::ConnectionLost {
                reason: CloseReason::Protocol(_),
                ..
            }
        ),
        "the waiting request fails with the protocol error, never gets a reply: {err:?}"
    );
    let t = run.wait_reconnecting("the protocol-error close").await;
    assert!(matches!(t.reason, Some(CloseReason::Protocol(_))), "{t:?}");
    let done = run
        .recover(back, "acknowledgements after reconnecting")
        .await;
    let reasons = format!("{}; waiting request: {err:?}", done.reasons());
    done.conclude(&server, "yes", reasons).await;
}

/// Scenario 7: The password changes while the client is disconnected: the handshake is rejected with
/// WRONGPASS, the client ends in Failed with that typed reason, queued requests fail with it,
/// and it stops retrying.
async fn scenario_7_password_changed_while_down(rt: Rt) {
    let server = durable(RedisServer::builder().requirepass("before"));
    let config = fast_backoff(tcp(lock(&server).port())).password("before");
    let mut run = FaultRun::start(&rt, config, "7", "password changed while disconnected").await;

    with_server(&server, |s| {
        s.kill();
        s.set_requirepass(Some("after"));
        s.start_again();
    })
    .await;
    let (failed, _) = rt
        .wait_state(&mut run.events, StateKind::Failed, PROMPT)
        .await;
    let reason = failed.reason.clone().expect("a reason");
    assert!(
        matches!(&reason, CloseReason::HandshakeRejected(e) if e.code == ServerErrorCode::WrongPass),
        "{reason:?}"
    );
    // Terminal: the event stream ends, no further attempt is made.
    rt.within("the event stream to end", PROMPT, async {
        while run.events.next().await.is_some() {}
    })
    .await;
    assert_eq!(run.client.state(), StateKind::Failed);
    let late = run.client.send(&cmd("PING")).await.unwrap_err();
    assert!(
        matches!(&late, Error::Failed(r) if *r == reason),
        "{late:?}"
    );
    let done = run.finish().await;
    // Every request answered after the failure carries the typed reason.
    let failed_at = failed.at;
    for op in done.ops.iter().filter(|o| o.issued > failed_at) {
        assert!(
            matches!(&op.result, Err(Error::Failed(r)) if *r == reason),
            "{op:?}"
        );
    }
    let connects = done
        .transitions()
        .iter()
        .filter(|t| t.to == StateKind::Connecting)
        .count();
    let reasons = format!("{reason:?} after {connects} connection attempts");
    done.conclude(&server, "no: Failed (WRONGPASS), as specified", reasons)
        .await;
}

/// Scenario 8: Nothing listens from the start, with a maximum number of attempts: Failed after exactly
/// that many.
async fn scenario_8_unreachable_with_max_attempts(rt: Rt) {
    // The writers' requests must all fail unwritten; a real server shows none of them ran.
    let server = shared(RedisServer::start());
    let dead_port = free_port();
    let config = fast_backoff(tcp(dead_port)).max_attempts(Some(4));
    let mut run = FaultRun::begin(
        &rt,
        config,
        "8",
        "unreachable from the start, max 4 attempts",
    );
    let (failed, _) = rt
        .wait_state(&mut run.events, StateKind::Failed, PROMPT)
        .await;
    rt.within("the event stream to end", PROMPT, async {
        while run.events.next().await.is_some() {}
    })
    .await;
    let done = run.finish().await;
    let evs = done.transitions();
    let attempts = evs.iter().filter(|t| t.to == StateKind::Connecting).count()
        // The first attempt starts in Connecting, without a transition into it.
        + 1;
    assert_eq!(attempts, 4, "{evs:#?}");
    assert_eq!(
        failed.reason,
        Some(CloseReason::Io(std::io::ErrorKind::ConnectionRefused))
    );
    assert!(
        done.ops
            .iter()
            .all(|o| matches!(&o.result, Err(e) if !e.was_written())),
        "all unwritten"
    );
    let reasons = format!("{:?}", failed.reason.unwrap());
    done.conclude(
        &server,
        "no: Failed after exactly 4 attempts, as specified",
        reasons,
    )
    .await;
}

/// Scenario 9: Backend down longer than the queue bound allows: beyond the bound, requests get
/// queue-full at once; with fail-fast, every request fails at once; service resumes after.
async fn scenario_9_queue_bound_and_fail_fast(rt: Rt) {
    let server = durable(RedisServer::builder());
    let port = lock(&server).port();
    let limit = 20;
    let fail_fast = rt.client(fast_backoff(tcp(port)).queue_policy(QueuePolicy::FailFast));
    let mut ev_f = fail_fast.events();
    let config = fast_backoff(tcp(port)).queue_limit(limit);
    let mut run = FaultRun::start(
        &rt,
        config,
        "9",
        "down beyond the queue bound (limit 20) / fail-fast",
    )
    .await;
    assert_eq!(
        fail_fast.send(&cmd("PING")).await.unwrap(),
        redwire_client::Value::SimpleString("PONG".into())
    );

    with_server(&server, RedisServer::kill).await;
    rt.wait_state(&mut run.events, StateKind::Reconnecting, PROMPT)
        .await;
    rt.wait_state(&mut ev_f, StateKind::Reconnecting, PROMPT)
        .await;

    // A burst while down: at most `limit` wait (the writers hold a few slots), the rest are
    // refused at once. "At once" is checked without a clock: they are answered while the
    // server is still down.
    let burst: Vec<_> = (0..50)
        .map(|i| {
            run.client
                .send(&cmd("SET").arg(format!("s9:burst:{i}")).arg(i))
        })
        .collect();
    let ff: Vec<_> = (0..10)
        .map(|i| fail_fast.send(&cmd("SET").arg(format!("s9:ff:{i}")).arg(i)))
        .collect();
    let answers = Arc::new(std::sync::Mutex::new(0usize));
    let mut pending = Vec::new();
    for r in burst {
        let (tx, rx) = futures_channel::oneshot::channel();
        let answers = answers.clone();
        drop(rt.spawn(async move {
            let r = r.await;
            let at = Instant::now();
            *answers.lock().unwrap() += 1;
            let _ = tx.send((r, at));
        }));
        pending.push(rx);
    }
    // The refusals need no I/O: wait for them (the queued ones cannot be answered while the
    // server is down). Each answer reaches its task on its own schedule, so a few refusals
    // beyond the first `50 - limit` (the writers hold some slots too) may be seen only later;
    // their answer time shows they too came while the server was down.
    wait_async(&rt, "the queue-full refusals", PROMPT, || {
        *answers.lock().unwrap() >= 50 - limit
    })
    .await;
    let mut full = 0;
    let mut still_pending = Vec::new();
    for mut rx in pending {
        match rx.try_recv() {
            Ok(Some((Err(Error::QueueFull), _))) => full += 1,
            Ok(Some(other)) => panic!("while down, a burst request got {other:?}"),
            _ => still_pending.push(rx),
        }
    }
    let pending = still_pending;
    assert!(
        full >= 50 - limit,
        "{full} refused with queue-full, limit {limit}"
    );
    assert!(
        pending.len() <= limit,
        "{} queued beyond the limit {limit}",
        pending.len()
    );
    for r in ff {
        let e = rt.within("fail-fast answers", PROMPT, r).await.unwrap_err();
        assert!(matches!(e, Error::NotConnected(_)), "{e:?}");
    }
    assert!(
        !with_server(&server, RedisServer::is_running).await,
        "answered while the server was still down"
    );

    let restarting = Instant::now();
    let back = start_again(&server).await;
    for rx in pending {
        let (r, at) = rt
            .within("queued requests after recovery", PROMPT, rx)
            .await
            .expect("answered");
        if matches!(r, Err(Error::QueueFull)) {
            assert!(at < restarting, "refused with queue-full after the restart");
            full += 1;
            continue;
        }
        // A restarted server may still be reading its AOF: the handshake's PING probe is
        // refused with LOADING then, and the requests keep waiting (scenario 10).
        assert!(r.is_ok(), "a queued request failed: {r:?}");
    }
    rt.wait_state(&mut ev_f, StateKind::Connected, PROMPT).await;
    fail_fast
        .send(&cmd("SET").arg("s9:ff:after").arg(1))
        .await
        .expect("fail-fast client works again");
    let done = run
        .recover(back, "acknowledgements after the restart")
        .await;
    let ff_present = lock(&server)
        .command(&["EXISTS", "s9:ff:0", "s9:ff:9"])
        .as_int();
    assert_eq!(
        ff_present,
        Some(0),
        "fail-fast requests were reported unwritten and must not have run"
    );
    let reasons = format!(
        "{}; burst of 50: {full} queue-full; fail-fast: 10/10 NotConnected",
        done.reasons()
    );
    done.conclude(&server, "yes", reasons).await;
    fail_fast.close().await;
}

/// Scenario 10 (beyond the nine of the issue): the server restarts with a dataset that takes
/// about a second to load. Redis accepts connections and `HELLO` while loading and answers data
/// commands (and `PING`) with `LOADING`. The handshake ends with a `PING` probe, so every
/// attempt during loading is a retryable `HandshakeRejected(LOADING)` and the requests wait.
/// Checked: the probe was refused at least once; no request is refused with `LOADING`; every
/// request issued while the client was reconnecting succeeds or fails as never written; every
/// request is answered once, nothing is lost or run twice, service resumes; reported: how many
/// requests were refused with `LOADING` (0).
async fn scenario_10_restart_into_loading(rt: Rt) {
    // 8,000 keys at 125 µs each: about one second of loading.
    // Events are processed every KiB of loaded data, so the server answers (LOADING) while
    // loading instead of looking hung.
    let server = durable(
        RedisServer::builder()
            .config("key-load-delay", &["125"])
            .config("loading-process-events-interval-bytes", &["1024"]),
    );
    let port = with_server(&server, |s| {
        s.command(&["DEBUG", "POPULATE", "8000", "s10:bulk"]);
        // DEBUG POPULATE bypasses the AOF: rewrite it so the restart has the keys to load.
        s.command(&["BGREWRITEAOF"]);
        redwire_e2e::testkit::wait_for("the AOF rewrite", PROMPT, || {
            let info = s.command(&["INFO", "persistence"]).to_string();
            info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
        });
        s.port()
    })
    .await;
    let config = fast_backoff(tcp(port));
    let mut run = FaultRun::start(
        &rt,
        config,
        "10",
        "restart into ~1 s of LOADING (AOF with 8,000 keys)",
    )
    .await;
    with_server(&server, RedisServer::kill).await;
    // From here until the client is connected again, requests are queued, not written.
    let down = run.wait_transport_close("the kill").await.at;
    // Returns once loading is over.
    let back = start_again(&server).await;
    let done = run.recover(back, "acknowledgements after loading").await;
    let loading = done
        .ops
        .iter()
        .filter(
            |o| matches!(&o.result, Err(e) if e.server_code() == Some(&ServerErrorCode::Loading)),
        )
        .count();
    assert_eq!(loading, 0, "requests refused with LOADING");
    let waited: Vec<_> = done.ops.iter().filter(|o| o.issued > down).collect();
    for o in &waited {
        if let Err(e) = &o.result {
            assert!(
                !e.was_written() && e.server_code().is_none(),
                "{:?}, issued while reconnecting, failed with {e:?}",
                o.kind
            );
        }
    }
    let queued_through_loading = waited
        .iter()
        .filter(|o| o.result.is_ok() && o.done >= back)
        .count();
    assert!(
        queued_through_loading > 0,
        "no request waited through the restart and succeeded"
    );
    let probe_refused = done.transitions().iter().any(|t| {
        t.at > down
            && matches!(&t.reason, Some(CloseReason::HandshakeRejected(e)) if e.code == ServerErrorCode::Loading)
    });
    assert!(
        probe_refused,
        "no attempt met the loading server: {:#?}",
        done.transitions()
    );
    assert_eq!(
        lock(&server)
            .command(&["DBSIZE"])
            .as_int()
            .map(|n| n >= 8000),
        Some(true)
    );
    let reasons = format!(
        "{}; requests refused with LOADING: {loading}",
        done.reasons()
    );
    done.conclude(&server, "yes", reasons).await;
}

/// Scenario 11 (beyond the nine of the issue): the connection is reset in the middle of a
/// 64 KiB reply. The request fails as written-then-lost (never with a truncated value), the
/// requests pipelined behind it are answered once each, and the client reconnects.
async fn scenario_11_cut_mid_reply(rt: Rt) {
    let server = durable(RedisServer::builder());
    let big = "v".repeat(64 * 1024);
    lock(&server).command(&["SET", "s11:big", &big]);
    let proxy = Arc::new(FaultProxy::start(lock(&server).addr()));
    let config = fast_backoff(tcp(proxy.port()));
    let mut run = FaultRun::start(
        &rt,
        config,
        "11",
        "connection reset 1,000 bytes into a 64 KiB reply",
    )
    .await;
    run.quiesce().await;

    // 1,000 bytes into the next server-to-client traffic: inside the big reply.
    proxy.cut_after_server_bytes(1000, Cut::Rst);
    let back = Instant::now();
    let get = run.client.send(&cmd("GET").arg("s11:big"));
    let behind: Vec<_> = (0..5)
        .map(|i| run.client.send(&cmd("ECHO").arg(format!("behind-{i}"))))
        .collect();
    let err = rt
        .within("the cut request to fail", PROMPT, get)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ConnectionLost { reason, .. } if is_transport(reason)),
        "a cut reply is a lost connection, never a truncated value: {err:?}"
    );
    let mut behind_lost = 0;
    for (i, r) in behind.into_iter().enumerate() {
        match rt.within("requests behind the cut one", PROMPT, r).await {
            Ok(v) => assert_eq!(
                v,
                redwire_client::Value::BulkString(format!("behind-{i}").into_bytes().into())
            ),
            Err(e) => {
                assert!(matches!(e, Error::ConnectionLost { .. }), "{e:?}");
                behind_lost += 1;
            }
        }
    }
    run.wait_transport_close("the reset").await;
    let done = run
        .recover(back, "acknowledgements after reconnecting")
        .await;
    assert_eq!(
        done.client
            .query::<String>(&cmd("GET").arg("s11:big"))
            .await
            .unwrap(),
        big
    );
    let reasons = format!(
        "{}; cut request: {err:?}; {behind_lost}/5 pipelined behind it lost",
        done.reasons()
    );
    done.conclude(&server, "yes", reasons).await;
}
