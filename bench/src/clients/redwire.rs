//! redwire: one `Client` (one multiplexed connection, default settings) on the
//! tokio runtime for every scenario.

use std::any::Any;
use std::time::Duration;

use bytes::Bytes;
use redwire::{cmd, Backoff, Client, ClientConfig, Payload, Value};

use super::{
    check_len, check_replies, err, measure_recovery, run_workers, small_value, task_key,
    BenchResult, Recovery, Throughput,
};
use crate::server::RedisServer;

async fn connect_with(config: ClientConfig) -> BenchResult<Client> {
    redwire::tokio::connect_with(config).await.map_err(err)
}

pub async fn connect(port: u16) -> BenchResult<Client> {
    connect_with(ClientConfig::tcp("127.0.0.1", port)).await
}

/// The handle scenario (a) shares between its tasks.
pub type Conn = Client;

/// Scenario (a) on `conn`: `tasks` tasks doing `SET`/`GET` of their own key.
pub async fn throughput(
    conn: &Conn,
    tasks: usize,
    warmup: Duration,
    duration: Duration,
) -> BenchResult<Throughput> {
    run_workers(tasks, warmup, duration, |task, workers| {
        let client = conn.clone();
        let key = task_key(task);
        let value = small_value();
        async move {
            while workers.running() {
                client
                    .send_owned(cmd("SET").arg(key.as_str()).arg(&value[..]))
                    .await
                    .map_err(err)?;
                let got: Option<Payload> = client
                    .query_owned(cmd("GET").arg(key.as_str()))
                    .await
                    .map_err(err)?;
                if got.as_deref() != Some(&value[..]) {
                    return Err(format!("GET {key} returned {got:?}"));
                }
                workers.count(2);
            }
            Ok(())
        }
    })
    .await
}

/// `SET key value`.
pub async fn set(conn: &Conn, key: &str, value: Bytes) -> BenchResult<()> {
    conn.send_owned(cmd("SET").arg(key).arg(value))
        .await
        .map(drop)
        .map_err(err)
}

/// `GET key`, whose value must be `len` bytes long.
pub async fn get(conn: &Conn, key: &str, len: usize) -> BenchResult<()> {
    let got: Option<Payload> = conn.query_owned(cmd("GET").arg(key)).await.map_err(err)?;
    check_len(got.as_deref().map(<[u8]>::len), len)
}

/// One explicit pipeline of `len` commands, `SET` and `GET` alternating.
pub async fn pipeline(conn: &Conn, len: usize) -> BenchResult<()> {
    let value = small_value();
    let mut pipe = conn.pipeline();
    for i in 0..len {
        let key = task_key(i % 1000);
        if i % 2 == 0 {
            pipe.push(cmd("SET").arg(key).arg(value.clone()));
        } else {
            pipe.push(cmd("GET").arg(key));
        }
    }
    let replies: Vec<Value> = pipe.send().await.map_err(err)?;
    check_replies(replies.len(), len)
}

pub async fn idle(port: u16, n: usize) -> BenchResult<Box<dyn Any>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(connect(port).await?);
    }
    Ok(Box::new(clients))
}

/// A constant backoff of [`super::RECONNECT_DELAY`] (factor 1, no jitter), unlimited attempts.
pub async fn recovery(server: &mut RedisServer) -> BenchResult<Recovery> {
    let delay = super::RECONNECT_DELAY;
    let config = ClientConfig::tcp("127.0.0.1", server.port()).backoff(Backoff {
        base: delay,
        factor: 1.0,
        cap: delay,
        jitter: 0.0,
        max_attempts: None,
        ..Backoff::default()
    });
    let client = connect_with(config).await?;
    measure_recovery(server, || {
        let client = &client;
        async move {
            client
                .query_owned::<Option<Bytes>>(cmd("GET").arg("bench:recovery"))
                .await
                .map(drop)
                .map_err(err)
        }
    })
    .await
}
