//! An `haproxy` child process in TCP mode in front of one Redis backend, with a Redis health check.
//!
//! This is the production setup redwire was written for: HAProxy checks the backend with `PING`
//! every 100 ms and, when the backend is marked down, closes every client session
//! (`on-marked-down shutdown-sessions`). A client must notice, reconnect, and carry on once the
//! backend is marked up again.

use std::fmt::Write as _;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use crate::process::{self, ChildProcess, Service, START_TIMEOUT};
use crate::resp::{AdminConn, Reply};
use crate::tempdir::TempDir;

/// Configuration of an [`Haproxy`].
#[derive(Debug, Clone)]
pub struct HaproxyBuilder {
    backend: SocketAddr,
    inter: Duration,
    fall: u32,
    rise: u32,
    check_password: Option<String>,
    wait_backend_up: bool,
    client_timeout: Duration,
}

fn ms(d: Duration) -> u128 {
    d.as_millis().max(1)
}

impl HaproxyBuilder {
    /// Health check interval (default 100 ms).
    pub fn inter(mut self, inter: Duration) -> Self {
        self.inter = inter;
        self
    }

    /// Failed checks before the backend is marked down (default 2).
    pub fn fall(mut self, fall: u32) -> Self {
        self.fall = fall;
        self
    }

    /// Passed checks before the backend is marked up (default 1).
    pub fn rise(mut self, rise: u32) -> Self {
        self.rise = rise;
        self
    }

    /// Authenticate the health check with `AUTH <password>` before `PING`.
    pub fn check_password(mut self, password: &str) -> Self {
        self.check_password = Some(password.to_owned());
        self
    }

    /// HAProxy's `timeout client` / `timeout server`: idle sessions are closed after this long
    /// (default one hour, so it never interferes unless a test asks for it).
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.client_timeout = timeout;
        self
    }

    /// Whether [`HaproxyBuilder::start`] waits for the backend to be marked up (default true).
    pub fn wait_backend_up(mut self, wait: bool) -> Self {
        self.wait_backend_up = wait;
        self
    }

    fn config_file(&self, port: u16, dir: &TempDir) -> String {
        let mut c = String::new();
        let sock = dir.path().join("admin.sock");
        let _ = writeln!(c, "global");
        let _ = writeln!(c, "    maxconn 1024");
        let _ = writeln!(
            c,
            "    stats socket {} mode 600 level admin",
            sock.display()
        );
        let _ = writeln!(c, "defaults");
        let _ = writeln!(c, "    mode tcp");
        let _ = writeln!(c, "    timeout connect 1s");
        let _ = writeln!(c, "    timeout client {}ms", ms(self.client_timeout));
        let _ = writeln!(c, "    timeout server {}ms", ms(self.client_timeout));
        let _ = writeln!(c, "    timeout check {}ms", ms(self.inter).max(500));
        let _ = writeln!(c, "frontend redis_in");
        let _ = writeln!(c, "    bind 127.0.0.1:{port}");
        let _ = writeln!(c, "    default_backend redis_out");
        let _ = writeln!(c, "backend redis_out");
        let _ = writeln!(c, "    option tcp-check");
        let _ = writeln!(c, "    tcp-check connect");
        if let Some(p) = &self.check_password {
            let _ = writeln!(c, "    tcp-check send AUTH\\ {p}\\r\\n");
            let _ = writeln!(c, "    tcp-check expect string +OK");
        }
        let _ = writeln!(c, "    tcp-check send PING\\r\\n");
        let _ = writeln!(c, "    tcp-check expect string +PONG");
        let _ = writeln!(c, "    tcp-check send QUIT\\r\\n");
        let _ = writeln!(c, "    tcp-check expect string +OK");
        let _ = writeln!(
            c,
            "    server redis {} check inter {}ms fall {} rise {} on-marked-down shutdown-sessions",
            self.backend,
            ms(self.inter),
            self.fall,
            self.rise
        );
        c
    }

    /// Starts HAProxy on a free loopback port and waits until it accepts connections (and, by
    /// default, until the backend is marked up).
    ///
    /// # Panics
    /// If `haproxy` is not installed or does not start.
    pub fn start(self) -> Haproxy {
        let dir =
            TempDir::new("redwire-haproxy").expect("create a temporary directory for haproxy");
        let mut h = Haproxy {
            process: ChildProcess::default(),
            builder: self,
            dir,
        };
        process::start_on_free_port(&mut h);
        if h.builder.wait_backend_up {
            h.wait_backend_status(true, START_TIMEOUT);
        }
        h
    }
}

