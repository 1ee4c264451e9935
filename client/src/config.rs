//! Client configuration: from a URL, from a builder, or both.
//!
//! [`ClientConfig`] wraps the core's [`Config`], whose defaults ([`Config::new`]) are chosen
//! for a production service that reaches Redis through a proxy (HAProxy, Envoy, a cloud load
//! balancer): 5 s to connect and 5 s for the handshake (a proxy accepts even when its backend
//! is down), no default response timeout (blocking commands wait legitimately), the connection
//! dropped after 30 s without a byte while requests are outstanding, an idle `PING` every 15 s
//! (proxies cut idle sessions after 30-60 s), reconnects backing off from 100 ms to 2 s with
//! jitter and retrying for ever, at most 10 000 requests queued while disconnected, and the
//! codec's [`Limits::default`]. Every one can be changed here.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use redwire_core::conn::{Backoff, Config, Endpoint, Password, ProtocolVersion, QueuePolicy};
use redwire_core::resp::{Cmd, Limits};
use thiserror::Error;

/// Why a connection URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `redis`, `redis+unix` or `unix` (`rediss`: TLS is not supported).
    #[error("unsupported URL scheme {0:?}")]
    UnsupportedScheme(String),
    /// No `scheme://` at the start.
    #[error("missing scheme (expected redis:// or redis+unix://)")]
    MissingScheme,
    /// `redis://` without a host.
    #[error("missing host")]
    MissingHost,
    /// `redis+unix://` without a socket path.
    #[error("missing socket path")]
    MissingPath,
    /// The port is not a number from 1 to 65535.
    #[error("invalid port")]
    InvalidPort,
    /// The database is not a non-negative integer.
    #[error("invalid database index")]
    InvalidDatabase,
    /// A `%` escape is malformed or does not decode to UTF-8.
    #[error("invalid percent-encoding")]
    InvalidEncoding,
    /// A query parameter redwire does not know.
    #[error("unknown URL parameter {0:?}")]
    UnknownParameter(String),
    /// A query parameter with a value it cannot take.
    #[error("invalid value for URL parameter {0:?}")]
    InvalidParameter(String),
}

/// Everything a [`Client`](crate::Client) needs: where to connect, credentials, timeouts,
/// backoff, queue and codec limits. The password never appears in `Debug` output.
///
/// ```
/// use std::time::Duration;
/// use redwire_client::ClientConfig;
///
/// let config = ClientConfig::from_url("redis://app:s3cret@cache.internal:6380/2")?
///     .connect_timeout(Duration::from_secs(2))
///     .queue_limit(10_000);
/// assert_eq!(config.core().database, 2);
/// assert!(!format!("{config:?}").contains("s3cret"));
/// # Ok::<(), redwire_client::UrlError>(())
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    config: Config,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The core's `Password` redacts itself; the rest is safe to show.
        self.config.fmt(f)
    }
}

impl ClientConfig {
    /// The defaults (see the [module docs](self) and [`Config::new`]) for this endpoint.
    pub fn new(endpoint: Endpoint) -> ClientConfig {
        ClientConfig {
            config: Config::new(endpoint),
        }
    }

    /// TCP to `host:port`, with the defaults.
    pub fn tcp(host: impl Into<String>, port: u16) -> ClientConfig {
        ClientConfig::new(Endpoint::Tcp {
            host: host.into(),
            port,
        })
    }

    /// A Unix domain socket, with the defaults.
    pub fn unix(path: impl Into<PathBuf>) -> ClientConfig {
        ClientConfig::new(Endpoint::Unix(path.into()))
    }

