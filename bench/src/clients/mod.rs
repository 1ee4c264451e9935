//! End-to-end scenarios. Every client module (`redwire`, `redis_rs`, `fred`)
//! provides the same functions with the same parameters, so each scenario is
//! one function per client and the drivers below are shared:
//!
//! - `connect(port)` gives a `Conn`, and `throughput(&conn, tasks, warmup, duration)`
//!   has `tasks` tasks share it, each doing `SET`/`GET` of a 16-byte value in a loop;
//! - `set(&conn, key, value)`, `get(&conn, key, len)` and `pipeline(&conn, len)` are
//!   one operation each, which scenarios (b), (c) and (d) time;
//! - `idle(port, n)`: `n` connected clients, kept open (memory per connection);
//! - `recovery(server)`: time to the first successful request after the server
//!   is killed and started again on the same port.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::alloc_count::allocations;
use crate::server::{wait_ready, RedisServer};

pub mod fred;
pub mod redis_rs;
pub mod redwire;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    Redwire,
    RedisRs,
    Fred,
}

impl Client {
    pub const ALL: [Client; 3] = [Client::Redwire, Client::RedisRs, Client::Fred];

    pub fn name(self) -> &'static str {
        match self {
            Client::Redwire => "redwire",
            Client::RedisRs => "redis-rs",
            Client::Fred => "fred",
        }
    }

    pub fn parse(name: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.name() == name)
    }
}

pub type BenchResult<T> = Result<T, String>;

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The 16-byte value of the small-value scenarios.
pub fn small_value() -> Bytes {
    Bytes::from_static(b"0123456789abcdef")
}

pub fn task_key(task: usize) -> String {
    format!("bench:key:{task}")
}

/// Shared state of a throughput run: a stop flag and an operation counter.
#[derive(Clone, Default)]
pub struct Workers {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
}

impl Workers {
    pub fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    pub fn count(&self, ops: u64) {
        self.ops.fetch_add(ops, Ordering::Relaxed);
    }
}

/// What a throughput run measured, after its warm-up.
pub struct Throughput {
    pub ops_per_sec: f64,
    /// Heap allocations in the whole process (client, runtime and workers) per operation.
    pub allocs_per_op: f64,
    /// Every operation of the run, warm-up included (to divide a profiler's totals by).
    pub total_ops: u64,
    /// CPU time of the whole process (user and system) per operation, in nanoseconds.
    pub cpu_ns_per_op: f64,
    /// The user-space part of `cpu_ns_per_op`.
    pub user_ns_per_op: f64,
}

/// Operations per second, measured after a warm-up, over `duration`.
pub async fn run_workers<F, Fut>(
    tasks: usize,
    warmup: Duration,
    duration: Duration,
    make: F,
) -> BenchResult<Throughput>
where
    F: Fn(usize, Workers) -> Fut,
    Fut: Future<Output = BenchResult<()>> + Send + 'static,
{
    let workers = Workers::default();
    let handles: Vec<_> = (0..tasks)
        .map(|i| tokio::spawn(make(i, workers.clone())))
        .collect();
    tokio::time::sleep(warmup).await;
    let (ops0, t0, a0, cpu0) = (
        workers.ops.load(Ordering::Relaxed),
        Instant::now(),
        allocations(),
        crate::cpu::process(),
    );
    tokio::time::sleep(duration).await;
    let (ops1, t1, a1, cpu1) = (
        workers.ops.load(Ordering::Relaxed),
        Instant::now(),
        allocations(),
        crate::cpu::process(),
    );
    workers.stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.map_err(err)??;
    }
    if ops1 == ops0 {
        return Err("no operation completed".into());
    }
    let ops = (ops1 - ops0) as f64;
    let (cpu_ns_per_op, user_ns_per_op) = cpu1.per_op_since(cpu0, ops);
    Ok(Throughput {
        ops_per_sec: ops / (t1 - t0).as_secs_f64(),
        allocs_per_op: (a1 - a0) as f64 / ops,
        total_ops: workers.ops.load(Ordering::Relaxed),
        cpu_ns_per_op,
        user_ns_per_op,
    })
}

/// A `GET` reply of `got` bytes (`None`: nil) where `len` were expected.
pub fn check_len(got: Option<usize>, len: usize) -> BenchResult<()> {
    match got {
        Some(got) if got == len => Ok(()),
        got => Err(format!("GET returned {got:?} bytes, not {len}")),
    }
}

/// A pipeline answered with `got` replies where `len` were expected.
pub fn check_replies(got: usize, len: usize) -> BenchResult<()> {
    (got == len)
        .then_some(())
        .ok_or_else(|| format!("{got} replies to a pipeline of {len}"))
}

/// How long the server stays down in the recovery scenario.
pub const OUTAGE: Duration = Duration::from_millis(300);
/// Reconnect delay given to every client in the recovery scenario (constant, unlimited attempts).
pub const RECONNECT_DELAY: Duration = Duration::from_millis(10);
/// Each probe request's own timeout during recovery, so a request parked in a
/// client's queue does not hide a later one that would succeed.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug)]
pub struct Recovery {
    /// Server ready (answers our own PING) to the client's first successful request.
    pub after_ready: Duration,
}

/// Kills the server, restarts it on the same port after [`OUTAGE`], and measures
/// when `get` first succeeds. `get` is called in a loop throughout (with a 1 ms
/// pause after a failure so the loop does not starve the restarting server).
pub async fn measure_recovery<F, Fut>(server: &mut RedisServer, mut get: F) -> BenchResult<Recovery>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = BenchResult<()>>,
{
    get()
        .await
        .map_err(|e| format!("client not working before the outage: {e}"))?;
    server.kill();
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(15);
    let mut ready_probe: Option<std::thread::JoinHandle<std::io::Result<Instant>>> = None;
    loop {
        if ready_probe.is_none() && killed.elapsed() >= OUTAGE {
            server.restart().map_err(err)?;
            let port = server.port();
            ready_probe = Some(std::thread::spawn(move || {
                wait_ready(port, Duration::from_secs(10))
            }));
        }
        match tokio::time::timeout(PROBE_TIMEOUT, get()).await {
            Ok(Ok(())) if ready_probe.is_some() => break,
            Ok(Ok(())) => return Err("a request succeeded while the server was down".into()),
            _ => tokio::time::sleep(Duration::from_millis(1)).await,
        }
        if Instant::now() > deadline {
            return Err("no successful request within 15 s of the restart".into());
        }
    }
    let success = Instant::now();
    let ready = ready_probe
        .expect("set before any success")
        .join()
        .map_err(|_| "probe panicked")?
        .map_err(err)?;
    Ok(Recovery {
        after_ready: success.saturating_duration_since(ready),
    })
}
