//! The one table: absolute figures per client and redwire's advantage over each.

use crate::clients::{BenchResult, Client};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Redwire,
    RedisRs,
    Fred,
    RedisProtocol,
    RedisBenchmark,
}

const COLUMNS: [Column; 5] = [
    Column::Redwire,
    Column::RedisRs,
    Column::Fred,
    Column::RedisProtocol,
    Column::RedisBenchmark,
];

impl From<Client> for Column {
    fn from(c: Client) -> Column {
        match c {
            Client::Redwire => Column::Redwire,
            Client::RedisRs => Column::RedisRs,
            Client::Fred => Column::Fred,
        }
    }
}

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::Redwire => "redwire",
            Column::RedisRs => "redis-rs",
            Column::Fred => "fred",
            Column::RedisProtocol => "redis-protocol",
            Column::RedisBenchmark => "redis-benchmark -c1 -P64",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

pub struct Row {
    name: String,
    unit: &'static str,
    better: Better,
    cells: Vec<(Column, BenchResult<f64>)>,
}

impl Row {
    pub fn set(&mut self, column: Column, value: BenchResult<f64>) {
        self.cells.push((column, value));
    }

    fn get(&self, column: Column) -> Option<&BenchResult<f64>> {
        self.cells
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, v)| v)
    }

    /// How many times better redwire is than `peer` (>1: redwire is better).
    fn advantage(&self, peer: Column) -> Option<f64> {
        let ours = *self.get(Column::Redwire)?.as_ref().ok()?;
        let theirs = *self.get(peer)?.as_ref().ok()?;
        let ratio = match self.better {
            Better::Higher => ours / theirs,
            Better::Lower => theirs / ours,
        };
        ratio.is_finite().then_some(ratio)
    }
}

enum Line {
    Section(String),
    Row(Row),
}

#[derive(Default)]
pub struct Report {
    lines: Vec<Line>,
}

impl Report {
    pub fn section(&mut self, title: &str) {
        self.lines.push(Line::Section(title.to_string()));
    }

    pub fn row(&self, name: String, unit: &'static str, better: Better) -> Row {
        Row {
            name,
            unit,
            better,
            cells: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Row) {
        self.lines.push(Line::Row(row));
    }

    /// A Markdown table, readable as plain text too, followed by the reason of every empty cell.
    pub fn render(&self) -> String {
        let mut header = vec!["benchmark".to_string(), "unit".to_string()];
        header.extend(COLUMNS.iter().map(|c| c.title().to_string()));
        header.extend(
            COLUMNS[1..]
                .iter()
                .map(|c| format!("redwire vs {}", c.title())),
        );
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut notes = Vec::new();
        for line in &self.lines {
            match line {
                Line::Section(title) => {
                    let mut cells = vec![format!("**{title}**")];
                    cells.resize(header.len(), String::new());
                    rows.push(cells);
                }
                Line::Row(row) => {
                    let mut cells = vec![row.name.clone(), row.unit.to_string()];
                    for column in COLUMNS {
                        cells.push(match row.get(column) {
                            None => "-".into(),
                            Some(Ok(v)) => number(*v),
                            Some(Err(e)) => {
                                notes.push(format!("{} / {}: {e}", row.name, column.title()));
                                "n/a".into()
                            }
                        });
                    }
                    for column in &COLUMNS[1..] {
                        cells.push(
                            row.advantage(*column)
                                .map_or("-".into(), |r| format!("{r:.2}x")),
                        );
                    }
                    rows.push(cells);
                }
            }
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .chain([&header])
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let fmt = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}", w = *w))
                .collect();
            format!("| {} |", padded.join(" | "))
        };
        let mut out = String::new();
        out.push_str(&fmt(&header));
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        for row in &rows {
            out.push_str(&fmt(row));
            out.push('\n');
        }
        out.push_str(
            "\n\"redwire vs X\" is how many times better redwire is than X: its rate divided by X's \
             for MB/s and ops/s, X's time or memory divided by redwire's for ns, µs, ms, MiB and KiB. \
             Above 1.00x redwire is faster (or smaller).\n",
        );
        if !notes.is_empty() {
            out.push_str("\nNot measured:\n");
            for note in notes {
                out.push_str(&format!("- {note}\n"));
            }
        }
        out
    }
}

