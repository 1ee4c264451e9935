//! redwire-tokio: runs redwire's client on tokio.
//!
//! [`TokioRuntime`] implements [`redwire_client::Runtime`] with tokio's `TcpStream`,
//! `UnixStream`, `Sleep` and `spawn`; all Redis logic lives in `redwire-client` and
//! `redwire-core`. The `redwire` crate re-exports this as its default runtime.
//!
//! ```no_run
//! use redwire_client::{cmd, Client, ClientConfig};
//! use redwire_tokio::TokioRuntime;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), redwire_client::Error> {
//!     let config = ClientConfig::from_url("redis://127.0.0.1:6379")?;
//!     let client = Client::connect(TokioRuntime, config).await?;
//!     let n: i64 = client.query(&cmd("INCR").arg("visits")).await?;
//!     println!("visit number {n}");
//!     client.close().await;
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use redwire_client::runtime::{AsyncStream, AsyncTimer, BoxFuture, Runtime};
use redwire_client::Endpoint;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The tokio runtime. Must be used from within a tokio runtime (it spawns with `tokio::spawn`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    fn connect(&self, endpoint: &Endpoint) -> BoxFuture<io::Result<Box<dyn AsyncStream>>> {
        let endpoint = endpoint.clone();
        Box::pin(async move {
            Ok(match endpoint {
                Endpoint::Tcp { host, port } => {
                    let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                    stream.set_nodelay(true)?;
                    Box::new(Stream(stream)) as Box<dyn AsyncStream>
                }
                Endpoint::Unix(path) => {
                    Box::new(Stream(tokio::net::UnixStream::connect(path).await?))
                }
            })
        })
    }

    fn new_timer(&self, at: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(Timer(Box::pin(tokio::time::sleep_until(at.into()))))
    }

    fn spawn(&self, future: BoxFuture<()>) {
        tokio::spawn(future);
    }

    fn now(&self) -> Instant {
        // tokio's clock, so a test that pauses time sees the driver follow it.
        tokio::time::Instant::now().into_std()
    }
}

/// A tokio socket as an [`AsyncStream`].
struct Stream<S>(S);

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for Stream<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        Pin::new(&mut self.0)
            .poll_read(cx, &mut buf)
            .map_ok(|()| buf.filled().len())
    }
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
}

/// tokio's `Sleep` as an [`AsyncTimer`] (boxed, so the timer is `Unpin` without unsafe code;
/// a connection has one timer for its whole life).
#[derive(Debug)]
struct Timer(Pin<Box<tokio::time::Sleep>>);

impl AsyncTimer for Timer {
    fn reset(mut self: Pin<&mut Self>, at: Instant) {
        self.0.as_mut().reset(at.into());
    }
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}
