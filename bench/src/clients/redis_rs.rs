//! redis-rs: one `MultiplexedConnection` (its default settings) for the
//! throughput, latency, big-value and pipeline scenarios; a `ConnectionManager`
//! for recovery, since a bare multiplexed connection does not reconnect.

use std::any::Any;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};

use super::{
    err, measure_recovery, run_workers, small_value, task_key, time_each, BenchResult, Recovery,
    Throughput,
};
use crate::server::RedisServer;

fn client(port: u16) -> BenchResult<redis::Client> {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).map_err(err)
}

pub async fn connect(port: u16) -> BenchResult<MultiplexedConnection> {
    client(port)?
        .get_multiplexed_async_connection()
        .await
        .map_err(err)
}

/// The handle scenario (a) shares between its tasks.
pub type Conn = MultiplexedConnection;

/// Scenario (a) on `conn`: `tasks` tasks doing `SET`/`GET` of their own key.
pub async fn throughput(
    conn: &Conn,
    tasks: usize,
    warmup: Duration,
    duration: Duration,
) -> BenchResult<Throughput> {
    run_workers(tasks, warmup, duration, |task, workers| {
        let mut conn = conn.clone();
        let key = task_key(task);
        let value = small_value();
        async move {
            while workers.running() {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&value[..])
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(err)?;
                let got: Option<Bytes> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut conn)
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
    conn: MultiplexedConnection,
    key: String,
}

impl Getter {
    pub async fn connect(port: u16) -> BenchResult<Getter> {
        let mut conn = connect(port).await?;
        let key = task_key(0);
        redis::cmd("SET")
            .arg(&key)
            .arg(&small_value()[..])
            .query_async::<()>(&mut conn)
            .await
            .map_err(err)?;
        Ok(Getter { conn, key })
    }

    pub async fn get(&self) -> BenchResult<()> {
        // A clone per request, as the handle is shared (the other scenarios do the same).
        let mut conn = self.conn.clone();
        let got: Option<Bytes> = redis::cmd("GET")
            .arg(&self.key)
            .query_async(&mut conn)
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
    let conn = connect(port).await?;
    let value = Bytes::from(vec![b'x'; size]);
    time_each(2, rounds, || {
        let mut conn = conn.clone();
        let value = value.clone();
        async move {
            redis::cmd("SET")
                .arg("bench:big")
                .arg(&value[..])
                .query_async::<()>(&mut conn)
                .await
                .map_err(err)?;
            let got: Bytes = redis::cmd("GET")
                .arg("bench:big")
                .query_async(&mut conn)
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
    let conn = connect(port).await?;
    let value = small_value();
    time_each(2, rounds, || {
        let mut conn = conn.clone();
        let mut pipe = redis::pipe();
        for i in 0..len {
            let key = task_key(i % 1000);
            if i % 2 == 0 {
                pipe.cmd("SET").arg(key).arg(&value[..]);
            } else {
                pipe.cmd("GET").arg(key);
            }
        }
        async move {
            let replies: Vec<redis::Value> = pipe.query_async(&mut conn).await.map_err(err)?;
            (replies.len() == len)
                .then_some(())
                .ok_or_else(|| format!("{} replies", replies.len()))
        }
    })
    .await
}

pub async fn idle(port: u16, n: usize) -> BenchResult<Box<dyn Any>> {
    let client = client(port)?;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(
            client
                .get_multiplexed_async_connection()
                .await
                .map_err(err)?,
        );
    }
    Ok(Box::new(conns))
}

/// `ConnectionManager` with a constant reconnect delay of [`super::RECONNECT_DELAY`]
/// (exponent base 1, min = max delay) and practically unlimited attempts. Its
/// backoff always adds jitter (backon's `with_jitter`, up to one more delay);
/// that cannot be turned off.
pub async fn recovery(server: &mut RedisServer) -> BenchResult<Recovery> {
    let delay = super::RECONNECT_DELAY;
    let config = ConnectionManagerConfig::new()
        .set_min_delay(delay)
        .set_max_delay(delay)
        .set_exponent_base(1.0)
        .set_number_of_retries(100_000);
    let conn: ConnectionManager = client(server.port())?
        .get_connection_manager_with_config(config)
        .await
        .map_err(err)?;
    measure_recovery(server, || {
        let mut conn = conn.clone();
        async move {
            redis::cmd("GET")
                .arg("bench:recovery")
                .query_async::<Option<Bytes>>(&mut conn)
                .await
                .map(drop)
                .map_err(err)
        }
    })
    .await
}