    /// Parses a URL (defaults for everything it does not say):
    ///
    /// - `redis://[user[:password]@]host[:port][/db][?protocol=resp2|resp3]` (port 6379)
    /// - `redis+unix:///path/to/socket[?db=N][&user=U][&password=P][&protocol=...]`,
    ///   also spelled `unix:///path...`
    ///
    /// User, password and path may be percent-encoded; `[::1]` brackets an IPv6 address.
    pub fn from_url(url: &str) -> Result<ClientConfig, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::MissingScheme)?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let mut config = match scheme.to_ascii_lowercase().as_str() {
            "redis" => parse_tcp(rest)?,
            "redis+unix" | "unix" => {
                let path = decode(rest)?;
                if path.is_empty() {
                    return Err(UrlError::MissingPath);
                }
                ClientConfig::unix(path)
            }
            _ => return Err(UrlError::UnsupportedScheme(scheme.to_string())),
        };
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value)?;
            match key {
                "db" => config.config.database = parse_db(&value)?,
                "user" | "username" => config.config.username = Some(value),
                "password" | "pass" => config.config.password = Some(Password::new(value)),
                "protocol" => {
                    config.config.protocol = match value.to_ascii_lowercase().as_str() {
                        "resp2" | "2" => ProtocolVersion::Resp2,
                        "resp3" | "3" => ProtocolVersion::Resp3,
                        _ => return Err(UrlError::InvalidParameter(key.to_string())),
                    }
                }
                _ => return Err(UrlError::UnknownParameter(key.to_string())),
            }
        }
        Ok(config)
    }

    /// The core configuration this wraps.
    pub fn core(&self) -> &Config {
        &self.config
    }

    /// The core configuration, to adjust anything the setters below do not cover.
    pub fn core_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// Unwraps the core configuration.
    pub fn into_core(self) -> Config {
        self.config
    }

    /// RESP3 (default; falls back to RESP2 on servers without `HELLO`) or RESP2.
    pub fn protocol(mut self, protocol: ProtocolVersion) -> Self {
        self.config.protocol = protocol;
        self
    }
    /// ACL user name (default: none, which is Redis's `default` user).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.config.username = Some(username.into());
        self
    }
    /// Password (never shown by `Debug` or in events).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.config.password = Some(Password::new(password));
        self
    }
    /// Database index, selected in every handshake (default 0).
    pub fn database(mut self, database: u32) -> Self {
        self.config.database = database;
        self
    }
    /// `CLIENT SETNAME` value sent in every handshake (default: none).
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.config.client_name = Some(name.into());
        self
    }
    /// A command run in every handshake, after authentication and `SELECT`.
    pub fn handshake_command(mut self, cmd: Cmd) -> Self {
        self.config.handshake_commands.push(cmd);
        self
    }
    /// Time allowed to open the socket (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }
    /// Time allowed for the handshake (default 5 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }
    /// Default response timeout of every request (default: none).
    pub fn response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.response_timeout = timeout;
        self
    }
    /// Drop the connection when requests are outstanding and nothing arrives for this long
    /// (default 30 s; must exceed the longest blocking command you use).
    pub fn unresponsive_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.unresponsive_timeout = timeout;
        self
    }
    /// `PING` after this long without traffic (default 15 s; `None` disables it).
    pub fn health_check_interval(mut self, interval: Option<Duration>) -> Self {
        self.config.health_check_interval = interval;
        self
    }
    /// Time allowed for the health check reply (default 5 s).
    pub fn health_check_timeout(mut self, timeout: Duration) -> Self {
        self.config.health_check_timeout = timeout;
        self
    }
    /// Time allowed for a graceful close (default 5 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config.drain_timeout = timeout;
        self
    }
    /// The whole reconnect backoff.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }
    /// Give up (state Failed) after this many failed attempts in a row (default: never).
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.config.backoff.max_attempts = attempts;
        self
    }
    /// Most requests waiting to be written (default 10 000).
    pub fn queue_limit(mut self, limit: usize) -> Self {
        self.config.queue_limit = limit;
        self
    }
    /// Queue (default) or fail fast while disconnected.
    pub fn queue_policy(mut self, policy: QueuePolicy) -> Self {
        self.config.queue_policy = policy;
        self
    }
    /// Decoder limits (default [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }
    /// Seed of the backoff jitter (default: different for every config), for reproducible runs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }
}

impl From<Config> for ClientConfig {
    fn from(config: Config) -> ClientConfig {
        ClientConfig { config }
    }
}

impl FromStr for ClientConfig {
    type Err = UrlError;
    fn from_str(url: &str) -> Result<ClientConfig, UrlError> {
        ClientConfig::from_url(url)
    }
}

impl TryFrom<&str> for ClientConfig {
    type Error = UrlError;
    fn try_from(url: &str) -> Result<ClientConfig, UrlError> {
        ClientConfig::from_url(url)
    }
}