fn number(v: f64) -> String {
    if v >= 10_000.0 {
        // Thousands separators make ops/s readable at a glance.
        let s = format!("{v:.0}");
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The whole of `docs/performance.md`.
pub fn document(table: &str, settings: &str) -> String {
    let machine = machine();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into());
    let revision = revision();
    format!(
        "# Performance\n\n\
         Generated by `scripts/bench` (the `bench/` workspace member, `redwire-bench`); run it again to \
         refresh this page. It starts its own `redis-server` on a free loopback port and measures, in one run \
         on that server:\n\n\
         - **decoders**: redwire's RESP decoder, redis-protocol's (`decode_bytes_mut`, RESP2 or RESP3 as the \
           corpus needs) and redis-rs's (`ValueCodec`, the streaming decoder of its async connections), on the \
           five corpora of the codec issue (`redwire_core::resp::corpus`), each decoded from a `BytesMut` until \
           empty. Corpus 3 is decoded without copying the payloads, so its figure is bounded by the clock, not \
           by memory bandwidth;\n\
         - **end to end**, one connection per client on a current-thread tokio runtime: (a) 64 and 512 tasks \
           sharing one client, each looping `SET`+`GET` of its own key with a 16-byte value (both commands \
           counted), with the heap allocations per operation of the whole process; (b) one spawned task \
           doing sequential `GET`s, each timed, with the three clients connected in the same runtime and \
           taking turns request by request, so a stall of the machine delays each client's requests alike; (c) `SET` then `GET` of a 1 MiB value; (d) one explicit pipeline of \
           10,000 commands (alternating `SET`/`GET`) with all replies collected. The ceiling is \
           `redis-benchmark -c 1 -P 64 -t set,get` against the same server (its requests over the time of both tests: the harmonic mean of its SET and \
           GET rates). \
           (a) with 64 tasks is also run pinned with `taskset`: the server and the clients (and \
           redis-benchmark) on one core, then on two. Left to the scheduler they share a core part of the \
           time, and the placement decides much of a turn's figure: on one core a round trip costs only CPU \
           time, so the clients' own work per operation counts most; on two it also costs two cross-core \
           wake-ups, which cost every client alike. On a virtual machine whose idle vCPUs halt without \
           polling first (the `haltpoll` cpuidle driver with `guest_halt_poll_ns` 0: see the machine line \
           below), each of those wake-ups waits for the host to run the halted vCPU again, and the two-core \
           figures fall to a fraction of the one-core ones; root can let idle vCPUs poll first by writing \
           a time in nanoseconds (such as 200000) to `/sys/module/haltpoll/parameters/guest_halt_poll_ns`, \
           and `scripts/bench --halt-poll-ns 200000` does so for its run alone. \
           Each run of (a) also gives every client's CPU time \
           (user and system, `getrusage`) per operation during its turns, of the whole process, and \
           redis-benchmark's per request, then the user-space part alone: with everything on one core, a \
           turn's throughput is about one over the sum of the server's CPU time per operation and the \
           client's;\n\
         - **memory**: peak resident set (VmHWM) of the process running (a) (one child process per client), and \
           the resident memory added per idle connected client;\n\
         - **recovery**: the server is killed with SIGKILL and restarted on the same port; the figure is the time \
           from the restarted server answering a PING to the client's first successful `GET` (each client retries \
           with the same constant reconnect delay and no jitter, except redis-rs, whose `ConnectionManager` \
           always adds up to one more delay of jitter). The server is probed every 0.5 ms; a figure near 0 means \
           the client had already reconnected (its connection waiting in the listen backlog of the starting \
           server) and its request was answered as soon as the server began serving. A restart lands at a \
           random point of each client's retry period, so one figure lies anywhere from 0 to about one delay \
           (two for redis-rs): compare the medians of many.\n\n\
         Every measurement takes the clients in turns, so a change in the machine's speed (here it drifts by \
         tens of percent within a second) costs every client alike: (a) in turns of a fraction of a second, \
         its figure the median of each client's turns (and of redis-benchmark's, run in the same turns); (b) \
         request by request, in rounds whose samples are pooled; the others in rounds, each client keeping its best. Figures from a busy machine \
         are lower than from an idle one; compare the ratios, and the load average below.\n\n\
         Clients: redwire (this workspace, defaults: RESP3, one multiplexed connection); redis-rs (`redis` \
         crate, `MultiplexedConnection` with its defaults, `ConnectionManager` for recovery); fred (one \
         `Client`, default settings, automatic pipelining).\n\n\
         Settings: {settings}.\n\n\
         Machine: {machine} Load average at the end of the run: {load}. Source: {revision}.\n\n\
         {table}\n\
         ## Profiling\n\n\
         The benchmark binary runs single scenarios for profilers (build with \
         `CARGO_PROFILE_RELEASE_DEBUG=line-tables-only` for source lines):\n\n\
         - `redwire-bench decode redwire|redis-rs|redis-protocol|all CORPUS REPS`: one decoder on one corpus;\n\
         - `redwire-bench child throughput redwire|redis-rs|fred PORT TASKS WARMUP_MS DURATION_MS` against a \
           running server: prints ops/s, peak RSS (KiB), heap allocations per op and the total operations, so \
           `valgrind --tool=callgrind` totals divide into instructions per operation, and `strace -c -f` \
           counts into syscalls per batch;\n\
         - `redwire-bench child throughput-all - PORT TASKS SLICE_MS TURNS REQUESTS`: scenario (a) for every \
           client and redis-benchmark (`-n REQUESTS`) in turns, as in the table: prints their median ops/s, \
           then their median CPU time per operation (ns);\n\
         - `redwire-bench child latency redwire|redis-rs|fred PORT SAMPLES`, or `child latency-all - PORT \
           SAMPLES` for every client taking turns: scenario (b), printing p50 and p99 (µs);\n\
         - `redwire-bench child big|pipeline redwire|redis-rs|fred PORT ROUNDS`: scenario (c) or (d) alone;\n\
         - `redwire-bench child recovery redwire|redis-rs|fred - RESTARTS`: the recovery scenario alone, on a \
           server of its own, printing each restart's figure (ms).\n\n\
         Instruction counts (callgrind) miss what costs most in the request path once the instructions are \
         few: stalls. A struct built one field at a time and then moved at once is read back in wide words \
         that straddle those narrow stores, which the processor cannot forward, so the read waits for the \
         stores to land. A time profile shows them, even on a machine without hardware counters: \
         `perf record -e cpu-clock -F 20000` of `child throughput` with the server and the client pinned to \
         one core, then `perf annotate` (the sample lands on the instruction after the stalled load). \
         Compare the client's user-space samples with its kernel samples (which a change in user space does \
         not touch) rather than timings, which this machine's drift swamps.\n"
    )
}

fn revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(head) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            format!(
                "commit {head}{}",
                if dirty {
                    " with uncommitted changes"
                } else {
                    ""
                }
            )
        }
        None => "unknown revision".into(),
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let redis = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|w| w.strip_prefix("v="))
                .unwrap_or("?")
                .to_string()
        })
        .unwrap_or_else(|_| "?".into());
    let idle = idle().map(|idle| format!(", {idle}")).unwrap_or_default();
    format!("{cpus} CPUs ({model}){idle}, redis-server {redis}.")
}

