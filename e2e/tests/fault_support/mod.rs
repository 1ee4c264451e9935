//! Support for the fault-injection suite: the writer that runs through every scenario, the
//! ledger of what each request was told, the check against what the server holds, and the
//! summary line; and, in `run`, the skeleton every scenario shares ([`FaultRun`]).
//!
//! "Nothing lost" is checked like this. Each writer round issues `SET <unique key>`,
//! `INCR <counter>` and `ECHO <unique token>` (pipelined) and records every answer. At the end:
//! - every acknowledged `SET` key is on the server (else: lost);
//! - no `SET` reported as never written is on the server (else: phantom);
//! - `acknowledged INCRs <= counter <= acknowledged + unknown-outcome INCRs` (else: lost, or
//!   run twice);
//! - every `ECHO` that succeeded returned its own token and every `SET`/`INCR` that succeeded
//!   returned a reply of its own shape (else: a reply was delivered to the wrong request).

#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use redwire_client::{cmd, Backoff, Client, ClientConfig, Error, Transition, Value};
use redwire_e2e::testkit::{RedisBuilder, RedisServer, Reply};
use redwire_e2e::Rt;

mod run;
pub use run::*;

/// Environment variable naming a file to which each scenario appends its machine-readable
/// summary line (used by `scripts/reliability`).
pub const SUMMARY_ENV: &str = "REDWIRE_RELIABILITY_OUT";

/// The runtime this test runs on, from the test's name (`on_tokio::...`).
pub fn runtime_name() -> String {
    let name = std::thread::current().name().unwrap_or("").to_string();
    let module = name.split("::").next().unwrap_or("");
    module
        .strip_prefix("on_")
        .unwrap_or(module)
        .replace('_', "-")
}

/// Runs blocking test-support code (killing, restarting, polling a server) on its own thread,
/// so the runtime under test (possibly a single thread shared with the client's driver) keeps
/// running meanwhile.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.expect("blocking helper panicked")
}

/// Waits `d` on the runtime under test.
pub async fn sleep(rt: &Rt, d: Duration) {
    let runtime = rt.runtime();
    let mut timer = runtime.new_timer(runtime.now() + d);
    std::future::poll_fn(|cx| timer.as_mut().poll(cx)).await
}

/// Polls `cond` every few milliseconds until it holds; panics with `what` after `limit`.
pub async fn wait_async(rt: &Rt, what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        sleep(rt, Duration::from_millis(2)).await;
    }
}

/// A server shared between the scenario and blocking helpers.
pub type Server = Arc<Mutex<RedisServer>>;

/// A redis-server whose acknowledged writes survive `kill -9` (AOF, fsync before every reply),
/// so "every acknowledged write is there" can be checked across restarts.
pub fn durable(builder: RedisBuilder) -> Server {
    shared(
        builder
            .config("appendonly", &["yes"])
            .config("appendfsync", &["always"])
            .start(),
    )
}

/// Shares `server` between the scenario and blocking helpers.
pub fn shared(server: RedisServer) -> Server {
    Arc::new(Mutex::new(server))
}

/// Locks the shared server.
pub fn lock(s: &Server) -> std::sync::MutexGuard<'_, RedisServer> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fast reconnects, for scenarios that do not measure the defaults.
pub fn fast_backoff(config: ClientConfig) -> ClientConfig {
    config.backoff(Backoff {
        base: Duration::from_millis(10),
        factor: 2.0,
        cap: Duration::from_millis(200),
        jitter: 0.5,
        max_attempts: None,
        healthy_after: Duration::from_secs(10),
    })
}

/// Collects every transition of a client, in the background.
pub fn collect_events(rt: &Rt, client: &Client) -> Arc<Mutex<Vec<Transition>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut events = client.events();
    let s = seen.clone();
    drop(rt.spawn(async move {
        while let Some(t) = events.next().await {
            s.lock().unwrap().push(t);
        }
    }));
    seen
}

/// What one request was.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `SET key value`.
    Set(String),
    /// `INCR counter`.
    Incr,
    /// `ECHO token`.
    Echo(String),
}