fn parse_tcp(rest: &str) -> Result<ClientConfig, UrlError> {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    // The last '@' ends the user info, so an unescaped '@' in a password still works.
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let end = bracketed.find(']').ok_or(UrlError::MissingHost)?;
        let after = &bracketed[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UrlError::InvalidPort),
        };
        (&bracketed[..end], port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let port = match port {
        None => 6379,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => return Err(UrlError::InvalidPort),
        },
    };
    let mut config = ClientConfig::tcp(decode(host)?, port);
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            config.config.username = Some(decode(user)?);
        }
        if let Some(p) = password {
            config.config.password = Some(Password::new(decode(p)?));
        }
    }
    let path = path.trim_end_matches('/');
    if !path.is_empty() {
        config.config.database = parse_db(path)?;
    }
    Ok(config)
}

fn parse_db(s: &str) -> Result<u32, UrlError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidDatabase);
    }
    s.parse().map_err(|_| UrlError::InvalidDatabase)
}

/// Percent-decoding (`+` is left alone: it is a literal in URL user info and paths).
fn decode(s: &str) -> Result<String, UrlError> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(UrlError::InvalidEncoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| UrlError::InvalidEncoding)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| UrlError::InvalidEncoding)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::InvalidEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(config: &ClientConfig) -> (&str, u16) {
        match &config.core().endpoint {
            Endpoint::Tcp { host, port } => (host, *port),
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    #[test]
    fn full_tcp_url() {
        let c = ClientConfig::from_url("redis://alice:p%40ss:w@db.example:6380/3").unwrap();
        assert_eq!(tcp(&c), ("db.example", 6380));
        assert_eq!(c.core().username.as_deref(), Some("alice"));
        assert_eq!(c.core().password.as_ref().unwrap().expose(), "p@ss:w");
        assert_eq!(c.core().database, 3);
    }

    #[test]
    fn defaults_and_password_only() {
        let c = ClientConfig::from_url("redis://localhost").unwrap();
        assert_eq!(tcp(&c), ("localhost", 6379));
        assert_eq!(c.core().database, 0);
        assert!(c.core().username.is_none() && c.core().password.is_none());

        let c = ClientConfig::from_url("redis://:secret@h/").unwrap();
        assert!(c.core().username.is_none());
        assert_eq!(c.core().password.as_ref().unwrap().expose(), "secret");
    }

    #[test]
    fn ipv6_and_protocol() {
        let c = ClientConfig::from_url("redis://[::1]:7000?protocol=resp2").unwrap();
        assert_eq!(tcp(&c), ("::1", 7000));
        assert_eq!(c.core().protocol, ProtocolVersion::Resp2);
        let c = ClientConfig::from_url("redis://[::1]").unwrap();
        assert_eq!(tcp(&c), ("::1", 6379));
    }

    #[test]
    fn unix_urls() {
        for url in [
            "redis+unix:///tmp/r.sock?db=5&password=x",
            "unix:///tmp/r.sock?db=5&pass=x",
        ] {
            let c = ClientConfig::from_url(url).unwrap();
            assert_eq!(c.core().endpoint, Endpoint::Unix("/tmp/r.sock".into()));
            assert_eq!(c.core().database, 5);
            assert_eq!(c.core().password.as_ref().unwrap().expose(), "x");
        }
    }

    #[test]
    fn rejects_bad_urls_with_a_typed_reason() {
        let cases = [
            ("localhost:6379", UrlError::MissingScheme),
            ("rediss://h", UrlError::UnsupportedScheme("rediss".into())),
            ("redis://", UrlError::MissingHost),
            ("redis://:pw@:6379", UrlError::MissingHost),
            ("redis://h:0", UrlError::InvalidPort),
            ("redis://h:70000", UrlError::InvalidPort),
            ("redis://h:x", UrlError::InvalidPort),
            ("redis://h/-1", UrlError::InvalidDatabase),
            ("redis://h/1x", UrlError::InvalidDatabase),
            ("redis://u:%zz@h", UrlError::InvalidEncoding),
            (
                "redis://h?timeout=1",
                UrlError::UnknownParameter("timeout".into()),
            ),
            (
                "redis://h?protocol=4",
                UrlError::InvalidParameter("protocol".into()),
            ),
            ("unix://", UrlError::MissingPath),
        ];
        for (url, want) in cases {
            assert_eq!(ClientConfig::from_url(url).err(), Some(want), "{url}");
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = ClientConfig::from_url("redis://u:hunter2@h")
            .unwrap()
            .password("hunter3");
        let shown = format!("{c:?} {:?}", c.core());
        assert!(!shown.contains("hunter"), "{shown}");
    }
}
