//! A few tasks keep writing while the server is killed and restarted (by `scripts/demo`, or by
//! hand); the connection heals by itself, every transition is printed as it happens, and at the
//! end every write is accounted for: acknowledged, failed with a typed reason (written or not),
//! or lost — checked against what the server holds.
//!
//! ```text
//! cargo run --example demo -- redis://127.0.0.1:6379 [seconds]
//! ```
//!
//! Run it against a server with `appendonly yes` and `appendfsync always`, so acknowledged
//! writes survive `kill -9`; `scripts/demo` does all of this.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redwire::{cmd, ClientConfig, Error, StateKind};

const TASKS: usize = 4;
/// Each task writes about this often (a steady stream, not a benchmark).
const PERIOD: Duration = Duration::from_millis(2);

/// What happened to one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Acked,
    /// Failed, and was written: it may have run.
    FailedWritten,
    /// Failed before being written: it did not run.
    FailedNotWritten,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string());
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(8);

    // Writes give up after 500 ms: during an outage some fail, typed and "not written".
    let config = ClientConfig::from_url(&url)?
        .response_timeout(Some(Duration::from_millis(500)))
        .backoff(redwire::Backoff {
            cap: Duration::from_millis(250),
            ..Default::default()
        });
    // `open` returns at once and connects in the background. On this current-thread runtime
    // the driver has not run yet, so the stream below sees the very first connection too; on
    // a multi-threaded one it may be up already, and `events.state()` says where it starts.
    let start = Instant::now();
    let client = redwire::open(config);
    let mut events = client.events();
    println!(
        "[{:>6.3}s] {:?} (when the event stream was opened)",
        start.elapsed().as_secs_f64(),
        events.state()
    );
    let printer = tokio::spawn(async move {
        while let Some(t) = events.next().await {
            let reason = t
                .reason
                .map(|r| format!(" (reason: {r})"))
                .unwrap_or_default();
            println!(
                "[{:>6.3}s] {:?} -> {:?}, attempt {}{reason}",
                t.at.saturating_duration_since(start).as_secs_f64(),
                t.from,
                t.to,
                t.attempt
            );
        }
    });

    client.send(&cmd("FLUSHDB")).await?;
    println!("writing with {TASKS} tasks for {seconds} s (kill the server meanwhile)...");
    let stop = start + Duration::from_secs(seconds);
    let mut writers = Vec::new();
    for task in 0..TASKS {
        let client = client.clone();
        writers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            let mut tick = tokio::time::interval(PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while Instant::now() < stop {
                tick.tick().await;
                let seq = outcomes.len();
                let write = cmd("SET").arg(format!("demo:{task}:{seq}")).arg(seq as i64);
                let outcome = match client.send(&write).await {
                    Ok(_) => Outcome::Acked,
                    Err(e) => {
                        *reasons.entry(describe(&e)).or_default() += 1;
                        if e.was_written() {
                            Outcome::FailedWritten
                        } else {
                            Outcome::FailedNotWritten
                        }
                    }
                };
                outcomes.push(outcome);
            }
            (outcomes, reasons)
        }));
    }
    let mut per_task = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for w in writers {
        let (outcomes, r) = w.await?;
        per_task.push(outcomes);
        for (k, v) in r {
            *reasons.entry(k).or_default() += v;
        }
    }

    // Check every write against the server: one EXISTS per key, pipelined per task.
    if client.state() != StateKind::Connected {
        println!("waiting for the connection to come back before checking...");
    }
    let (mut acked, mut failed_written, mut failed_not_written) = (0, 0, 0);
    let (mut lost, mut phantom, mut unknown_applied) = (0, 0, 0);
    for (task, outcomes) in per_task.iter().enumerate() {
        let mut check = client.pipeline();
        for seq in 0..outcomes.len() {
            check.push(cmd("EXISTS").arg(format!("demo:{task}:{seq}")));
        }
        let present: Vec<bool> = check.query().await?;
        for (outcome, present) in outcomes.iter().zip(present) {
            match outcome {
                Outcome::Acked => {
                    acked += 1;
                    lost += usize::from(!present);
                }
                Outcome::FailedWritten => {
                    failed_written += 1;
                    unknown_applied += usize::from(present);
                }
                Outcome::FailedNotWritten => {
                    failed_not_written += 1;
                    phantom += usize::from(present);
                }
            }
        }
    }
    let total: usize = per_task.iter().map(Vec::len).sum();
    let held: i64 = client.query(&cmd("DBSIZE")).await?;

    println!();
    println!("writes attempted                        {total:>7}");
    println!("  acknowledged                          {acked:>7}");
    println!("  failed, written (outcome unknown)     {failed_written:>7}  ({unknown_applied} of them ran)");
    println!("  failed, not written                   {failed_not_written:>7}");
    println!("  failure reasons (typed):");
    for (reason, n) in &reasons {
        println!("    {reason:<36}{n:>7}");
    }
    println!("  lost (acknowledged, not on the server){lost:>7}");
    println!("  ran although reported not written     {phantom:>7}");
    println!(
        "server holds {held} keys = {acked} acknowledged + {unknown_applied} written-but-unanswered"
    );

    client.close().await;
    printer.await?;
    let consistent = lost == 0 && phantom == 0 && held as usize == acked + unknown_applied;
    if consistent {
        println!("OK: nothing lost, and the server holds exactly what was acknowledged.");
        Ok(())
    } else {
        Err("writes were lost or miscounted".into())
    }
}

/// A short, typed description of a failure (from the error's variant, not its message).
fn describe(e: &Error) -> String {
    match e {
        Error::Timeout { written } => format!("Timeout {{ written: {written} }}"),
        Error::ConnectionLost { reason, .. } => format!("ConnectionLost({reason:?})"),
        Error::Failed(reason) => format!("Failed({reason:?})"),
        Error::NotConnected(reason) => format!("NotConnected({reason:?})"),
        Error::Server(e) => format!("Server({})", e.code),
        other => format!("{other:?}"),
    }
}
