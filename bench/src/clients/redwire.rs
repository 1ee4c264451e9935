//! redwire: its client is not available in this checkout yet; every scenario
//! reports that instead of a figure.

use std::any::Any;
use std::time::Duration;

use super::{BenchResult, Recovery};
use crate::server::RedisServer;

const MISSING: &str = "redwire's client is not implemented yet";

pub async fn throughput(
    _port: u16,
    _tasks: usize,
    _warmup: Duration,
    _duration: Duration,
) -> BenchResult<f64> {
    Err(MISSING.into())
}

pub async fn latency(_port: u16, _warmup: usize, _samples: usize) -> BenchResult<Vec<Duration>> {
    Err(MISSING.into())
}

pub async fn big_values(_port: u16, _size: usize, _rounds: usize) -> BenchResult<Vec<Duration>> {
    Err(MISSING.into())
}

pub async fn pipeline(_port: u16, _len: usize, _rounds: usize) -> BenchResult<Vec<Duration>> {
    Err(MISSING.into())
}

pub async fn idle(_port: u16, _n: usize) -> BenchResult<Box<dyn Any>> {
    Err(MISSING.into())
}

pub async fn recovery(_server: &mut RedisServer) -> BenchResult<Recovery> {
    Err(MISSING.into())
}
