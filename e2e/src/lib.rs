//! Shared harness of the end-to-end suites: every scenario is written once as an
//! `async fn(Rt)` and run on tokio, async-std and smol by [`runtime_tests!`].
//!
//! ```
//! use std::time::Duration;
//! use redwire_e2e::Rt;
//!
//! async fn adds(rt: Rt) {
//!     let sum = rt.spawn(async { 2 + 2 }).await;
//!     let sum = rt.within("the sum", Duration::from_secs(5), async move { sum }).await;
//!     assert_eq!(sum, 4);
//! }
//!
//! // In a test file, `redwire_e2e::runtime_tests!(adds);` makes `on_tokio::adds`,
//! // `on_async_std::adds` and `on_smol::adds`. By hand:
//! redwire_e2e::run::<redwire_e2e::Smol, _, _>(adds);
//! ```

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use redwire_client::runtime::{AsyncStream, AsyncTimer, BoxFuture, Runtime};
use redwire_client::{ClientConfig, Endpoint, Events, StateKind, Transition};

pub use redwire_testkit as testkit;

/// A runtime the suites run on: how to block on a test and which [`Runtime`] the client uses.
pub trait TestRuntime {
    /// Whether the client's driver and the test's tasks share one thread (so what runs
    /// between two polls of the driver is deterministic).
    const SINGLE_THREADED: bool;
    /// Runs the test's future to completion on a fresh executor.
    fn block_on<F: Future>(future: F) -> F::Output;
    /// The client runtime.
    fn runtime() -> Arc<dyn Runtime>;
}

/// tokio, on a current-thread runtime (the hardest case for fairness: one thread for the
/// driver and every task).
#[derive(Debug)]
pub struct Tokio;

impl TestRuntime for Tokio {
    const SINGLE_THREADED: bool = true;
    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio runtime")
            .block_on(future)
    }
    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(redwire_tokio::TokioRuntime)
    }
}

/// async-std (discontinued upstream, still supported).
#[derive(Debug)]
pub struct AsyncStd;

impl TestRuntime for AsyncStd {
    const SINGLE_THREADED: bool = false;
    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }
    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(redwire_async_std::AsyncStdRuntime)
    }
}

/// smol, with its global executor.
#[derive(Debug)]
pub struct Smol;

impl TestRuntime for Smol {
    const SINGLE_THREADED: bool = false;
    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(redwire_smol::SmolRuntime)
    }
}

/// What a scenario gets: the runtime, plus spawning and bounded waiting that work on any of
/// them.
#[derive(Debug, Clone)]
pub struct Rt {
    runtime: Arc<dyn Runtime>,
    single_threaded: bool,
}

impl Rt {
    /// The harness for runtime `R`.
    pub fn of<R: TestRuntime>() -> Rt {
        Rt {
            runtime: R::runtime(),
            single_threaded: R::SINGLE_THREADED,
        }
    }

    /// The client runtime.
    pub fn runtime(&self) -> Arc<dyn Runtime> {
        self.runtime.clone()
    }

    /// Whether the driver and the test's tasks run on one thread (see
    /// [`TestRuntime::SINGLE_THREADED`]).
    pub fn single_threaded(&self) -> bool {
        self.single_threaded
    }

    /// Starts a client on this runtime.
    pub fn client(&self, config: ClientConfig) -> redwire_client::Client {
        redwire_client::Client::start(self.runtime.clone(), config)
    }

    /// Connects a client on this runtime, waiting until it is up.
    pub async fn connect(
        &self,
        config: ClientConfig,
    ) -> Result<redwire_client::Client, redwire_client::Error> {
        redwire_client::Client::connect(self.runtime.clone(), config).await
    }

    /// Runs `future` as a task; the returned future yields its output (and panics if the task
    /// panicked).
    pub fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        self.runtime.spawn(Box::pin(async move {
            let _ = tx.send(future.await);
        }));
        async move { rx.await.expect("spawned task panicked") }
    }

    /// Awaits `future`, panicking with `what` if it takes longer than `limit`.
    pub async fn within<T>(
        &self,
        what: &str,
        limit: Duration,
        future: impl Future<Output = T>,
    ) -> T {
        self.before(limit, future)
            .await
            .unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
    }

    /// Awaits `future` for at most `limit`: its output, or `None` if the time ran out first.
    pub async fn before<T>(&self, limit: Duration, future: impl Future<Output = T>) -> Option<T> {
        let mut future = std::pin::pin!(future);
        let mut timer = self.runtime.new_timer(self.runtime.now() + limit);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = future.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            timer.as_mut().poll(cx).map(|()| None)
        })
        .await
    }

    /// Checks `cond` every few milliseconds (on the runtime's timer, so the client's driver
    /// keeps running in between) until it holds; panics with `what` after `limit`.
    pub async fn wait_until(&self, what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
        self.within(what, limit, async {
            while !cond() {
                let mut timer = self
                    .runtime
                    .new_timer(self.runtime.now() + Duration::from_millis(2));
                std::future::poll_fn(|cx| timer.as_mut().poll(cx)).await;
            }
        })
        .await
    }

    /// Waits (at most `limit`) for a transition matching `pred`; returns it and every
    /// transition seen before it. Panics with the transitions seen on timeout or stream end.
    pub async fn wait_transition(
        &self,
        events: &mut Events,
        limit: Duration,
        what: &str,
        mut pred: impl FnMut(&Transition) -> bool,
    ) -> (Transition, Vec<Transition>) {
        let mut seen = Vec::new();
        let found = {
            let seen = &mut seen;
            self.before(limit, async move {
                while let Some(t) = events.next().await {
                    if pred(&t) {
                        return Some(t);
                    }
                    seen.push(t);
                }
                None
            })
            .await
        };
        // What was seen on the way is part of every failure message: it tells a client stuck
        // in one state from one that went elsewhere.
        match found {
            Some(Some(t)) => (t, seen),
            Some(None) => panic!("event stream ended before {what}; saw {seen:#?}"),
            None => panic!("timed out after {limit:?} waiting for {what}; saw {seen:#?}"),
        }
    }

    /// Waits (at most `limit`) until the connection is in `state`, counting the state it was
    /// in when `events` was opened: a client started with `Client::start` may be connected
    /// before the test subscribes, and that transition is not in the stream.
    pub async fn reach_state(&self, events: &mut Events, state: StateKind, limit: Duration) {
        if events.state() != state {
            self.wait_state(events, state, limit).await;
        }
    }

    /// Waits for the next transition into `state` (one already made before `events` was
    /// opened does not count; see [`Rt::reach_state`]).
    pub async fn wait_state(
        &self,
        events: &mut Events,
        state: StateKind,
        limit: Duration,
    ) -> (Transition, Vec<Transition>) {
        let what = format!("state {state:?}");
        self.wait_transition(events, limit, &what, |t| t.to == state)
            .await
    }
}