/// One request and its answer.
#[derive(Debug)]
pub struct Op {
    /// Which request.
    pub kind: Kind,
    /// When it was issued.
    pub issued: Instant,
    /// When its answer was seen.
    pub done: Instant,
    /// The answer.
    pub result: Result<Value, Error>,
}

/// Controls and progress of the writers.
#[derive(Debug, Default)]
pub struct WriterCtl {
    stop: AtomicBool,
    paused: AtomicBool,
    /// Rounds in progress (a round is issued and not yet fully answered).
    busy: AtomicUsize,
    /// Requests answered with success.
    pub acks: AtomicUsize,
    /// Requests answered.
    pub answered: AtomicUsize,
}

/// The writers of one scenario.
pub struct Writers {
    /// Controls and progress.
    pub ctl: Arc<WriterCtl>,
    handles: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Op>> + Send>>>,
    /// Key prefix of this scenario run.
    pub prefix: String,
}

impl Writers {
    /// Starts `n` writers on `client`, each issuing a round every `pace`.
    pub fn start(rt: &Rt, client: &Client, scenario: &str, n: usize, pace: Duration) -> Writers {
        let prefix = format!("{scenario}:{}", runtime_name());
        let ctl = Arc::new(WriterCtl::default());
        let mut handles: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Op>> + Send>>> =
            Vec::new();
        for w in 0..n {
            let (client, ctl, prefix, rt2) =
                (client.clone(), ctl.clone(), prefix.clone(), rt.clone());
            handles.push(Box::pin(rt.spawn(async move {
                writer(rt2, client, ctl, prefix, w, pace).await
            })));
        }
        Writers {
            ctl,
            handles,
            prefix,
        }
    }

    /// The counter every writer increments.
    pub fn counter_key(&self) -> String {
        format!("{}:counter", self.prefix)
    }

    /// Stops issuing new rounds (rounds in progress finish).
    pub fn pause(&self) {
        self.ctl.paused.store(true, Ordering::SeqCst);
    }

    /// Issues rounds again.
    pub fn resume(&self) {
        self.ctl.paused.store(false, Ordering::SeqCst);
    }

    /// Whether no round is in progress.
    pub fn idle(&self) -> bool {
        self.ctl.busy.load(Ordering::SeqCst) == 0
    }

    /// Requests answered with success so far.
    pub fn acks(&self) -> usize {
        self.ctl.acks.load(Ordering::SeqCst)
    }

    /// Waits until `more` further requests have succeeded.
    pub async fn wait_acks(&self, rt: &Rt, more: usize, limit: Duration, what: &str) {
        let target = self.acks() + more;
        wait_async(rt, what, limit, || self.acks() >= target).await;
    }

    /// Stops the writers and returns every request they made with its answer. Panics if a
    /// request is still unanswered after `limit` (a request must never hang).
    pub async fn finish(self, rt: &Rt, limit: Duration) -> Vec<Op> {
        self.ctl.stop.store(true, Ordering::SeqCst);
        let mut all = Vec::new();
        for h in self.handles {
            all.extend(
                rt.within("every writer request to be answered", limit, h)
                    .await,
            );
        }
        all
    }
}

async fn writer(
    rt: Rt,
    client: Client,
    ctl: Arc<WriterCtl>,
    prefix: String,
    w: usize,
    pace: Duration,
) -> Vec<Op> {
    let counter = format!("{prefix}:counter");
    let mut ops = Vec::new();
    let mut i = 0u64;
    while !ctl.stop.load(Ordering::SeqCst) {
        if ctl.paused.load(Ordering::SeqCst) {
            sleep(&rt, Duration::from_millis(2)).await;
            continue;
        }
        i += 1;
        ctl.busy.fetch_add(1, Ordering::SeqCst);
        let key = format!("{prefix}:w{w}:{i}");
        let token = format!("echo:{w}:{i}");
        let issued = Instant::now();
        // Issued together, so they are pipelined and several requests are in flight at a fault.
        let set = client.send(&cmd("SET").arg(key.as_str()).arg(i as i64));
        let incr = client.send(&cmd("INCR").arg(counter.as_str()));
        let echo = client.send(&cmd("ECHO").arg(token.as_str()));
        for (kind, reply) in [
            (Kind::Set(key), set),
            (Kind::Incr, incr),
            (Kind::Echo(token), echo),
        ] {
            let result = reply.await;
            if result.is_ok() {
                ctl.acks.fetch_add(1, Ordering::SeqCst);
            }
            ctl.answered.fetch_add(1, Ordering::SeqCst);
            ops.push(Op {
                kind,
                issued,
                done: Instant::now(),
                result,
            });
        }
        ctl.busy.fetch_sub(1, Ordering::SeqCst);
        // Pacing, not synchronisation: keeps the load moderate on a small machine.
        sleep(&rt, pace).await;
    }
    ops
}

