//! `redwire-bench`: redwire against redis-rs, fred and redis-protocol, in one run,
//! on one redis-server this program starts on a free loopback port.
//!
//! Run it through `scripts/bench`, which builds it in release mode and writes
//! the table to `docs/performance.md`. Every end-to-end scenario uses one
//! connection on a current-thread tokio runtime. The throughput and memory runs
//! happen in child processes (this binary re-invoked with `child ...`) so that
//! each client's peak resident memory is its own.
//!
//! `redwire-bench decode PARSER CORPUS REPS` runs one decoder on one corpus, for
//! profiling (`perf record`, `valgrind --tool=callgrind`).

mod alloc_count;
mod clients;
mod corpus;
mod cpu;
mod decoders;
mod report;
mod server;

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clients::{BenchResult, Client};
use report::{Better, Column, Report};
use server::RedisServer;

struct Settings {
    decode_reps: usize,
    /// Rounds of scenarios (b)-(d), the clients taking turns in each; each client keeps its
    /// best round.
    rounds: usize,
    /// Warm-up and length of the separate run of (a) per client that measures memory and
    /// allocations.
    warmup: Duration,
    duration: Duration,
    /// Slices of (a) per client, the clients and the ceiling taking turns, and their length.
    slices: usize,
    slice: Duration,
    latency_samples: usize,
    big_rounds: usize,
    pipeline_rounds: usize,
    idle_connections: usize,
    recovery_reps: usize,
    /// `redis-benchmark -n` of each turn of (a) (SET, then GET).
    benchmark_requests: usize,
}

impl Settings {
    fn full() -> Settings {
        Settings {
            decode_reps: 7,
            rounds: 4,
            warmup: Duration::from_millis(300),
            duration: Duration::from_millis(1000),
            slices: 12,
            slice: Duration::from_millis(300),
            latency_samples: 10_000,
            big_rounds: 50,
            pipeline_rounds: 10,
            idle_connections: 1000,
            // Each restart lands at a random point of the clients' retry period, so one
            // restart's figure is spread over the whole delay: the median needs many.
            recovery_reps: 15,
            // redis-benchmark times each test in whole milliseconds: at a million requests
            // per second, 50,000 requests are 50 ms, a 2 % step; 150,000 make it under 1 %.
            benchmark_requests: 150_000,
        }
    }

    fn quick() -> Settings {
        Settings {
            decode_reps: 2,
            rounds: 1,
            warmup: Duration::from_millis(200),
            duration: Duration::from_millis(800),
            slices: 3,
            slice: Duration::from_millis(200),
            latency_samples: 3_000,
            big_rounds: 10,
            pipeline_rounds: 3,
            idle_connections: 200,
            recovery_reps: 1,
            benchmark_requests: 20_000,
        }
    }
}

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

