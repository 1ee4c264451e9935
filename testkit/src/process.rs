//! The life cycle the testkit's child processes (`redis-server`, `haproxy`) share: find the
//! binary, spawn it on a free loopback port (another one if the port was taken meanwhile), wait
//! until this very process is ready, and kill and reap it.

use std::io::{self, ErrorKind};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before it is declared failed.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How many fresh ports a first start tries before giving up.
const PORT_ATTEMPTS: usize = 8;

/// A child process and the loopback port it listens on (kept across restarts), killed and
/// reaped on drop.
#[derive(Debug, Default)]
pub(crate) struct ChildProcess {
    child: Option<Child>,
    port: u16,
}

impl ChildProcess {
    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The process id, while running.
    pub(crate) fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is alive (reaps it if it exited).
    pub(crate) fn is_running(&mut self) -> bool {
        match &mut self.child {
            None => false,
            Some(child) => match child.try_wait() {
                Ok(None) => true,
                _ => {
                    self.child = None;
                    false
                }
            },
        }
    }

    /// Kills the process with SIGKILL and reaps it. Does nothing if it is not running.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A server the testkit runs as a child process listening on a loopback port.
pub(crate) trait Service {
    /// The program's name, which is also the binary looked up on `PATH`.
    const PROGRAM: &'static str;
    /// The environment variable that names the binary's path instead.
    const BINARY_ENV: &'static str;

    /// The child process.
    fn process(&mut self) -> &mut ChildProcess;
    /// Writes the configuration for the current port and adds the arguments (and, if needed,
    /// output redirections) to `command`.
    fn configure(&self, command: &mut Command) -> io::Result<()>;
    /// Whether the process `pid`, just spawned, is the one answering on the port and is ready
    /// for tests.
    fn is_ready(&self, pid: u32) -> bool;
    /// What the process logged, for failure messages.
    fn startup_log(&self) -> String;
}

fn binary<S: Service>() -> PathBuf {
    std::env::var_os(S::BINARY_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(S::PROGRAM))
}

/// Spawns `service` on its current port and waits until that very process is ready.
///
/// # Panics
/// If the binary is not installed: no retry can help.
pub(crate) fn spawn<S: Service>(service: &mut S) -> io::Result<()> {
    let mut command = Command::new(binary::<S>());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    service.configure(&mut command)?;
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "`{}` is not installed (or not on PATH): run scripts/test, which installs it \
             (or set {} to its path)",
            S::PROGRAM,
            S::BINARY_ENV
        ),
        Err(e) => return Err(e),
    };
    let pid = child.id();
    service.process().child = Some(child);
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if !service.process().is_running() {
            return Err(io::Error::other(format!(
                "{} exited during start on port {}",
                S::PROGRAM,
                service.process().port
            )));
        }
        if service.is_ready(pid) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            service.process().kill();
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("{} did not become ready in time", S::PROGRAM),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spawns `service` on a free loopback port, trying fresh ports while the spawn fails (another
/// process may take a port between the probe and the bind).
///
/// # Panics
/// If no attempt succeeds.
pub(crate) fn start_on_free_port<S: Service>(service: &mut S) {
    let mut last = None;
    for _ in 0..PORT_ATTEMPTS {
        service.process().port = crate::port::free_port();
        match spawn(service) {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
    }
    panic!(
        "could not start {}: {}\n{}",
        S::PROGRAM,
        last.map(|e| e.to_string()).unwrap_or_default(),
        service.startup_log()
    );
}
