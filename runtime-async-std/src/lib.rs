//! redwire-async-std: runs redwire's client on async-std.
//!
//! [`AsyncStdRuntime`] implements [`redwire_client::Runtime`] with async-std's `TcpStream`,
//! `UnixStream` and `task::spawn`, and async-io's `Timer` (what async-std's own timers use);
//! all Redis logic lives in `redwire-client` and `redwire-core`.
//!
//! async-std is discontinued upstream; it is supported here for existing applications, and
//! new ones should use smol (`redwire-smol`), its successor.
//!
//! ```no_run
//! use redwire_client::{cmd, Client, ClientConfig};
//! use redwire_async_std::AsyncStdRuntime;
//!
//! fn main() -> Result<(), redwire_client::Error> {
//!     async_std::task::block_on(async {
//!         let config = ClientConfig::from_url("redis://127.0.0.1:6379")?;
//!         let client = Client::connect(AsyncStdRuntime, config).await?;
//!         let n: i64 = client.query(&cmd("INCR").arg("visits")).await?;
//!         println!("visit number {n}");
//!         client.close().await;
//!         Ok(())
//!     })
//! }
//! ```
#![warn(missing_docs)]

use std::io;
use std::pin::Pin;
use std::time::Instant;

use redwire_client::runtime::{AsyncStream, AsyncTimer, BoxFuture, FuturesIo, Runtime};
use redwire_client::Endpoint;

/// The async-std runtime: tasks go to `async_std::task::spawn`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    fn connect(&self, endpoint: &Endpoint) -> BoxFuture<io::Result<Box<dyn AsyncStream>>> {
        let endpoint = endpoint.clone();
        Box::pin(async move {
            Ok(match endpoint {
                Endpoint::Tcp { host, port } => {
                    let stream = async_std::net::TcpStream::connect((host.as_str(), port)).await?;
                    stream.set_nodelay(true)?;
                    Box::new(FuturesIo(stream)) as Box<dyn AsyncStream>
                }
                Endpoint::Unix(path) => Box::new(FuturesIo(
                    async_std::os::unix::net::UnixStream::connect(path).await?,
                )),
            })
        })
    }

    fn new_timer(&self, at: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(async_io::Timer::at(at))
    }

    fn spawn(&self, future: BoxFuture<()>) {
        async_std::task::spawn(future);
    }
}
