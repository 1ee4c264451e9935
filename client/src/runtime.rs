//! The one seam between redwire and an async runtime.
//!
//! Everything the driver needs from a runtime is here: open a stream to an [`Endpoint`], a
//! resettable timer, a way to spawn the driver task, and the current time. The runtime crates
//! (`redwire-tokio`, `redwire-async-std`, `redwire-smol`) implement [`Runtime`] in a few lines
//! each and contain no Redis logic; the driver in this crate is written once against it.
//!
//! Streams and timers are used through `poll_*` methods from a single task, so an
//! implementation only needs to remember the last waker for each direction.

use std::fmt::Debug;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use redwire_core::conn::Endpoint;

/// A boxed, sendable future, as the runtime trait passes them around.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// An async runtime redwire can run on.
///
/// ```
/// use std::io;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use std::time::Instant;
/// use redwire_client::runtime::{AsyncStream, AsyncTimer, BoxFuture, Runtime};
/// use redwire_core::conn::Endpoint;
///
/// #[derive(Debug)]
/// struct NeverFires;
///
/// impl AsyncTimer for NeverFires {
///     fn reset(self: Pin<&mut Self>, _: Instant) {}
///     fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
///         Poll::Pending
///     }
/// }
///
/// /// A runtime that cannot connect anywhere, to show the shape of the trait.
/// #[derive(Debug)]
/// struct Nowhere;
///
/// impl Runtime for Nowhere {
///     fn connect(&self, _: &Endpoint) -> BoxFuture<io::Result<Box<dyn AsyncStream>>> {
///         Box::pin(async { Err(io::ErrorKind::Unsupported.into()) })
///     }
///     fn new_timer(&self, _: Instant) -> Pin<Box<dyn AsyncTimer>> {
///         Box::pin(NeverFires) // a real runtime returns its resettable sleep here
///     }
///     fn spawn(&self, _: BoxFuture<()>) {}
/// }
/// ```
pub trait Runtime: Send + Sync + Debug + 'static {
    /// Opens a stream (TCP with `TCP_NODELAY`, or Unix) to `endpoint`.
    ///
    /// The driver drops the future when the connection attempt is abandoned (connect timeout,
    /// close), so it must not leave work behind when dropped.
    fn connect(&self, endpoint: &Endpoint) -> BoxFuture<io::Result<Box<dyn AsyncStream>>>;

    /// A timer that fires at `at` and can be moved with [`AsyncTimer::reset`].
    fn new_timer(&self, at: Instant) -> Pin<Box<dyn AsyncTimer>>;

    /// Runs `future` to completion in the background.
    fn spawn(&self, future: BoxFuture<()>);

    /// The current time, as this runtime's timers see it.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A connected byte stream, polled from one task. Dropping it closes the connection (the core
/// decides when; there is no half-close in the protocol).
pub trait AsyncStream: Send + Unpin + 'static {
    /// Reads into `buf`; `Ok(0)` means the peer closed the stream.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Writes some of `bufs` (in order), returning how many bytes were accepted.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;

    /// Pushes buffered bytes, if the stream buffers, to the socket.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// A timer the driver moves to each new deadline of the connection.
pub trait AsyncTimer: Send + Debug + 'static {
    /// Moves the deadline to `at` (earlier or later).
    fn reset(self: Pin<&mut Self>, at: Instant);

    /// Ready once the deadline has passed.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
}

/// Adapts any [`futures_io`] stream (async-std's and smol's sockets) to [`AsyncStream`].
#[cfg(feature = "futures-io")]
#[derive(Debug)]
pub struct FuturesIo<T>(pub T);

#[cfg(feature = "futures-io")]
impl<T> AsyncStream for FuturesIo<T>
where
    T: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static,
{
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
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

/// async-io's timer (smol's `Timer`, and the one under async-std) as an [`AsyncTimer`].
#[cfg(feature = "async-io")]
impl AsyncTimer for async_io::Timer {
    fn reset(mut self: Pin<&mut Self>, at: Instant) {
        self.set_at(at);
    }
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Future::poll(self.as_mut(), cx).map(|_| ())
    }
}

/// A shared runtime is a runtime (so an `Arc<dyn Runtime>` can be handed to
/// [`Client::connect`](crate::Client::connect)).
impl<R: Runtime + ?Sized> Runtime for std::sync::Arc<R> {
    fn connect(&self, endpoint: &Endpoint) -> BoxFuture<io::Result<Box<dyn AsyncStream>>> {
        (**self).connect(endpoint)
    }
    fn new_timer(&self, at: Instant) -> Pin<Box<dyn AsyncTimer>> {
        (**self).new_timer(at)
    }
    fn spawn(&self, future: BoxFuture<()>) {
        (**self).spawn(future)
    }
    fn now(&self) -> Instant {
        (**self).now()
    }
}