/// An `haproxy` child process (`haproxy -f cfg -db`) on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct Haproxy {
    // First, so the process is killed before its directory is removed.
    process: ChildProcess,
    builder: HaproxyBuilder,
    dir: TempDir,
}

impl Haproxy {
    /// A builder for a proxy in front of `backend`.
    pub fn builder(backend: SocketAddr) -> HaproxyBuilder {
        HaproxyBuilder {
            backend,
            inter: Duration::from_millis(100),
            fall: 2,
            rise: 1,
            check_password: None,
            wait_backend_up: true,
            client_timeout: Duration::from_secs(3600),
        }
    }

    /// Starts a proxy in front of `backend` with the defaults, once the backend is marked up.
    pub fn start(backend: SocketAddr) -> Haproxy {
        Haproxy::builder(backend).start()
    }

    /// The frontend port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The frontend address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port()))
    }

    /// `redis://127.0.0.1:port` (the frontend).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port())
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Whether the process is alive.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// HAProxy's view of the backend server: `"UP"`, `"DOWN"`, `"UP 1/2"`... from `show stat`.
    pub fn backend_status(&self) -> io::Result<String> {
        let mut s = UnixStream::connect(self.dir.path().join("admin.sock"))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"show stat\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        let mut lines = out.lines();
        let header = lines.next().unwrap_or("").trim_start_matches("# ");
        let cols: Vec<&str> = header.split(',').collect();
        let col = |name: &str| cols.iter().position(|c| *c == name);
        let (px, sv, st) = match (col("pxname"), col("svname"), col("status")) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    format!("unexpected show stat output: {out}"),
                ))
            }
        };
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            if f.get(px) == Some(&"redis_out") && f.get(sv) == Some(&"redis") {
                return Ok(f.get(st).unwrap_or(&"").to_string());
            }
        }
        Err(io::Error::new(
            ErrorKind::NotFound,
            "backend server not in show stat",
        ))
    }

    /// Whether HAProxy currently considers the backend up (its health check passes).
    pub fn backend_is_up(&self) -> bool {
        self.backend_status()
            .map(|s| s.starts_with("UP"))
            .unwrap_or(false)
    }

    /// Waits until HAProxy marks the backend up (`true`) or down (`false`).
    ///
    /// # Panics
    /// If that does not happen within `timeout`.
    #[track_caller]
    pub fn wait_backend_status(&self, up: bool, timeout: Duration) {
        let ok = crate::wait::wait_until(timeout, || self.backend_is_up() == up);
        if !ok {
            panic!(
                "haproxy did not mark the backend {} within {timeout:?} (status: {:?})\n{}",
                if up { "up" } else { "down" },
                self.backend_status(),
                self.log()
            );
        }
    }

    /// What HAProxy printed (warnings, alerts, health check changes).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }

    /// Sends `PING` through the proxy; `Ok(true)` when the backend answered `PONG`.
    pub fn ping_through(&self) -> io::Result<bool> {
        let mut c = AdminConn::connect(self.addr(), Duration::from_secs(2))?;
        Ok(c.command(&["PING"])? == Reply::Status("PONG".into()))
    }
}

impl Service for Haproxy {
    const PROGRAM: &'static str = "haproxy";
    const BINARY_ENV: &'static str = "REDWIRE_HAPROXY";

    fn process(&mut self) -> &mut ChildProcess {
        &mut self.process
    }

    fn configure(&self, command: &mut Command) -> io::Result<()> {
        let cfg = self.dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, self.builder.config_file(self.port(), &self.dir))?;
        let log = std::fs::File::create(self.dir.path().join("haproxy.log"))?;
        command
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .stdout(log.try_clone()?)
            .stderr(log);
        Ok(())
    }

    fn is_ready(&self, _pid: u32) -> bool {
        // The admin socket (in this process's private directory) answering means this process,
        // not another holder of the port, is up; a frontend connection then shows it listens.
        self.backend_status().is_ok()
            && AdminConn::connect(self.addr(), Duration::from_secs(1)).is_ok()
    }

    fn startup_log(&self) -> String {
        self.log()
    }
}
