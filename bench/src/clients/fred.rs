//! fred: one `Client` (one connection, its default settings, automatic
//! pipelining on) for every scenario; recovery uses a constant reconnect policy.

use std::any::Any;
use std::time::Duration;

use bytes::Bytes;
use fred::prelude::*;
use fred::types::Value;

use super::{
    check_len, check_replies, err, measure_recovery, run_workers, small_value, task_key,
    BenchResult, Recovery, Throughput,
};
use crate::server::RedisServer;

async fn connect_with(port: u16, policy: Option<ReconnectPolicy>) -> BenchResult<Client> {
    let config = Config::from_url(&format!("redis://127.0.0.1:{port}")).map_err(err)?;
    let mut builder = Builder::from_config(config);
    if let Some(policy) = policy {
        builder.set_policy(policy);
    }
    let client = builder.build().map_err(err)?;
    client.init().await.map_err(err)?;
    Ok(client)
}

pub async fn connect(port: u16) -> BenchResult<Client> {
    connect_with(port, None).await
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
                    .set::<(), _, _>(key.as_str(), value.clone(), None, None, false)
                    .await
                    .map_err(err)?;
                let got: Option<Bytes> = client.get(key.as_str()).await.map_err(err)?;
                if got.as_ref() != Some(&value) {
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
    conn.set::<(), _, _>(key, value, None, None, false)
        .await
        .map_err(err)
}

/// `GET key`, whose value must be `len` bytes long.
pub async fn get(conn: &Conn, key: &str, len: usize) -> BenchResult<()> {
    let got: Option<Bytes> = conn.get(key).await.map_err(err)?;
    check_len(got.as_deref().map(<[u8]>::len), len)
}

/// One explicit pipeline of `len` commands, `SET` and `GET` alternating.
pub async fn pipeline(conn: &Conn, len: usize) -> BenchResult<()> {
    let value = small_value();
    let pipe = conn.pipeline();
    for i in 0..len {
        let key = task_key(i % 1000);
        if i % 2 == 0 {
            pipe.set::<(), _, _>(key, value.clone(), None, None, false)
                .await
                .map_err(err)?;
        } else {
            pipe.get::<(), _>(key).await.map_err(err)?;
        }
    }
    let replies: Vec<Value> = pipe.all().await.map_err(err)?;
    check_replies(replies.len(), len)
}

pub async fn idle(port: u16, n: usize) -> BenchResult<Box<dyn Any>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(connect(port).await?);
    }
    Ok(Box::new(clients))
}

/// `ReconnectPolicy::Constant` with [`super::RECONNECT_DELAY`], no jitter and unlimited attempts.
pub async fn recovery(server: &mut RedisServer) -> BenchResult<Recovery> {
    let delay_ms = super::RECONNECT_DELAY.as_millis() as u32;
    let mut policy = ReconnectPolicy::new_constant(0, delay_ms);
    // fred adds up to 100 ms of random jitter by default; redwire is given none either.
    policy.set_jitter(0);
    let client = connect_with(server.port(), Some(policy)).await?;
    measure_recovery(server, || {
        let client = &client;
        async move {
            client
                .get::<Option<Bytes>, _>("bench:recovery")
                .await
                .map(drop)
                .map_err(err)
        }
    })
    .await
}