const BIG_VALUE: usize = 1 << 20;
const PIPELINE_LEN: usize = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        match child(&args[1..]) {
            Ok(line) => println!("RESULT {line}"),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if args.first().map(String::as_str) == Some("decode") {
        // `decode PARSER CORPUS REPS`: one decoder (or `all`, as in the full run)
        // on one corpus, for profilers.
        let parsers: Vec<decoders::Parser> = match args.get(1).map(String::as_str) {
            Some("redwire") => vec![decoders::Parser::Redwire],
            Some("redis-rs") => vec![decoders::Parser::RedisRs],
            Some("redis-protocol") => vec![decoders::Parser::RedisProtocol],
            Some("all") => decoders::Parser::ALL.to_vec(),
            _ => {
                eprintln!(
                    "usage: redwire-bench decode redwire|redis-rs|redis-protocol|all 1..5 REPS"
                );
                std::process::exit(2);
            }
        };
        let index: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
        let reps: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20);
        let corpus = corpus::one(index);
        let best = decode_interleaved(&corpus, &parsers, reps);
        for parser in parsers {
            match best.get(parser) {
                Ok(mb) => println!("{} {parser:?}: {mb:.1} MB/s", corpus.name),
                Err(e) => eprintln!("{parser:?}: {e}"),
            }
        }
        return;
    }
    let mut out = None;
    let mut settings = Settings::full();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => settings = Settings::quick(),
            "--out" => out = it.next().cloned(),
            other => {
                eprintln!(
                    "usage: redwire-bench [--quick] [--out FILE]  (unknown argument {other:?})"
                );
                std::process::exit(2);
            }
        }
    }
    // The redwire decoder or client may be unfinished in a given checkout: its
    // panics are reported as "n/a" cells, not printed as crashes.
    std::panic::set_hook(Box::new(|_| {}));
    if let Err(e) = run(&settings, out.as_deref()) {
        eprintln!("redwire-bench: {e}");
        std::process::exit(1);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The key scenario (b) reads.
const LATENCY_KEY: &str = "bench:key:0";
/// The key of scenario (c).
const BIG_KEY: &str = "bench:big";

/// One timed operation of scenarios (b)-(d).
#[derive(Clone)]
enum Op {
    /// (b): `GET` of a 16-byte value.
    Get,
    /// (c): `SET` then `GET` of this value.
    Big(Bytes),
    /// (d): an explicit pipeline of this many commands.
    Pipeline(usize),
}

impl Op {
    /// Untimed operations before the timed ones.
    fn warmup(&self) -> usize {
        match self {
            Op::Get => 200,
            Op::Big(_) | Op::Pipeline(_) => 2,
        }
    }
}

/// A connection of any client.
enum Conn {
    Redwire(clients::redwire::Conn),
    RedisRs(clients::redis_rs::Conn),
    Fred(clients::fred::Conn),
}

impl Conn {
    async fn connect(client: Client, port: u16) -> BenchResult<Conn> {
        Ok(match client {
            Client::Redwire => Conn::Redwire(clients::redwire::connect(port).await?),
            Client::RedisRs => Conn::RedisRs(clients::redis_rs::connect(port).await?),
            Client::Fred => Conn::Fred(clients::fred::connect(port).await?),
        })
    }

    async fn throughput(
        &self,
        tasks: usize,
        warmup: Duration,
        duration: Duration,
    ) -> BenchResult<clients::Throughput> {
        match self {
            Conn::Redwire(c) => clients::redwire::throughput(c, tasks, warmup, duration).await,
            Conn::RedisRs(c) => clients::redis_rs::throughput(c, tasks, warmup, duration).await,
            Conn::Fred(c) => clients::fred::throughput(c, tasks, warmup, duration).await,
        }
    }

    async fn set(&self, key: &str, value: Bytes) -> BenchResult<()> {
        match self {
            Conn::Redwire(c) => clients::redwire::set(c, key, value).await,
            Conn::RedisRs(c) => clients::redis_rs::set(c, key, value).await,
            Conn::Fred(c) => clients::fred::set(c, key, value).await,
        }
    }

    async fn get(&self, key: &str, len: usize) -> BenchResult<()> {
        match self {
            Conn::Redwire(c) => clients::redwire::get(c, key, len).await,
            Conn::RedisRs(c) => clients::redis_rs::get(c, key, len).await,
            Conn::Fred(c) => clients::fred::get(c, key, len).await,
        }
    }

    /// What `op` needs on the server before it runs.
    async fn prepare(&self, op: &Op) -> BenchResult<()> {
        match op {
            Op::Get => self.set(LATENCY_KEY, clients::small_value()).await,
            Op::Big(_) | Op::Pipeline(_) => Ok(()),
        }
    }

    async fn run(&self, op: &Op) -> BenchResult<()> {
        match op {
            Op::Get => self.get(LATENCY_KEY, clients::small_value().len()).await,
            Op::Big(value) => {
                self.set(BIG_KEY, value.clone()).await?;
                self.get(BIG_KEY, value.len()).await
            }
            Op::Pipeline(len) => match self {
                Conn::Redwire(c) => clients::redwire::pipeline(c, *len).await,
                Conn::RedisRs(c) => clients::redis_rs::pipeline(c, *len).await,
                Conn::Fred(c) => clients::fred::pipeline(c, *len).await,
            },
        }
    }
}

/// Warm-up of each slice of (a): the connection is already warm, the tasks only start.
const SLICE_WARMUP: Duration = Duration::from_millis(50);

/// Scenario (a) for every client and the ceiling, in slices that take turns: each client
/// connected once in one runtime, then `slices` times each client's `tasks` tasks for `slice`
/// (the first of each turn rotating) and `redis-benchmark -n requests`. Returns each one's
/// median ops/s, the clients' in [`Client::ALL`] order, then the ceiling's; then, in the same
/// order, each one's median CPU time per operation in nanoseconds (of this process during a
/// client's turn, of the redis-benchmark process for the ceiling), then its user-space part.
/// A ceiling turn's rate is redis-benchmark's requests over its time ([`redis_benchmark`]).
///
/// The machine's speed drifts by tens of percent within a second here: runs of a few seconds
/// one client after the other compared whichever stretch each happened to get, and a
/// client's best of four such runs was 1.34x another's in one full run and 0.97x in the next.
/// Turns of a fraction of a second give every client the same stretches, many times over.
fn throughput_slices(
    port: u16,
    tasks: usize,
    slice: Duration,
    slices: usize,
    requests: usize,
) -> BenchResult<Vec<f64>> {
    let rt = runtime();
    let conns = rt.block_on(async {
        let mut conns = Vec::new();
        for client in Client::ALL {
            conns.push(Conn::connect(client, port).await?);
        }
        BenchResult::Ok(conns)
    })?;
    let n = conns.len();
    let mut rates = vec![Vec::new(); n + 1];
    let mut cpu_ns = vec![Vec::new(); n + 1];
    let mut user_ns = vec![Vec::new(); n + 1];
    for turn in 0..slices {
        for k in 0..n {
            let i = (turn + k) % n;
            let t = rt.block_on(conns[i].throughput(tasks, SLICE_WARMUP, slice))?;
            rates[i].push(t.ops_per_sec);
            cpu_ns[i].push(t.cpu_ns_per_op);
            user_ns[i].push(t.user_ns_per_op);
        }
        let before = cpu::children();
        rates[n].push(redis_benchmark(port, requests)?);
        // `-t set,get -n requests` makes `requests` of each.
        let (cpu, user) = cpu::children().per_op_since(before, (2 * requests) as f64);
        cpu_ns[n].push(cpu);
        user_ns[n].push(user);
    }
    Ok(rates
        .into_iter()
        .chain(cpu_ns)
        .chain(user_ns)
        .map(median)
        .collect())
}

/// Where a pinned run of (a) puts the server and the benchmark's child process (the clients
/// and redis-benchmark, which it starts).
#[derive(Clone, Copy)]
struct Placement {
    name: &'static str,
    server: &'static str,
    clients: &'static str,
}

impl Placement {
    /// Left to the scheduler, the server and the clients share a core some of the time and
    /// not at other times (sampled here: a third of the time apart), and which one a turn gets
    /// decides much of its figure: on one core a round trip costs CPU time only, on two it
    /// costs two cross-core wake-ups, several times longer on this machine. So (a) is also
    /// run in each placement, pinned.
    const ALL: [Placement; 2] = [
        Placement {
            name: "server and clients on one core",
            server: "0",
            clients: "0",
        },
        Placement {
            name: "server on one core, clients on another",
            server: "0",
            clients: "1",
        },
    ];
}

/// (a) with 64 tasks, like [`throughput_slices`], with the server and the child process pinned
/// as `placement` says (with `taskset`); the server may use every core again afterwards.
fn throughput_placed(
    server: &RedisServer,
    placement: Placement,
    s: &Settings,
) -> BenchResult<Vec<f64>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return Err("needs 2 cores".into());
    }
    let pid = server.pid().ok_or("server not running")?;
    pin(pid, placement.server)?;
    let result = throughput_all(Some(placement.clients), server.port(), 64, s);
    pin(pid, &format!("0-{}", cores - 1))?;
    result
}