/// Wraps a runtime to count the writes its streams make (to check write coalescing), and
/// optionally to make every read and write tiny (to exercise partial writes and replies that
/// arrive a few bytes at a time).
#[derive(Debug, Clone)]
pub struct CountingRuntime {
    inner: Arc<dyn Runtime>,
    writes: Arc<AtomicUsize>,
    max_read: usize,
    max_write: usize,
}

impl CountingRuntime {
    /// Counts the writes of streams opened through `inner`.
    pub fn new(inner: Arc<dyn Runtime>) -> CountingRuntime {
        CountingRuntime {
            inner,
            writes: Arc::new(AtomicUsize::new(0)),
            max_read: usize::MAX,
            max_write: usize::MAX,
        }
    }

    /// Each read returns at most `n` bytes.
    pub fn max_read(mut self, n: usize) -> Self {
        self.max_read = n.max(1);
        self
    }

    /// Each write accepts at most `n` bytes.
    pub fn max_write(mut self, n: usize) -> Self {
        self.max_write = n.max(1);
        self
    }

    /// Write calls that accepted at least one byte, so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

impl Runtime for CountingRuntime {
    fn connect(&self, endpoint: &Endpoint) -> BoxFuture<io::Result<Box<dyn AsyncStream>>> {
        let connecting = self.inner.connect(endpoint);
        let (writes, max_read, max_write) = (self.writes.clone(), self.max_read, self.max_write);
        Box::pin(async move {
            let stream = connecting.await?;
            Ok(Box::new(CountingStream {
                stream,
                writes,
                max_read,
                max_write,
            }) as Box<dyn AsyncStream>)
        })
    }
    fn new_timer(&self, at: Instant) -> Pin<Box<dyn AsyncTimer>> {
        self.inner.new_timer(at)
    }
    fn spawn(&self, future: BoxFuture<()>) {
        self.inner.spawn(future)
    }
    fn now(&self) -> Instant {
        self.inner.now()
    }
}

struct CountingStream {
    stream: Box<dyn AsyncStream>,
    writes: Arc<AtomicUsize>,
    max_read: usize,
    max_write: usize,
}

impl AsyncStream for CountingStream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let n = buf.len().min(self.max_read);
        self.stream.poll_read(cx, &mut buf[..n])
    }
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = if self.max_write == usize::MAX {
            self.stream.poll_write_vectored(cx, bufs)
        } else {
            // Part of the first non-empty buffer only: a short write every time.
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            let part = [IoSlice::new(&first[..first.len().min(self.max_write)])];
            self.stream.poll_write_vectored(cx, &part)
        };
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_flush(cx)
    }
}

/// Runs one scenario on runtime `R`.
pub fn run<R: TestRuntime, F, Fut>(scenario: F)
where
    F: FnOnce(Rt) -> Fut,
    Fut: Future<Output = ()>,
{
    R::block_on(scenario(Rt::of::<R>()));
}

/// Makes one `#[test]` per scenario and runtime: `on_tokio::NAME`, `on_async_std::NAME`,
/// `on_smol::NAME`, each calling the `async fn NAME(rt: Rt)` defined next to the macro call.
#[macro_export]
macro_rules! runtime_tests {
    ($($scenario:ident),* $(,)?) => {
        $crate::runtime_tests!(@runtime on_tokio, $crate::Tokio, $($scenario),*);
        $crate::runtime_tests!(@runtime on_async_std, $crate::AsyncStd, $($scenario),*);
        $crate::runtime_tests!(@runtime on_smol, $crate::Smol, $($scenario),*);
    };
    (@runtime $module:ident, $runtime:ty, $($scenario:ident),*) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    $crate::run::<$runtime, _, _>(super::$scenario);
                }
            )*
        }
    };
}