/// What the server holds compared with what the client said.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Requests answered with success.
    pub acknowledged: usize,
    /// Failed with an error saying the request was never written.
    pub failed_unwritten: usize,
    /// Failed after being written (outcome unknown).
    pub failed_unknown: usize,
    /// Answered with a server error reply (e.g. `LOADING`): the server refused to run it.
    pub server_errors: usize,
    /// Acknowledged writes missing from the server.
    pub lost: usize,
    /// Writes reported as never written but present on the server.
    pub phantom: usize,
    /// Counter increments beyond acknowledged + unknown (a request run twice).
    pub duplicated: usize,
    /// Successful replies that belong to another request.
    pub wrong_replies: usize,
    /// Descriptions of the first few violations.
    pub problems: Vec<String>,
}

impl Tally {
    fn problem(&mut self, p: String) {
        if self.problems.len() < 10 {
            self.problems.push(p);
        }
    }

    /// Asserts nothing was lost, duplicated, invented or misdelivered, and that few requests
    /// were left with an unknown outcome (at most what was in flight at each fault).
    #[track_caller]
    pub fn assert_clean(&self) {
        assert!(
            self.failed_unknown <= 50,
            "too many unknown outcomes: {self:#?}"
        );
        assert!(
            self.lost == 0 && self.phantom == 0 && self.duplicated == 0 && self.wrong_replies == 0,
            "reliability violated: {self:#?}"
        );
    }
}

/// Compares `ops` with what `server` holds under `prefix`.
pub fn check(server: &RedisServer, prefix: &str, ops: &[Op]) -> Tally {
    let mut t = Tally::default();
    let present: HashSet<String> = match server.command(&["KEYS", &format!("{prefix}:w*")]) {
        Reply::Array(items) => items.iter().filter_map(Reply::as_str).collect(),
        other => panic!("KEYS: {other}"),
    };
    let counter = server
        .command(&["GET", &format!("{prefix}:counter")])
        .as_int()
        .unwrap_or(0)
        .max(0) as usize;
    let (mut incr_acked, mut incr_unknown) = (0usize, 0usize);
    let mut incr_values = HashSet::new();
    for op in ops {
        match &op.result {
            Ok(v) => {
                t.acknowledged += 1;
                let shape_ok = match (&op.kind, v) {
                    (Kind::Set(_), Value::SimpleString(s)) => &s[..] == b"OK",
                    (Kind::Incr, Value::Integer(n)) => {
                        incr_acked += 1;
                        // Each INCR returns a distinct value: a repeat means a reply reused.
                        incr_values.insert(*n)
                    }
                    (Kind::Echo(token), Value::BulkString(b)) => &b[..] == token.as_bytes(),
                    _ => false,
                };
                if !shape_ok {
                    t.wrong_replies += 1;
                    t.problem(format!("{:?} got {v:?}", op.kind));
                }
                if let Kind::Set(k) = &op.kind {
                    if !present.contains(k) {
                        t.lost += 1;
                        t.problem(format!("acknowledged SET {k} missing"));
                    }
                }
            }
            Err(Error::Server(e)) => {
                // The server answered and refused: known not to have run.
                t.server_errors += 1;
                if let Kind::Set(k) = &op.kind {
                    if present.contains(k) {
                        t.phantom += 1;
                        t.problem(format!("SET {k} refused ({e:?}) but present"));
                    }
                }
            }
            Err(e) if e.was_written() => {
                t.failed_unknown += 1;
                if matches!(op.kind, Kind::Incr) {
                    incr_unknown += 1;
                }
            }
            Err(e) => {
                t.failed_unwritten += 1;
                if let Kind::Set(k) = &op.kind {
                    if present.contains(k) {
                        t.phantom += 1;
                        t.problem(format!("SET {k} reported unwritten ({e:?}) but present"));
                    }
                }
            }
        }
    }
    if counter < incr_acked {
        t.lost += incr_acked - counter;
        t.problem(format!(
            "counter {counter} < {incr_acked} acknowledged INCRs"
        ));
    }
    if counter > incr_acked + incr_unknown {
        t.duplicated += counter - incr_acked - incr_unknown;
        t.problem(format!(
            "counter {counter} > {incr_acked} acknowledged + {incr_unknown} unknown INCRs"
        ));
    }
    t
}