/// How an idle CPU waits, as far as the kernel says: with the `haltpoll` cpuidle driver (a
/// virtual machine), whether an idle vCPU polls before it halts. When it does not, waking a
/// process on another vCPU waits for the host, which decides the two-core rows of (a).
fn idle() -> Option<String> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let driver = read("/sys/devices/system/cpu/cpuidle/current_driver")?;
    if driver != "haltpoll" {
        return Some(format!("cpuidle driver {driver}"));
    }
    Some(
        match read("/sys/module/haltpoll/parameters/guest_halt_poll_ns").as_deref() {
            Some("0") => "cpuidle driver haltpoll with guest_halt_poll_ns 0 (an idle vCPU halts \
                          at once: waking it waits for the host)"
                .to_string(),
            Some(ns) => format!("cpuidle driver haltpoll with guest_halt_poll_ns {ns}"),
            None => "cpuidle driver haltpoll".to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advantage_is_above_one_when_redwire_is_better() {
        let report = Report::default();
        let mut rate = report.row("rate".into(), "ops/s", Better::Higher);
        rate.set(Column::Redwire, Ok(300.0));
        rate.set(Column::RedisRs, Ok(100.0));
        rate.set(Column::Fred, Err("down".into()));
        assert_eq!(rate.advantage(Column::RedisRs), Some(3.0));
        assert_eq!(rate.advantage(Column::Fred), None);
        assert_eq!(rate.advantage(Column::RedisProtocol), None);

        let mut time = report.row("time".into(), "ms", Better::Lower);
        time.set(Column::Redwire, Ok(2.0));
        time.set(Column::RedisRs, Ok(1.0));
        assert_eq!(time.advantage(Column::RedisRs), Some(0.5));
    }

    #[test]
    fn render_marks_failures_and_explains_them() {
        let mut report = Report::default();
        report.section("Section");
        let mut row = report.row("scenario".into(), "ops/s", Better::Higher);
        row.set(Column::Redwire, Ok(123_456.0));
        row.set(Column::RedisRs, Err("connection refused".into()));
        report.push(row);
        let text = report.render();
        assert!(text.contains("| 123,456 "), "{text}");
        assert!(text.contains("| n/a "), "{text}");
        assert!(
            text.contains("- scenario / redis-rs: connection refused"),
            "{text}"
        );
        assert!(text.contains("**Section**"), "{text}");
    }

    #[test]
    fn numbers_keep_three_significant_digits_or_group_thousands() {
        assert_eq!(number(1_234_567.4), "1,234,567");
        assert_eq!(number(12_345.0), "12,345");
        assert_eq!(number(1234.4), "1234");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1.234), "1.23");
    }
}
