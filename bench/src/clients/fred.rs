//! fred: one `Client` (one connection, its default settings, automatic
//! pipelining on) for every scenario; recovery uses a constant reconnect policy.

use std::any::Any;
use std::time::Duration;

use bytes::Bytes;
use fred::prelude::*;
use fred::types::Value;

use super::{
    err, measure_recovery, run_workers, small_value, task_key, time_each, BenchResult, Recovery,
    Throughput,
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

/// A connection for scenario (b), its key set: one `GET` per [`Getter::get`].
pub struct Getter {
    client: Client,
    key: String,
}

impl Getter {
    pub async fn connect(port: u16) -> BenchResult<Getter> {
        let client = connect(port).await?;
        let key = task_key(0);
        client
            .set::<(), _, _>(key.as_str(), small_value(), None, None, false)
            .await
            .map_err(err)?;
        Ok(Getter { client, key })
    }

    pub async fn get(&self) -> BenchResult<()> {
        let got: Option<Bytes> = self.client.get(self.key.as_str()).await.map_err(err)?;
        got.map(drop).ok_or_else(|| "missing value".to_string())
    }
}

pub async fn latency(port: u16, warmup: usize, samples: usize) -> BenchResult<Vec<Duration>> {
    let getter = Getter::connect(port).await?;
    time_each(warmup, samples, || getter.get()).await
}

pub async fn big_values(port: u16, size: usize, rounds: usize) -> BenchResult<Vec<Duration>> {
    let client = connect(port).await?;
    let value = Bytes::from(vec![b'x'; size]);
    time_each(2, rounds, || {
        let (client, value) = (&client, value.clone());
        async move {
            client
                .set::<(), _, _>("bench:big", value, None, None, false)
                .await
                .map_err(err)?;
            let got: Bytes = client.get("bench:big").await.map_err(err)?;
            (got.len() == size)
                .then_some(())
                .ok_or_else(|| format!("got {} bytes", got.len()))
        }
    })
    .await
}

pub async fn pipeline(port: u16, len: usize, rounds: usize) -> BenchResult<Vec<Duration>> {
    let client = connect(port).await?;
    let value = small_value();
    time_each(2, rounds, || {
        let (client, value) = (&client, value.clone());
        async move {
            let pipe = client.pipeline();
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
            (replies.len() == len)
                .then_some(())
                .ok_or_else(|| format!("{} replies", replies.len()))
        }
    })
    .await
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