/// The `throughput-all` child (see [`throughput_slices`]), pinned to `cpus` when given: each
/// client's median ops/s, then the ceiling's, then the same for CPU time per operation (ns) and
/// for its user-space part.
fn throughput_all(
    cpus: Option<&str>,
    port: u16,
    tasks: usize,
    s: &Settings,
) -> BenchResult<Vec<f64>> {
    spawn_child_on(
        cpus,
        &[
            "throughput-all",
            "-",
            &port.to_string(),
            &tasks.to_string(),
            &s.slice.as_millis().to_string(),
            &s.slices.to_string(),
            &s.benchmark_requests.to_string(),
        ],
    )
    .and_then(|f| {
        (0..3 * (Client::ALL.len() + 1))
            .map(|k| parse(&f, k))
            .collect()
    })
}

/// Pins every thread of process `pid` to `cpus` (a `taskset` list).
fn pin(pid: u32, cpus: &str) -> BenchResult<()> {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("taskset: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("taskset -a -p -c {cpus} {pid} failed"))
    }
}

/// Adds a round's samples of `client` to `pooled`: every successful round's samples count; a
/// client with none keeps the error of its last failed round.
fn pool(
    pooled: &mut Vec<(Client, BenchResult<Vec<Duration>>)>,
    client: Client,
    round: BenchResult<Vec<Duration>>,
) {
    let Some(entry) = pooled.iter_mut().find(|(c, _)| *c == client) else {
        pooled.push((client, round));
        return;
    };
    match (&mut entry.1, round) {
        (Ok(all), Ok(mut more)) => all.append(&mut more),
        (Ok(_), Err(_)) => {}
        (failed @ Err(_), round) => *failed = round,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Times `samples` runs of `op` per client after [`Op::warmup`] untimed ones: every client of
/// `clients` connected in one runtime, the clients taking turns operation by operation (the
/// first of each turn rotating). A stall of the machine then delays every client alike, where
/// clients timed one after the other would each meet different stalls; timed that way, the p99
/// of (b), which the stalls decide, swung by 2x between runs, and the median of (d) put one
/// client ahead of another by 15 % in one run and behind by 3 % in the next. A client that
/// fails is left out of the remaining turns.
///
/// The loop runs as a spawned task, as application code does, not as the `block_on` future: a
/// `block_on` future woken by another task makes the runtime check for I/O events (one more
/// `epoll_wait`) before polling it, a cost of the harness that every client would pay on every
/// request.
fn turns(
    clients: &[Client],
    port: u16,
    op: Op,
    samples: usize,
) -> Vec<(Client, BenchResult<Vec<Duration>>)> {
    let chosen = clients.to_vec();
    let clients = chosen.clone();
    let timed = runtime().block_on(async move {
        let task = tokio::spawn(async move {
            let mut each = Vec::new();
            for client in clients {
                let conn = match Conn::connect(client, port).await {
                    Ok(conn) => conn.prepare(&op).await.map(|()| conn),
                    Err(e) => Err(e),
                };
                each.push((client, conn, Ok(Vec::with_capacity(samples))));
            }
            let n = each.len();
            for turn in 0..op.warmup() + samples {
                for k in 0..n {
                    let (_, conn, times) = &mut each[(turn + k) % n];
                    let (Ok(conn), Ok(list)) = (conn.as_ref(), times.as_mut()) else {
                        continue;
                    };
                    let start = Instant::now();
                    match conn.run(&op).await {
                        Ok(()) if turn >= op.warmup() => list.push(start.elapsed()),
                        Ok(()) => {}
                        Err(e) => *times = Err(e),
                    }
                }
            }
            each.into_iter()
                .map(|(client, conn, times)| (client, conn.and(times)))
                .collect::<Vec<_>>()
        });
        task.await.map_err(|e| format!("timing task: {e}"))
    });
    match timed {
        Ok(each) => each,
        Err(e) => chosen.into_iter().map(|c| (c, Err(e.clone()))).collect(),
    }
}

/// One restart of the recovery scenario for one client, on a fresh runtime: the time from the
/// server being ready to the client's first successful request. The server is ready again
/// when this returns, whatever happened.
fn recovery(client: Client, server: &mut RedisServer) -> BenchResult<Duration> {
    let result = runtime().block_on(async {
        match client {
            Client::Redwire => clients::redwire::recovery(server).await,
            Client::RedisRs => clients::redis_rs::recovery(server).await,
            Client::Fred => clients::fred::recovery(server).await,
        }
    });
    server
        .wait_ready(Duration::from_secs(10))
        .map_err(|e| format!("redis-server after recovery: {e}"))?;
    result.map(|r| r.after_ready)
}

/// The best result of several rounds, per client (or column).
///
/// The machine is shared and its load changes during a run, so every
/// measurement is repeated in rounds that interleave the clients, and each
/// client keeps its best round: a burst of load then costs every client alike
/// instead of whichever happened to be running.
struct Best<K: PartialEq + Copy> {
    better: Better,
    results: Vec<(K, BenchResult<f64>)>,
}

impl<K: PartialEq + Copy> Best<K> {
    fn new(better: Better) -> Self {
        Best {
            better,
            results: Vec::new(),
        }
    }

    fn add(&mut self, key: K, result: BenchResult<f64>) {
        let Some(slot) = self.results.iter_mut().find(|(k, _)| *k == key) else {
            self.results.push((key, result));
            return;
        };
        slot.1 = match (slot.1.clone(), result) {
            (Ok(a), Ok(b)) => Ok(match self.better {
                Better::Higher => a.max(b),
                Better::Lower => a.min(b),
            }),
            (Ok(a), Err(_)) | (Err(_), Ok(a)) => Ok(a),
            (Err(e), Err(_)) => Err(e),
        };
    }

    fn get(&self, key: K) -> BenchResult<f64> {
        self.results
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| Err("not run".into()))
    }

    fn fill(&self, row: &mut report::Row, to_column: impl Fn(K) -> Column) {
        for (key, result) in &self.results {
            row.set(to_column(*key), result.clone());
        }
    }
}

/// Each parser's best MB/s on `corpus` over `reps` runs, the parsers taking turns.
fn decode_interleaved(
    corpus: &corpus::Corpus,
    parsers: &[decoders::Parser],
    reps: usize,
) -> Best<decoders::Parser> {
    let mut best = Best::new(Better::Higher);
    let working: Vec<_> = parsers
        .iter()
        .copied()
        .filter(|&p| match decoders::check(p, corpus) {
            Ok(()) => true,
            Err(e) => {
                best.add(p, Err(e));
                false
            }
        })
        .collect();
    for _ in 0..reps {
        for &parser in &working {
            let result = decoders::time_once(parser, corpus).map(|t| decoders::mb_per_s(corpus, t));
            best.add(parser, result);
        }
    }
    best
}

fn parser_column(parser: decoders::Parser) -> Column {
    match parser {
        decoders::Parser::Redwire => Column::Redwire,
        decoders::Parser::RedisRs => Column::RedisRs,
        decoders::Parser::RedisProtocol => Column::RedisProtocol,
    }
}

fn run(s: &Settings, out: Option<&str>) -> BenchResult<()> {
    let mut server = RedisServer::start().map_err(|e| format!("starting redis-server: {e}"))?;
    let port = server.port();
    let mut report = Report::default();

    eprintln!("decoders...");
    report.section(&format!(
        "Decoder throughput (best of {} interleaved runs)",
        s.decode_reps
    ));
    for index in 1..=corpus::COUNT {
        // One at a time: the 64 MiB corpora are not all kept in memory at once.
        let corpus = corpus::one(index);
        let best = decode_interleaved(&corpus, &decoders::Parser::ALL, s.decode_reps);
        let mut row = report.row(format!("decode {}", corpus.name), "MB/s", Better::Higher);
        best.fill(&mut row, parser_column);
        report.push(row);
    }

    report.section(&format!(
        "End to end: one connection, current-thread tokio runtime ((a): median of {} turns; \
         (b): all samples of {} interleaved rounds; (c), (d): best of them)",
        s.slices, s.rounds
    ));
    const TASKS: [usize; 2] = [64, 512];
    // Each row of (a)'s ops/s: its name, then the clients' figures and the ceiling's.
    let mut ops: Vec<(String, BenchResult<Vec<f64>>)> = Vec::new();
    let mut allocs = [Best::new(Better::Lower), Best::new(Better::Lower)];
    let mut peaks = [Best::new(Better::Lower), Best::new(Better::Lower)];
    for (i, tasks) in TASKS.into_iter().enumerate() {
        eprintln!("throughput, {tasks} tasks: clients and redis-benchmark taking turns...");
        server.flushall();
        ops.push((
            format!("(a) {tasks} tasks SET/GET 16 B"),
            throughput_all(None, port, tasks, s),
        ));
        eprintln!("throughput, {tasks} tasks: memory and allocations, one process per client...");
        for client in Client::ALL {
            server.flushall();
            let result = spawn_child(&[
                "throughput",
                client.name(),
                &port.to_string(),
                &tasks.to_string(),
                &s.warmup.as_millis().to_string(),
                &s.duration.as_millis().to_string(),
            ])
            .and_then(|f| Ok((parse(&f, 1)?, parse(&f, 2)?)));
            peaks[i].add(client, result.clone().map(|r| r.0 / 1024.0));
            allocs[i].add(client, result.map(|r| r.1));
        }
    }

    // (a) with 64 tasks again, the server and the child process pinned to cores.
    for placement in Placement::ALL {
        eprintln!("throughput, 64 tasks, {}...", placement.name);
        server.flushall();
        ops.push((
            format!("(a) 64 tasks, {}", placement.name),
            throughput_placed(&server, placement, s),
        ));
    }

    // (b)'s percentiles are of every round's samples pooled: the best round's p99 of each
    // client would be the luckiest tail of four, which moved a few percent either way from
    // one full run to the next.
    let mut latencies: Vec<(Client, BenchResult<Vec<Duration>>)> = Vec::new();
    let mut big = Best::new(Better::Lower);
    let mut pipe = Best::new(Better::Lower);
    for round in 1..=s.rounds {
        eprintln!("round {round}: latency, 1 MiB values, pipeline...");
        for (client, all) in turns(&Client::ALL, port, Op::Get, s.latency_samples) {
            pool(&mut latencies, client, all);
        }
        let big_value = Bytes::from(vec![b'x'; BIG_VALUE]);
        for (client, all) in turns(&Client::ALL, port, Op::Big(big_value), s.big_rounds) {
            big.add(client, all.map(|v| millis(percentile(v, 0.50))));
        }
        server.flushall();
        let op = Op::Pipeline(PIPELINE_LEN);
        for (client, all) in turns(&Client::ALL, port, op, s.pipeline_rounds) {
            pipe.add(client, all.map(|v| millis(percentile(v, 0.50))));
        }
    }
    let mut p50 = Best::new(Better::Lower);
    let mut p99 = Best::new(Better::Lower);
    for (client, all) in latencies {
        p50.add(client, all.clone().map(|v| micros(percentile(v, 0.50))));
        p99.add(client, all.map(|v| micros(percentile(v, 0.99))));
    }
    // Each run of (a) gives a row of ops/s and, after all of those, two of CPU time per op (all
    // of it, and user space alone).
    let width = Client::ALL.len() + 1;
    let (mut rates, mut cpu_times) = (Vec::new(), Vec::new());
    for (name, figures) in ops {
        let row_at = |title: String, unit, better, offset: usize| {
            let mut row = report.row(title, unit, better);
            let columns = Client::ALL.into_iter().map(Column::from);
            for (k, column) in columns.chain([Column::RedisBenchmark]).enumerate() {
                row.set(column, figures.clone().map(|m| m[offset + k]));
            }
            row
        };
        let cpu_name = format!("{name}: CPU time per op");
        cpu_times.push(row_at(cpu_name, "ns", Better::Lower, width));
        let user_name = format!("{name}: of which user space");
        cpu_times.push(row_at(user_name, "ns", Better::Lower, 2 * width));
        rates.push(row_at(name, "ops/s", Better::Higher, 0));
    }
    for row in rates.into_iter().chain(cpu_times) {
        report.push(row);
    }
    for (i, tasks) in TASKS.into_iter().enumerate() {
        let mut row = report.row(
            format!("(a) {tasks} tasks: heap allocations"),
            "per op",
            Better::Lower,
        );
        allocs[i].fill(&mut row, Column::from);
        report.push(row);
    }
    for (name, unit, best) in [
        ("(b) sequential GET, p50", "µs", &p50),
        ("(b) sequential GET, p99", "µs", &p99),
        ("(c) 1 MiB SET + GET, median round", "ms", &big),
        ("(d) pipeline of 10,000 SET/GET, median", "ms", &pipe),
    ] {
        let mut row = report.row(name.into(), unit, Better::Lower);
        best.fill(&mut row, Column::from);
        report.push(row);
    }

    report.section("Memory");
    for (i, tasks) in TASKS.into_iter().enumerate() {
        let mut row = report.row(
            format!("peak RSS of (a) with {tasks} tasks"),
            "MiB",
            Better::Lower,
        );
        peaks[i].fill(&mut row, Column::from);
        report.push(row);
    }
    eprintln!("idle connections...");
    let mut idle = report.row(
        format!("idle connection ({} open)", s.idle_connections),
        "KiB each",
        Better::Lower,
    );
    for client in Client::ALL {
        let result = spawn_child(&[
            "idle",
            client.name(),
            &port.to_string(),
            &s.idle_connections.to_string(),
        ])
        .and_then(|fields| parse(&fields, 0))
        .map(|bytes| bytes / 1024.0);
        idle.set(client.into(), result);
    }
    report.push(idle);

    report.section("Recovery");
    eprintln!("recovery...");
    let mut times: Vec<(Client, BenchResult<Vec<Duration>>)> = Client::ALL
        .into_iter()
        .map(|c| (c, Ok(Vec::new())))
        .collect();
    for _ in 0..s.recovery_reps {
        for (client, acc) in times.iter_mut() {
            match (recovery(*client, &mut server), acc.as_mut()) {
                (Ok(r), Ok(list)) => list.push(r),
                (Err(e), _) => *acc = Err(e),
                (Ok(_), Err(_)) => {}
            }
        }
    }
    let mut rec = report.row(
        format!(
            "server restart: ready -> first reply, median of {}",
            s.recovery_reps
        ),
        "ms",
        Better::Lower,
    );
    for (client, acc) in times {
        rec.set(
            client.into(),
            acc.map(|list| millis(percentile(list, 0.50))),
        );
    }
    report.push(rec);

    let table = report.render();
    println!("{table}");
    if let Some(path) = out {
        let doc = report::document(&table, &settings_text(s));
        std::fs::write(path, doc).map_err(|e| format!("writing {path}: {e}"))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

fn settings_text(s: &Settings) -> String {
    format!(
        "throughput (a): {} turns, each giving every client {} ms ({} ms start-up first) and \
         redis-benchmark -n {}, the clients connected once in one process and the first of each \
         turn rotating; memory and allocations of (a): one process per client, {} ms warm-up then \
         {} ms; latency: {} timed GETs per client per round, the clients taking turns request by \
         request ({} untimed first); 1 MiB: {} rounds; pipeline: {} rounds; idle: {} connections; \
         recovery: {} restart(s), server down {} ms, reconnect delay {} ms (constant, unlimited \
         attempts) for every client, probe timeout {} ms; redis-benchmark: -d 16",
        s.slices,
        s.slice.as_millis(),
        SLICE_WARMUP.as_millis(),
        s.benchmark_requests,
        s.warmup.as_millis(),
        s.duration.as_millis(),
        s.latency_samples,
        Op::Get.warmup(),
        s.big_rounds,
        s.pipeline_rounds,
        s.idle_connections,
        s.recovery_reps,
        clients::OUTAGE.as_millis(),
        clients::RECONNECT_DELAY.as_millis(),
        clients::PROBE_TIMEOUT.as_millis(),
    )
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(mut samples: Vec<Duration>, q: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[index.min(samples.len() - 1)]
}

fn parse(fields: &[String], i: usize) -> BenchResult<f64> {
    fields
        .get(i)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("bad child output {fields:?}"))
}

/// Re-invokes this binary as `child <args>` and returns the fields of its `RESULT` line.
fn spawn_child(args: &[&str]) -> BenchResult<Vec<String>> {
    spawn_child_on(None, args)
}

/// [`spawn_child`], pinned to `cpus` (a `taskset` list) when given.
fn spawn_child_on(cpus: Option<&str>, args: &[&str]) -> BenchResult<Vec<String>> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let output = command
        .arg("child")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) {
        Some(line) if output.status.success() => {
            Ok(line.split_whitespace().map(String::from).collect())
        }
        _ => Err(String::from_utf8_lossy(&output.stderr)
            .trim()
            .lines()
            .last()
            .unwrap_or("child failed")
            .to_string()),
    }
}

/// A child process, printing `RESULT` and its figures:
/// - `throughput CLIENT PORT TASKS WARMUP_MS DURATION_MS`: one run of (a), printing ops/s, peak
///   RSS in KiB, allocations per op and the total operations done;
/// - `throughput-all - PORT TASKS SLICE_MS TURNS REQUESTS`: (a) for every client and
///   redis-benchmark in turns ([`throughput_slices`]), printing their median ops/s, then their
///   median CPU time per operation (ns), then its user-space part;
/// - `latency|big|pipeline CLIENT|all PORT SAMPLES`: (b), (c) or (d) ([`turns`]), printing
///   `client p50 p99` (µs) for (b) and `client median` (ms) for the others; `latency-all - PORT
///   SAMPLES` is `latency all PORT SAMPLES`;
/// - `idle CLIENT PORT N`: resident bytes per idle connection;
/// - `recovery CLIENT - RESTARTS`: each restart's ready -> first reply time (ms), on a server
///   of its own.
fn child(args: &[String]) -> BenchResult<String> {
    let arg = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}"))
    };
    let num = |i: usize| arg(i)?.parse::<u64>().map_err(|e| e.to_string());
    // `latency-all` and `throughput-all` take every client (their client argument is ignored).
    let client = match (arg(0)?, arg(1)?) {
        ("latency-all" | "throughput-all", _) | (_, "all") => Client::Redwire,
        (_, name) => Client::parse(name).ok_or("unknown client")?,
    };
    // `recovery` starts a server of its own (its port argument is ignored).
    let port = match arg(0)? {
        "recovery" => 0,
        _ => num(2)? as u16,
    };
    match arg(0)? {
        "throughput" => {
            let (tasks, warmup, duration) = (
                num(3)? as usize,
                Duration::from_millis(num(4)?),
                Duration::from_millis(num(5)?),
            );
            let t = runtime().block_on(async {
                let conn = Conn::connect(client, port).await?;
                conn.throughput(tasks, warmup, duration).await
            })?;
            Ok(format!(
                "{:.0} {} {:.2} {}",
                t.ops_per_sec,
                proc_status_kib("VmHWM:")?,
                t.allocs_per_op,
                t.total_ops
            ))
        }
        "throughput-all" => {
            // `throughput-all - PORT TASKS SLICE_MS SLICES REQUESTS`: scenario (a) for every
            // client and redis-benchmark in turns; prints their median ops/s, then their
            // median CPU time per operation (ns), then its user-space part.
            let medians = throughput_slices(
                port,
                num(3)? as usize,
                Duration::from_millis(num(4)?),
                num(5)?.max(1) as usize,
                num(6)? as usize,
            )?;
            Ok(medians
                .iter()
                .map(|m| format!("{m:.0}"))
                .collect::<Vec<_>>()
                .join(" "))
        }
        "latency" | "latency-all" | "big" | "pipeline" => {
            // `latency CLIENT PORT SAMPLES`, `big CLIENT PORT ROUNDS`, `pipeline CLIENT PORT
            // ROUNDS`: scenario (b), (c) or (d) for one client alone, for profilers (or with
            // `all` for CLIENT, every client taking turns as in the report); `latency-all - PORT
            // SAMPLES` is `latency all PORT SAMPLES`. Prints `client p50 p99` (µs) for (b),
            // `client median` (ms) for the others.
            let op = match arg(0)? {
                "big" => Op::Big(Bytes::from(vec![b'x'; BIG_VALUE])),
                "pipeline" => Op::Pipeline(PIPELINE_LEN),
                _ => Op::Get,
            };
            let chosen = match arg(1)? {
                "all" | "-" => Client::ALL.to_vec(),
                _ => vec![client],
            };
            let mut out = Vec::new();
            for (client, times) in turns(&chosen, port, op.clone(), num(3)? as usize) {
                let times = times?;
                out.push(match op {
                    Op::Get => format!(
                        "{} {:.1} {:.1}",
                        client.name(),
                        micros(percentile(times.clone(), 0.50)),
                        micros(percentile(times, 0.99))
                    ),
                    _ => format!("{} {:.3}", client.name(), millis(percentile(times, 0.50))),
                });
            }
            Ok(out.join(" "))
        }
        "idle" => {
            let n = num(3)? as usize;
            let rt = runtime();
            rt.block_on(async {
                let open = |n| async move {
                    match client {
                        Client::Redwire => clients::redwire::idle(port, n).await,
                        Client::RedisRs => clients::redis_rs::idle(port, n).await,
                        Client::Fred => clients::fred::idle(port, n).await,
                    }
                };
                // One connection first, so code pages and the runtime's own
                // allocations are in the baseline, not in the per-connection cost.
                let _first = open(1).await?;
                let before = proc_status_kib("VmRSS:")?;
                let _all = open(n).await?;
                // Let each client's per-connection tasks run their setup.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let after = proc_status_kib("VmRSS:")?;
                Ok(format!("{:.0}", (after - before) * 1024.0 / n as f64))
            })
        }
        "recovery" => {
            // `recovery CLIENT - REPS`: the restart scenario alone, on a server of its own;
            // prints each restart's ready -> first reply time in ms.
            let mut server =
                RedisServer::start().map_err(|e| format!("starting redis-server: {e}"))?;
            let mut times = Vec::new();
            for _ in 0..num(3)? {
                let after_ready = recovery(client, &mut server)?;
                times.push(format!("{:.2}", millis(after_ready)));
            }
            Ok(times.join(" "))
        }
        other => Err(format!("unknown child mode {other}")),
    }
}