/// Time from `back` (the server reachable again) to the first success answered after it.
pub fn time_to_recover(ops: &[Op], back: Instant) -> Option<Duration> {
    ops.iter()
        .filter(|o| o.result.is_ok() && o.done >= back)
        .map(|o| o.done - back)
        .min()
}

/// Requests issued after the first success following `back` that failed anyway.
pub fn failures_after_recovery(ops: &[Op], back: Instant) -> Vec<String> {
    let Some(first) = ops
        .iter()
        .filter(|o| o.result.is_ok() && o.done >= back)
        .map(|o| o.done)
        .min()
    else {
        return Vec::new();
    };
    ops.iter()
        .filter(|o| o.issued > first)
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|e| format!("{:?}: {e:?}", o.kind))
        })
        .collect()
}

/// One scenario's result, printed as one line (and appended to `$REDWIRE_RELIABILITY_OUT`).
#[derive(Debug)]
pub struct Summary<'a> {
    /// Scenario id, e.g. `1`.
    pub id: &'a str,
    /// Short title.
    pub title: &'a str,
    /// Whether service came back (or the expected terminal outcome happened).
    pub recovered: &'a str,
    /// Time from the server reachable again to the first success.
    pub ttr: Option<Duration>,
    /// The typed reasons observed (close reasons, request errors).
    pub reasons: String,
    /// The tally.
    pub tally: &'a Tally,
}

impl Summary<'_> {
    /// Prints the summary line and appends its machine-readable form to the summary file.
    pub fn emit(&self) {
        let t = self.tally;
        let ttr = self
            .ttr
            .map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0))
            .unwrap_or_else(|| "-".into());
        println!(
            "scenario {} [{}] {}: recovered={} time_to_recover_ms={} acknowledged={} failed_unwritten={} \
             failed_unknown={} server_errors={} lost={} phantom={} duplicated={} wrong_replies={} reasons={}",
            self.id,
            runtime_name(),
            self.title,
            self.recovered,
            ttr,
            t.acknowledged,
            t.failed_unwritten,
            t.failed_unknown,
            t.server_errors,
            t.lost,
            t.phantom,
            t.duplicated,
            t.wrong_replies,
            self.reasons
        );
        if let Some(path) = std::env::var_os(SUMMARY_ENV) {
            let mut line = String::new();
            let fields: [(&str, String); 14] = [
                ("id", self.id.into()),
                ("runtime", runtime_name()),
                ("title", self.title.into()),
                ("recovered", self.recovered.into()),
                ("ttr_ms", ttr),
                ("acknowledged", t.acknowledged.to_string()),
                ("failed_unwritten", t.failed_unwritten.to_string()),
                ("failed_unknown", t.failed_unknown.to_string()),
                ("server_errors", t.server_errors.to_string()),
                ("lost", t.lost.to_string()),
                ("phantom", t.phantom.to_string()),
                ("duplicated", t.duplicated.to_string()),
                ("wrong_replies", t.wrong_replies.to_string()),
                ("reasons", self.reasons.clone()),
            ];
            line.push_str("RELIABILITY");
            for (k, v) in fields {
                let _ = write!(line, "\t{k}={}", v.replace(['\t', '\n'], " "));
            }
            line.push('\n');
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open summary file");
            f.write_all(line.as_bytes()).expect("write summary line");
        }
    }
}

/// Short, stable text for a close reason list (deduplicated, in order).
pub fn reasons_of(events: &[Transition]) -> String {
    let mut out: Vec<String> = Vec::new();
    for t in events {
        if let Some(r) = &t.reason {
            let s = format!("{:?}->{:?}:{r:?}", t.from, t.to);
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out.join("; ")
}
