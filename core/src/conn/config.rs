//! Connection configuration, with defaults suited to a production service behind a proxy.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::resp::{Cmd, Limits};

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP host name or address and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl Endpoint {
    /// A TCP endpoint.
    pub fn tcp(host: impl Into<String>, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A password, never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(p: impl Into<String>) -> Self {
        Password(p.into())
    }
    /// The secret itself, for the handshake.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Which protocol the handshake asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProtocolVersion {
    /// RESP2 (no `HELLO`).
    Resp2,
    /// RESP3 via `HELLO 3`, falling back to RESP2 when the server has no `HELLO`.
    #[default]
    Resp3,
}

/// What happens to new requests while there is no usable connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QueuePolicy {
    /// Queue them (up to [`Config::queue_limit`]) until the connection is back.
    #[default]
    Queue,
    /// Fail them at once.
    FailFast,
}

/// Exponential backoff between connection attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the second attempt.
    pub base: Duration,
    /// Growth factor per attempt (values below 1 act as 1).
    pub factor: f64,
    /// Largest delay.
    pub cap: Duration,
    /// Random share of each delay, 0.0 to 1.0 (clamped): the delay is drawn from
    /// `[d * (1 - jitter), d]`.
    pub jitter: f64,
    /// After this many failed attempts in a row, give up (Failed; 0 acts as 1). `None`:
    /// retry for ever. A connection lost before it was healthy counts as a failed attempt.
    pub max_attempts: Option<u32>,
    /// A connection that stayed up this long resets the attempt counter; when it is lost,
    /// the next attempt is made at once.
    pub healthy_after: Duration,
}

impl Default for Backoff {
    /// 100 ms, doubling, capped at 2 s, half of each delay random, retrying for ever,
    /// healthy after 5 s: a server restart is ridden out quickly, a client never waits more
    /// than 2 s to notice that its server is back (attempts through a proxy or to a refusing
    /// port are cheap), and a fleet of clients does not reconnect in lockstep.
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            factor: 2.0,
            cap: Duration::from_secs(2),
            jitter: 0.5,
            max_attempts: None,
            healthy_after: Duration::from_secs(5),
        }
    }
}

/// Everything the state machine needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// RESP3 (default) or RESP2.
    pub protocol: ProtocolVersion,
    /// ACL user name (`None`: `default`).
    pub username: Option<String>,
    /// Password.
    pub password: Option<Password>,
    /// `CLIENT SETNAME` value.
    pub client_name: Option<String>,
    /// Database index for `SELECT` (0: not sent).
    pub database: u32,
    /// Extra commands run in every handshake, after authentication and `SELECT`.
    pub handshake_commands: Vec<Cmd>,
    /// Time allowed to open the socket.
    pub connect_timeout: Duration,
    /// Time allowed for the handshake.
    pub handshake_timeout: Duration,
    /// Default per-request response timeout (`None`: none).
    pub response_timeout: Option<Duration>,
    /// Close the connection when requests are outstanding and nothing arrived for this long.
    pub unresponsive_timeout: Option<Duration>,
    /// Send `PING` after this long without traffic.
    pub health_check_interval: Option<Duration>,
    /// Time allowed for the health check reply.
    pub health_check_timeout: Duration,
    /// Time allowed for a graceful close.
    pub drain_timeout: Duration,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// Most requests held at once: waiting to be written, or written and owed a reply
    /// (a timed-out request still counts until its late reply is read). Beyond it,
    /// [`RequestError::QueueFull`](super::RequestError::QueueFull).
    pub queue_limit: usize,
    /// Queue or fail fast while disconnected.
    pub queue_policy: QueuePolicy,
    /// Decoder limits.
    pub limits: Limits,
    /// Seed of the jitter source.
    pub seed: u64,
}

impl Config {
    /// Production defaults for `endpoint`:
    ///
    /// | Setting | Default | Why |
    /// |---|---|---|
    /// | `protocol` | RESP3 (RESP2 fallback) | push frames; old servers still work |
    /// | `username`, `password`, `client_name` | none | |
    /// | `database` | 0 | |
    /// | `connect_timeout` | 5 s | |
    /// | `handshake_timeout` | 5 s | a proxy may accept the socket while its backend is down |
    /// | `response_timeout` | none | blocking commands (`BLPOP`...) may wait for long; set one per request |
    /// | `unresponsive_timeout` | 30 s | a silently dead link (failover, black hole) is noticed |
    /// | `health_check_interval` | 15 s | keeps idle sessions alive through proxies and notices dead ones |
    /// | `health_check_timeout` | 5 s | |
    /// | `drain_timeout` | 5 s | |
    /// | `backoff` | [`Backoff::default`] | |
    /// | `queue_limit` | 10 000 | bounds memory while disconnected or when the server falls behind |
    /// | `queue_policy` | [`QueuePolicy::Queue`] | |
    /// | `limits` | [`Limits::default`] | |
    /// | `seed` | different per `Config::new` call | clients do not reconnect in lockstep; set it for reproducible tests |
    ///
    /// With the default `unresponsive_timeout`, a blocking command that waits longer than
    /// 30 s for data makes the connection look dead: raise it (or set `None`) when using them.
    pub fn new(endpoint: Endpoint) -> Config {
        Config {
            endpoint,
            protocol: ProtocolVersion::Resp3,
            username: None,
            password: None,
            client_name: None,
            database: 0,
            handshake_commands: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            response_timeout: None,
            unresponsive_timeout: Some(Duration::from_secs(30)),
            health_check_interval: Some(Duration::from_secs(15)),
            health_check_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            queue_limit: 10_000,
            queue_policy: QueuePolicy::Queue,
            limits: Limits::default(),
            seed: random_seed(),
        }
    }
}

/// A seed that differs between calls and processes, without a clock or a dependency:
/// std's hash maps are keyed from the OS's randomness once per thread, then per map.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}
