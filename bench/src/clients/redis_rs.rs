//! redis-rs: one `MultiplexedConnection` (its default settings) for the
//! throughput, latency, big-value and pipeline scenarios; a `ConnectionManager`
//! for recovery, since a bare multiplexed connection does not reconnect.

use std::any::Any;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};

use super::{
    check_len, check_replies, err, measure_recovery, run_workers, small_value, task_key,
    BenchResult, Recovery, Throughput,
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

// Each call clones the handle, as a shared one must be (the throughput tasks do the same).

/// `SET key value`.
pub async fn set(conn: &Conn, key: &str, value: Bytes) -> BenchResult<()> {
    redis::cmd("SET")
        .arg(key)
        .arg(&value[..])
        .query_async::<()>(&mut conn.clone())
        .await
        .map_err(err)
}

/// `GET key`, whose value must be `len` bytes long.
pub async fn get(conn: &Conn, key: &str, len: usize) -> BenchResult<()> {
    let got: Option<Bytes> = redis::cmd("GET")
        .arg(key)
        .query_async(&mut conn.clone())
        .await
        .map_err(err)?;
    check_len(got.as_deref().map(<[u8]>::len), len)
}

/// One explicit pipeline of `len` commands, `SET` and `GET` alternating.
pub async fn pipeline(conn: &Conn, len: usize) -> BenchResult<()> {
    let value = small_value();
    let mut pipe = redis::pipe();
    for i in 0..len {
        let key = task_key(i % 1000);
        if i % 2 == 0 {
            pipe.cmd("SET").arg(key).arg(&value[..]);
        } else {
            pipe.cmd("GET").arg(key);
        }
    }
    let replies: Vec<redis::Value> = pipe.query_async(&mut conn.clone()).await.map_err(err)?;
    check_replies(replies.len(), len)
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
