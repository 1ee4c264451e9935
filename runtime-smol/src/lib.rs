//! redwire-smol: runs redwire's client on smol.
//!
//! [`SmolRuntime`] implements [`redwire_client::Runtime`] with smol's `TcpStream`,
//! `UnixStream`, `Timer` and global executor; all Redis logic lives in `redwire-client` and
//! `redwire-core`. smol is also the successor of the discontinued async-std.
//!
//! ```no_run
//! use redwire_client::{cmd, Client, ClientConfig};
//! use redwire_smol::SmolRuntime;
//!
//! fn main() -> Result<(), redwire_client::Error> {
//!     smol::block_on(async {
//!         let config = ClientConfig::from_url("redis://127.0.0.1:6379")?;
//!         let client = Client::connect(SmolRuntime, config).await?;
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

/// The smol runtime: tasks go to smol's global executor (`smol::spawn`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolRuntime;

impl Runtime for SmolRuntime {
    fn connect(&self, endpoint: &Endpoint) -> BoxFuture<io::Result<Box<dyn AsyncStream>>> {
        let endpoint = endpoint.clone();
        Box::pin(async move {
            Ok(match endpoint {
                Endpoint::Tcp { host, port } => {
                    let stream = smol::net::TcpStream::connect((host.as_str(), port)).await?;
                    stream.set_nodelay(true)?;
                    Box::new(FuturesIo(stream)) as Box<dyn AsyncStream>
                }
                Endpoint::Unix(path) => {
                    Box::new(FuturesIo(smol::net::unix::UnixStream::connect(path).await?))
                }
            })
        })
    }

    fn new_timer(&self, at: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(smol::Timer::at(at))
    }

    fn spawn(&self, future: BoxFuture<()>) {
        smol::spawn(future).detach();
    }
}
