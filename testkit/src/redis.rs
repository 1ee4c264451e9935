//! A `redis-server` child process on a free loopback port.

use std::fmt::Write as _;
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{self, ChildProcess, Service, START_TIMEOUT};
use crate::resp::{AdminConn, Reply};
use crate::tempdir::TempDir;
use crate::wait::wait_until;

/// Timeout of each admin connection's connect, read and write.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Quotes a configuration argument for a redis.conf line.
fn quote(arg: &str) -> String {
    let mut out = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Configuration of a [`RedisServer`], kept for restarts.
#[derive(Debug, Clone, Default)]
pub struct RedisBuilder {
    requirepass: Option<String>,
    users: Vec<String>,
    protected_mode: Option<bool>,
    directives: Vec<(String, Vec<String>)>,
    admin: Option<(String, String)>,
}

impl RedisBuilder {
    /// Sets `requirepass` (the `default` user's password).
    pub fn requirepass(mut self, password: &str) -> Self {
        self.requirepass = Some(password.to_owned());
        self
    }

    /// Adds an ACL user, as the rest of a `user` config line: `"alice on >secret ~* &* +@all"`.
    pub fn user(mut self, acl_rule: &str) -> Self {
        self.users.push(acl_rule.to_owned());
        self
    }

    /// Sets `protected-mode` (Redis's default is `yes`; loopback clients are allowed either way).
    pub fn protected_mode(mut self, on: bool) -> Self {
        self.protected_mode = Some(on);
        self
    }

    /// Adds any `key value...` directive, e.g. `config("maxclients", &["100"])`.
    pub fn config(mut self, key: &str, values: &[&str]) -> Self {
        self.directives.push((
            key.to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        ));
        self
    }

    /// Credentials the test helpers ([`RedisServer::command`], readiness) authenticate with.
    /// Defaults to `default` with the `requirepass` password, if any.
    pub fn admin(mut self, user: &str, password: &str) -> Self {
        self.admin = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Starts the server on a free loopback port and waits until it answers.
    ///
    /// # Panics
    /// If `redis-server` is not installed, or no server could be started.
    pub fn start(self) -> RedisServer {
        let dir =
            TempDir::new("redwire-redis").expect("create a temporary directory for redis-server");
        let mut server = RedisServer {
            process: ChildProcess::default(),
            builder: self,
            dir,
        };
        process::start_on_free_port(&mut server);
        server
    }

    fn config_file(&self, dir: &Path) -> String {
        let mut c = String::new();
        let dir = dir.to_str().expect("temporary directory path is UTF-8");
        let _ = writeln!(c, "bind 127.0.0.1");
        let _ = writeln!(c, "save \"\"");
        let _ = writeln!(c, "appendonly no");
        let _ = writeln!(c, "enable-debug-command yes");
        let _ = writeln!(c, "daemonize no");
        let _ = writeln!(c, "dir {}", quote(dir));
        let _ = writeln!(c, "logfile {}", quote(&format!("{dir}/redis.log")));
        if let Some(on) = self.protected_mode {
            let _ = writeln!(c, "protected-mode {}", if on { "yes" } else { "no" });
        }
        if let Some(p) = &self.requirepass {
            let _ = writeln!(c, "requirepass {}", quote(p));
        }
        for u in &self.users {
            // ACL rules are whitespace-separated words; each is one argument.
            let _ = writeln!(c, "user {u}");
        }
        for (k, vs) in &self.directives {
            let _ = write!(c, "{k}");
            for v in vs {
                let _ = write!(c, " {}", quote(v));
            }
            let _ = writeln!(c);
        }
        c
    }

    fn admin_credentials(&self) -> Option<(String, String)> {
        self.admin
            .clone()
            .or_else(|| self.requirepass.clone().map(|p| ("default".to_owned(), p)))
    }
}

/// A `redis-server` child process on a free loopback port, killed on drop.
///
/// Persistence is off (`save ""`, `appendonly no`), `DEBUG` is enabled, and its files live in a
/// private temporary directory.
///
/// ```
/// let server = redwire_testkit::RedisServer::start();
/// server.command(&["SET", "k", "v"]);
/// assert_eq!(server.command(&["GET", "k"]).as_str().as_deref(), Some("v"));
/// ```
#[derive(Debug)]
pub struct RedisServer {
    // First, so the process is killed before its directory is removed.
    process: ChildProcess,
    builder: RedisBuilder,
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server with the default configuration.
    pub fn start() -> RedisServer {
        RedisBuilder::default().start()
    }

    /// A builder for extra configuration.
    pub fn builder() -> RedisBuilder {
        RedisBuilder::default()
    }

    /// The port it listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port()))
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port())
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }

    /// Whether the process is alive (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Kills the process with SIGKILL and reaps it. Does nothing if it is not running.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the server again on the same port, with the same configuration (as changed by
    /// [`RedisServer::set_requirepass`]). Retries while the port is still held.
    ///
    /// # Panics
    /// If it is already running, or does not come up within 15 seconds.
    pub fn start_again(&mut self) {
        assert!(
            !self.is_running(),
            "start_again: redis-server is still running"
        );
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match process::spawn(self) {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!(
                    "could not restart redis-server on port {}: {e}\n{}",
                    self.port(),
                    self.log_tail()
                ),
            }
        }
    }

    /// Kills (SIGKILL) and starts again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.start_again();
    }

    /// Sends `SHUTDOWN NOSAVE` and waits for the process to exit (SIGKILL after 10 seconds).
    pub fn shutdown_nosave(&mut self) {
        if !self.is_running() {
            return;
        }
        if let Ok(mut conn) = self.admin_conn() {
            let _ = conn.send(&[b"SHUTDOWN", b"NOSAVE"]);
            // The server closes the connection instead of replying when the shutdown succeeds.
            let _ = conn.read_reply();
        }
        let exited = wait_until(Duration::from_secs(10), || !self.is_running());
        if !exited {
            self.kill();
        }
    }

    /// Changes the `default` user's password: now (`CONFIG SET`) if running, and for later starts.
    /// The test helpers authenticate with the new password from then on.
    pub fn set_requirepass(&mut self, password: Option<&str>) {
        if self.is_running() {
            let r = self.command(&["CONFIG", "SET", "requirepass", password.unwrap_or("")]);
            assert!(!r.is_error(), "CONFIG SET requirepass failed: {r}");
        }
        self.builder.requirepass = password.map(str::to_owned);
        if self
            .builder
            .admin
            .as_ref()
            .is_some_and(|(u, _)| u == "default")
        {
            self.builder.admin = None;
        }
    }

    /// Opens an authenticated admin connection.
    pub fn admin_conn(&self) -> io::Result<AdminConn> {
        let mut conn = AdminConn::connect(self.addr(), ADMIN_TIMEOUT)?;
        if let Some((user, pass)) = self.builder.admin_credentials() {
            let r = conn.command(&["AUTH", &user, &pass])?;
            if r.is_error() {
                return Err(io::Error::new(
                    ErrorKind::PermissionDenied,
                    format!("AUTH failed: {r}"),
                ));
            }
        }
        Ok(conn)
    }

    /// Runs one command on a fresh authenticated connection, returning its reply (error replies
    /// included).
    pub fn try_command(&self, args: &[&str]) -> io::Result<Reply> {
        self.admin_conn()?.command(args)
    }

    /// Runs one command on a fresh authenticated connection, e.g. `GET`, `DBSIZE`, `CONFIG SET`.
    ///
    /// # Panics
    /// If the server cannot be reached (an error reply is returned, not a panic).
    #[track_caller]
    pub fn command(&self, args: &[&str]) -> Reply {
        match self.try_command(args) {
            Ok(r) => r,
            Err(e) => panic!(
                "command {args:?} to redis-server on port {} failed: {e}",
                self.port()
            ),
        }
    }

    /// The end of the server's log file, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Service for RedisServer {
    const PROGRAM: &'static str = "redis-server";
    const BINARY_ENV: &'static str = "REDWIRE_REDIS_SERVER";

    fn process(&mut self) -> &mut ChildProcess {
        &mut self.process
    }

    fn configure(&self, command: &mut Command) -> io::Result<()> {
        let conf = self.dir.path().join("redis.conf");
        std::fs::write(&conf, self.builder.config_file(self.dir.path()))?;
        command
            .arg(&conf)
            .arg("--port")
            .arg(self.port().to_string());
        Ok(())
    }

    fn is_ready(&self, pid: u32) -> bool {
        // Ready when the process we started (not some other process that holds the port)
        // answers and has finished loading its data (INFO is served while loading).
        let Ok(Reply::Bulk(info)) = self.try_command(&["INFO", "server", "persistence"]) else {
            return false;
        };
        let info = String::from_utf8_lossy(&info);
        let ours = info
            .lines()
            .any(|l| l.trim() == format!("process_id:{pid}"));
        let loaded = info.lines().any(|l| l.trim() == "loading:0");
        ours && loaded
    }

    fn startup_log(&self) -> String {
        self.log_tail()
    }
}