fn proc_status_kib(field: &str) -> BenchResult<f64> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}

/// `redis-benchmark -c 1 -P 64 -t set,get`: the rate of its whole run (SETs and GETs over the
/// time of both), the most one connection can carry on this server.
fn redis_benchmark(port: u16, requests: usize) -> BenchResult<f64> {
    // A run that ends without its two results (seen once in many: it stopped during the SET
    // test) is run again rather than leaving a whole row of the table unmeasured.
    let mut last_error = String::new();
    for _ in 0..3 {
        match redis_benchmark_once(port, requests) {
            Ok(rate) => return Ok(rate),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

fn redis_benchmark_once(port: u16, requests: usize) -> BenchResult<f64> {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", "1", "-P", "64", "-t", "set,get", "-q", "-d", "16"])
        .args(["-n", &requests.to_string()])
        .output()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).replace('\r', "\n");
    let rates: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("SET:") || l.starts_with("GET:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    if rates.len() != 2 {
        return Err(format!(
            "unexpected redis-benchmark output ({}): {text:?}, stderr {:?}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // As many SETs as GETs: the rate of the whole run is requests over the time of both,
    // the harmonic mean of the two rates (their plain mean would overstate it).
    Ok(2.0 / (1.0 / rates[0] + 1.0 / rates[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_picks_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        assert_eq!(percentile(samples.clone(), 0.50), Duration::from_micros(51));
        assert_eq!(percentile(samples.clone(), 0.99), Duration::from_micros(99));
        assert_eq!(percentile(samples, 1.0), Duration::from_micros(100));
    }

    #[test]
    fn pooled_rounds_keep_every_successful_sample() {
        let ms = Duration::from_millis;
        let mut pooled = Vec::new();
        pool(&mut pooled, Client::Redwire, Ok(vec![ms(1), ms(2)]));
        pool(&mut pooled, Client::Fred, Err("refused".into()));
        pool(&mut pooled, Client::Redwire, Err("stalled".into()));
        pool(&mut pooled, Client::Redwire, Ok(vec![ms(3)]));
        pool(&mut pooled, Client::Fred, Err("refused again".into()));
        assert_eq!(pooled.len(), 2);
        let redwire = &pooled
            .iter()
            .find(|(c, _)| *c == Client::Redwire)
            .unwrap()
            .1;
        assert_eq!(redwire, &Ok(vec![ms(1), ms(2), ms(3)]));
        let fred = &pooled.iter().find(|(c, _)| *c == Client::Fred).unwrap().1;
        assert_eq!(fred, &Err("refused again".to_string()));
        pool(&mut pooled, Client::Fred, Ok(vec![ms(4)]));
        let fred = &pooled.iter().find(|(c, _)| *c == Client::Fred).unwrap().1;
        assert_eq!(fred, &Ok(vec![ms(4)]));
    }

    #[test]
    fn best_keeps_the_better_round_and_any_success() {
        let mut faster = Best::new(Better::Higher);
        faster.add(Client::Fred, Ok(2.0));
        faster.add(Client::Fred, Ok(5.0));
        faster.add(Client::Fred, Err("stalled".into()));
        assert_eq!(faster.get(Client::Fred), Ok(5.0));

        let mut smaller = Best::new(Better::Lower);
        smaller.add(Client::Redwire, Err("first round failed".into()));
        smaller.add(Client::Redwire, Ok(3.0));
        smaller.add(Client::Redwire, Ok(7.0));
        assert_eq!(smaller.get(Client::Redwire), Ok(3.0));

        let mut failing = Best::new(Better::Lower);
        failing.add(Client::RedisRs, Err("refused".into()));
        failing.add(Client::RedisRs, Err("refused again".into()));
        assert_eq!(failing.get(Client::RedisRs), Err("refused".into()));
        assert!(failing.get(Client::Fred).is_err());
    }

    #[test]
    fn every_parser_decodes_every_frame_of_the_small_corpora() {
        // `run` itself checks the frame count and that nothing is left over.
        for index in [1, 2, 4] {
            let corpus = corpus::one(index);
            for parser in decoders::Parser::ALL {
                decoders::check(parser, &corpus)
                    .unwrap_or_else(|e| panic!("{parser:?} on {}: {e}", corpus.name));
            }
        }
    }
}
