//! redwire: one `Client` (one multiplexed connection, default settings) on the
//! tokio runtime for every scenario.

use std::any::Any;
use std::time::Duration;

use bytes::Bytes;
use redwire::{cmd, Backoff, Client, ClientConfig, Payload, Value};

use super::{
    err, measure_recovery, run_workers, small_value, task_key, time_each, BenchResult, Recovery,
    Throughput,
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
            .send_owned(cmd("SET").arg(key.as_str()).arg(small_value()))
            .await
            .map_err(err)?;
        Ok(Getter { client, key })
    }

    pub async fn get(&self) -> BenchResult<()> {
        let got: Option<Payload> = self
            .client
            .query_owned(cmd("GET").arg(self.key.as_str()))
            .await
            .map_err(err)?;
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
                .send_owned(cmd("SET").arg("bench:big").arg(value))
                .await
                .map_err(err)?;
            let got: Bytes = client
                .query_owned(cmd("GET").arg("bench:big"))
                .await
                .map_err(err)?;
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
        let mut pipe = client.pipeline();
        for i in 0..len {
            let key = task_key(i % 1000);
            if i % 2 == 0 {
                pipe.push(cmd("SET").arg(key).arg(value.clone()));
            } else {
                pipe.push(cmd("GET").arg(key));
            }
        }
        async move {
            let replies: Vec<Value> = pipe.send().await.map_err(err)?;
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
