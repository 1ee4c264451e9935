//! A throwaway `redis-server` on a free loopback port, owned by the benchmark.
//!
//! The recovery scenario kills it with SIGKILL and starts it again on the same
//! port, so the port is remembered and the process handle is replaceable.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with persistence off and room for the idle-connection run.
    pub fn start() -> std::io::Result<RedisServer> {
        // Binding port 0 asks the kernel for a free port; it is released just before
        // redis-server binds it, which is the usual (small) race every test harness accepts.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("redwire-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut server = RedisServer {
            port,
            dir,
            child: None,
        };
        server.spawn()?;
        server.wait_ready(Duration::from_secs(10))?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--maxclients", "10000"])
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    pub fn wait_ready(&self, deadline: Duration) -> std::io::Result<Instant> {
        wait_ready(self.port, deadline)
    }

    /// SIGKILL, as a crash would: no goodbye on the clients' sockets beyond the kernel's RST/FIN.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]).
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        self.spawn()
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn flushall(&self) {
        let _ = command(self.port, b"*1\r\n$8\r\nFLUSHALL\r\n");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls with `PING` until the server on `port` answers; returns when it did.
pub fn wait_ready(port: u16, deadline: Duration) -> std::io::Result<Instant> {
    let start = Instant::now();
    loop {
        if ping(port) {
            return Ok(Instant::now());
        }
        if start.elapsed() > deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "redis-server did not answer PING",
            ));
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn ping(port: u16) -> bool {
    matches!(command(port, b"*1\r\n$4\r\nPING\r\n"), Some(reply) if reply.starts_with(b"+PONG"))
}

fn command(port: u16, request: &[u8]) -> Option<Vec<u8>> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
            .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(request).ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}
