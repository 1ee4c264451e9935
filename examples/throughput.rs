//! Prints how many commands per second one client sustains with N tasks sharing it, on each
//! runtime (a quick look, not a benchmark suite: `scripts/bench` compares against other
//! clients).
//!
//! ```text
//! cargo run --release --all-features --example throughput -- redis://127.0.0.1:6379 [tasks] [seconds]
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redwire::{cmd, Client, ClientConfig, Runtime};

async fn run(
    runtime: Arc<dyn Runtime>,
    config: ClientConfig,
    tasks: usize,
    seconds: u64,
) -> Result<f64, redwire::Error> {
    let client = Client::connect(runtime.clone(), config).await?;
    let ops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, mut done_rx) = futures_channel::mpsc::unbounded::<Result<(), redwire::Error>>();
    for task in 0..tasks {
        let (client, ops, stop, done) =
            (client.clone(), ops.clone(), stop.clone(), done_tx.clone());
        runtime.spawn(Box::pin(async move {
            let key = format!("throughput:{task}");
            let result = async {
                while !stop.load(Ordering::Relaxed) {
                    client.send(&cmd("SET").arg(&key).arg("value")).await?;
                    let _: Option<String> = client.query(&cmd("GET").arg(&key)).await?;
                    ops.fetch_add(2, Ordering::Relaxed);
                }
                Ok(())
            }
            .await;
            let _ = done.unbounded_send(result);
        }));
    }
    drop(done_tx);
    // Measure on the runtime's own timer so every runtime is timed the same way.
    let wait = |d: Duration| {
        let mut timer = runtime.new_timer(runtime.now() + d);
        std::future::poll_fn(move |cx| timer.as_mut().poll(cx))
    };
    wait(Duration::from_millis(300)).await;
    let (start, before) = (Instant::now(), ops.load(Ordering::Relaxed));
    wait(Duration::from_secs(seconds)).await;
    let rate = (ops.load(Ordering::Relaxed) - before) as f64 / start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    while let Some(result) = std::future::poll_fn(|cx| {
        futures_core::Stream::poll_next(std::pin::Pin::new(&mut done_rx), cx)
    })
    .await
    {
        result?;
    }
    client.close().await;
    Ok(rate)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let tasks: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(64);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2);
    let config = ClientConfig::from_url(&url)?;

    let tokio_rate = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(
            Arc::new(redwire::tokio::TokioRuntime),
            config.clone(),
            tasks,
            seconds,
        ))?;
    println!("tokio (current thread): {tasks:>4} tasks {tokio_rate:>10.0} commands/s");
    let smol_rate = smol::block_on(run(
        Arc::new(redwire::smol::SmolRuntime),
        config.clone(),
        tasks,
        seconds,
    ))?;
    println!("smol:                   {tasks:>4} tasks {smol_rate:>10.0} commands/s");
    let async_std_rate = async_std::task::block_on(run(
        Arc::new(redwire::async_std::AsyncStdRuntime),
        config,
        tasks,
        seconds,
    ))?;
    println!("async-std:              {tasks:>4} tasks {async_std_rate:>10.0} commands/s");
    Ok(())
}
