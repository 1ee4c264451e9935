//! redwire: a Redis client whose connections survive the real world — proxies, failover,
//! restarts.
//!
//! One [`Client`] is one multiplexed connection shared by any number of tasks. Under it, a
//! sans-IO state machine ([`core`]) decides everything — when to reconnect, what happens to
//! queued and in-flight requests, which deadline fired — and says why with a typed
//! [`CloseReason`]; a small driver runs it on the runtime you pick with a feature flag.
//!
//! ```no_run
//! # #[cfg(feature = "runtime-tokio")]
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), redwire::Error> {
//!     use redwire::cmd;
//!
//!     let client = redwire::connect("redis://127.0.0.1:6379").await?;
//!
//!     // Watch the connection: every transition, with its typed reason.
//!     let mut events = client.events();
//!     tokio::spawn(async move {
//!         while let Some(t) = events.next().await {
//!             println!("{:?} -> {:?}: {:?}", t.from, t.to, t.reason);
//!         }
//!     });
//!
//!     client.send(&cmd("SET").arg("k").arg("v")).await?;
//!     let v: String = client.query(&cmd("GET").arg("k")).await?;
//!     assert_eq!(v, "v");
//!
//!     match client.query::<i64>(&cmd("INCR").arg("k")).await {
//!         Err(redwire::Error::Server(e)) => println!("server said {}", e.code),
//!         other => println!("{other:?}"),
//!     }
//!     client.close().await;
//!     Ok(())
//! }
//! # #[cfg(not(feature = "runtime-tokio"))]
//! # fn main() {}
//! ```
//!
//! # Runtimes
//!
//! | feature | module | runtime type |
//! |---|---|---|
//! | `runtime-tokio` (default) | `redwire::tokio` | `TokioRuntime` |
//! | `runtime-smol` | `redwire::smol` | `SmolRuntime` |
//! | `runtime-async-std` | `redwire::async_std` | `AsyncStdRuntime` |
//!
//! The top-level [`connect`] and [`open`] use the enabled runtime; with several enabled, tokio
//! wins, then smol, then async-std (the per-runtime modules are always there to pick one).
//! async-std is discontinued upstream: it is supported for existing applications, and smol is
//! its successor. Any other runtime can be plugged in by implementing [`Runtime`].
//!
//! # Guarantees
//!
//! - Every request is answered exactly once: with its reply, or with an [`Error`] that says
//!   whether it was written ([`Error::was_written`]). Nothing is dropped silently.
//! - Requests made while the connection is down wait (up to the queue limit) and go out on
//!   the next connection; requests written to a connection that then dropped fail with
//!   [`Error::ConnectionLost`], since they may have run.
//! - [`Client::close`] stops taking requests, answers every outstanding one, then closes.
//!
//! The `tracing` feature logs transitions: reconnecting as a warning, failed as an error,
//! routine ones at debug level.
#![warn(missing_docs)]

pub use redwire_client::config::{ClientConfig, UrlError};
pub use redwire_client::runtime::{self, Runtime};
pub use redwire_client::{
    cmd, from_value, Backoff, Client, CloseReason, Cmd, ConversionError, Endpoint, Error, Events,
    FromValue, Invalidation, Limits, Pipeline, ProtocolVersion, PubSubEvent, QueuePolicy, Received,
    Reply, RequestOptions, ServerError, ServerErrorCode, StateKind, Subscriber, SubscriberConfig,
    SubscriptionKind, Subscriptions, TimeoutKind, ToArg, Transaction, Transition, Value,
};
/// The sans-IO core: RESP codec and connection state machine.
pub use redwire_core as core;
pub use redwire_core::resp::Payload;

/// Generates a runtime module: the runtime type and URL shortcuts bound to it.
#[allow(unused_macros)] // unused when no runtime feature is on
macro_rules! runtime_module {
    ($runtime:ty, $example:literal) => {
        /// Opens a client on this runtime from a URL and waits until it is connected
        /// (fails with the typed reason if the first attempt fails).
        #[doc = $example]
        pub async fn connect(url: &str) -> Result<$crate::Client, $crate::Error> {
            connect_with($crate::ClientConfig::from_url(url)?).await
        }

        /// Like [`connect`], from a full configuration.
        pub async fn connect_with(
            config: $crate::ClientConfig,
        ) -> Result<$crate::Client, $crate::Error> {
            $crate::Client::connect(<$runtime>::default(), config).await
        }

        /// Opens a client on this runtime and returns at once; it connects in the background,
        /// retrying with backoff, and requests wait for it.
        pub fn open(config: $crate::ClientConfig) -> $crate::Client {
            $crate::Client::new(<$runtime>::default(), config)
        }
    };
}

/// The tokio runtime (feature `runtime-tokio`, the default).
#[cfg(feature = "runtime-tokio")]
pub mod tokio {
    pub use redwire_tokio::TokioRuntime;
    runtime_module!(
        TokioRuntime,
        r#"
```no_run
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), redwire::Error> {
    let client = redwire::tokio::connect("redis://127.0.0.1:6379/0").await?;
    let n: i64 = client.query(&redwire::cmd("INCR").arg("hits")).await?;
    println!("{n}");
    client.close().await;
    Ok(())
}
```"#
    );
}

/// The smol runtime (feature `runtime-smol`).
#[cfg(feature = "runtime-smol")]
pub mod smol {
    pub use redwire_smol::SmolRuntime;
    runtime_module!(
        SmolRuntime,
        r#"
```no_run
fn main() -> Result<(), redwire::Error> {
    smol::block_on(async {
        let client = redwire::smol::connect("redis://127.0.0.1:6379/0").await?;
        let n: i64 = client.query(&redwire::cmd("INCR").arg("hits")).await?;
        println!("{n}");
        client.close().await;
        Ok(())
    })
}
```"#
    );
}

/// The async-std runtime (feature `runtime-async-std`). async-std is discontinued upstream;
/// smol is its successor.
#[cfg(feature = "runtime-async-std")]
pub mod async_std {
    pub use redwire_async_std::AsyncStdRuntime;
    runtime_module!(
        AsyncStdRuntime,
        r#"
```no_run
fn main() -> Result<(), redwire::Error> {
    async_std::task::block_on(async {
        let client = redwire::async_std::connect("redis://127.0.0.1:6379/0").await?;
        let n: i64 = client.query(&redwire::cmd("INCR").arg("hits")).await?;
        println!("{n}");
        client.close().await;
        Ok(())
    })
}
```"#
    );
}

#[cfg(feature = "runtime-tokio")]
use self::tokio as default_runtime;

#[cfg(all(feature = "runtime-smol", not(feature = "runtime-tokio")))]
use self::smol as default_runtime;

#[cfg(all(
    feature = "runtime-async-std",
    not(any(feature = "runtime-tokio", feature = "runtime-smol"))
))]
use self::async_std as default_runtime;

/// Connects to the URL on the enabled runtime and waits until the connection is ready.
///
/// URLs: `redis://[user[:password]@]host[:port][/db]` or `redis+unix:///path?db=N`
/// (see [`ClientConfig::from_url`]).
#[cfg(any(
    feature = "runtime-tokio",
    feature = "runtime-smol",
    feature = "runtime-async-std"
))]
pub async fn connect(url: &str) -> Result<Client, Error> {
    default_runtime::connect(url).await
}

/// [`connect`] from a full configuration.
#[cfg(any(
    feature = "runtime-tokio",
    feature = "runtime-smol",
    feature = "runtime-async-std"
))]
pub async fn connect_with(config: ClientConfig) -> Result<Client, Error> {
    default_runtime::connect_with(config).await
}

/// Opens a client on the enabled runtime and returns at once; it connects (and reconnects)
/// in the background.
#[cfg(any(
    feature = "runtime-tokio",
    feature = "runtime-smol",
    feature = "runtime-async-std"
))]
pub fn open(config: ClientConfig) -> Client {
    default_runtime::open(config)
}
