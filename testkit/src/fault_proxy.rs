//! A fault-injecting TCP proxy, for what a real proxy cannot be asked to do on cue.
//!
//! Each accepted connection gets an upstream connection to the target and two pump threads (one
//! per direction). Controls act at run time on every connection: stop forwarding without closing
//! (a black hole, as when a network path dies silently), delay, cut connections with a reset or
//! a FIN, cut a connection after exactly N bytes of server-to-client traffic (mid-reply), and
//! inject arbitrary bytes towards the client.
//!
//! Pumps read with a short timeout so they notice a cut within a few milliseconds even when no
//! traffic flows; the timeout is how they poll their controls, not a synchronisation sleep.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How pumps poll their controls while blocked.
const TICK: Duration = Duration::from_millis(10);

/// How a connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// An orderly close: both sides read EOF.
    Fin,
    /// An abortive close (`SO_LINGER` 0): both sides get a connection reset.
    Rst,
}

#[derive(Debug, Default)]
struct Controls {
    blackhole: bool,
    refuse: bool,
    delay: Duration,
    /// Bytes of server-to-client traffic still allowed before one connection is cut.
    cut_after: Option<(u64, Cut)>,
}

#[derive(Debug)]
struct Shared {
    target: Mutex<SocketAddr>,
    controls: Mutex<Controls>,
    changed: Condvar,
    conns: Mutex<Vec<Weak<Conn>>>,
    accepted: AtomicUsize,
    forwarded_to_client: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn controls(&self) -> MutexGuard<'_, Controls> {
        self.controls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self) -> Vec<Arc<Conn>> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.retain(|w| w.strong_count() > 0);
        conns
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| !c.is_cut())
            .collect()
    }

    /// Waits while the proxy is a black hole; false when the connection must end instead.
    fn pass_blackhole(&self, conn: Option<&Conn>) -> bool {
        let mut c = self.controls();
        while c.blackhole {
            if self.stop.load(Ordering::SeqCst) || conn.is_some_and(Conn::is_cut) {
                return false;
            }
            c = self
                .changed
                .wait_timeout(c, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

#[derive(Debug)]
struct Conn {
    client: TcpStream,
    server: TcpStream,
    cut: AtomicBool,
    /// Serialises writes to the client between the server pump and injections.
    client_write: Mutex<()>,
}

impl Conn {
    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    fn cut(&self, how: Cut) {
        if self.cut.swap(true, Ordering::SeqCst) {
            return;
        }
        match how {
            Cut::Fin => {
                let _ = self.client.shutdown(Shutdown::Both);
                let _ = self.server.shutdown(Shutdown::Both);
            }
            Cut::Rst => {
                // Linger 0 makes the final close send RST; shutting down reading only wakes the
                // pumps (nothing is sent), so the last of them to drop the connection closes it.
                set_linger_zero(&self.client);
                set_linger_zero(&self.server);
                let _ = self.client.shutdown(Shutdown::Read);
                let _ = self.server.shutdown(Shutdown::Read);
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        l_onoff: i32,
        l_linger: i32,
    }
    extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
    }
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    let l = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid open descriptor and a correctly sized `struct linger` (std has no stable
    // setter for SO_LINGER, and the testkit avoids dependencies).
    unsafe {
        setsockopt(
            s.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &l,
            std::mem::size_of::<Linger>() as u32,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn set_linger_zero(_: &TcpStream) {}

/// A threaded TCP proxy on a free loopback port with run-time fault controls. Stops on drop.
///
/// ```
/// use redwire_testkit::{FaultProxy, RedisServer, Reply};
/// use redwire_testkit::resp::AdminConn;
/// use std::time::Duration;
///
/// let server = RedisServer::start();
/// let proxy = FaultProxy::start(server.addr());
/// let mut conn = AdminConn::connect(proxy.addr(), Duration::from_secs(5)).unwrap();
/// assert_eq!(conn.command(&["PING"]).unwrap(), Reply::Status("PONG".into()));
/// assert_eq!(proxy.connections_accepted(), 1);
/// ```
#[derive(Debug)]
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts forwarding `127.0.0.1:<free port>` to `target`.
    pub fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the fault proxy");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            target: Mutex::new(target),
            controls: Mutex::new(Controls::default()),
            changed: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            forwarded_to_client: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept_thread = std::thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(listener, s))
            .expect("spawn the fault proxy");
        FaultProxy {
            shared,
            addr,
            accept_thread: Some(accept_thread),
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `redis://127.0.0.1:port` (the proxy).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.addr.port())
    }

    /// Sends new connections to `target` from now on (existing ones are unaffected).
    pub fn set_target(&self, target: SocketAddr) {
        *self.shared.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }

    /// Stops forwarding in both directions, on current and new connections, without closing
    /// anything: bytes are held, not lost, until [`FaultProxy::resume`].
    pub fn blackhole(&self) {
        self.shared.controls().blackhole = true;
        self.shared.changed.notify_all();
    }

    /// Forwards again after [`FaultProxy::blackhole`].
    pub fn resume(&self) {
        self.shared.controls().blackhole = false;
        self.shared.changed.notify_all();
    }

    /// Holds every chunk this long before forwarding it (both directions; zero to stop).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.controls().delay = delay;
    }

    /// While on, new connections are accepted and closed at once (as when nothing listens behind
    /// a load balancer); current connections are unaffected.
    pub fn refuse(&self, on: bool) {
        self.shared.controls().refuse = on;
        self.shared.changed.notify_all();
    }

    /// Cuts every current connection, on both sides. Returns how many were cut.
    pub fn cut_all(&self, how: Cut) -> usize {
        let live = self.shared.live();
        for c in &live {
            c.cut(how);
        }
        live.len()
    }

    /// Lets exactly `bytes` more bytes of server-to-client traffic through, then cuts the
    /// connection that carried the last of them (one connection, once). With `bytes` inside a
    /// reply, the client sees the reply start and then the connection die.
    pub fn cut_after_server_bytes(&self, bytes: u64, how: Cut) {
        self.shared.controls().cut_after = Some((bytes, how));
    }

    /// Whether a [`FaultProxy::cut_after_server_bytes`] is still waiting for its bytes.
    pub fn cut_pending(&self) -> bool {
        self.shared.controls().cut_after.is_some()
    }

    /// Writes `bytes` to the client side of every current connection, between forwarded chunks.
    /// Returns how many connections got them.
    pub fn inject_to_clients(&self, bytes: &[u8]) -> usize {
        let mut n = 0;
        for c in self.shared.live() {
            let _guard = c.client_write.lock().unwrap_or_else(|e| e.into_inner());
            if write_all_polling(&c.client, bytes, &self.shared, &c).is_ok() {
                n += 1;
            }
        }
        n
    }

    /// Connections accepted since start.
    pub fn connections_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections currently open (accepted, not cut, not closed by either side).
    pub fn live_connections(&self) -> usize {
        self.shared.live().len()
    }

    /// Total bytes forwarded from servers to clients (injections excluded).
    pub fn bytes_to_clients(&self) -> u64 {
        self.shared.forwarded_to_client.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        self.cut_all(Cut::Fin);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = stream else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let s = shared.clone();
        let _ = std::thread::Builder::new()
            .name("fault-proxy-conn".into())
            .spawn(move || connect_upstream(client, s));
    }
}

fn connect_upstream(client: TcpStream, shared: Arc<Shared>) {
    if shared.controls().refuse {
        return;
    }
    // A black hole also swallows new connections: the client's connect succeeds (the kernel
    // accepted it) but nothing ever answers.
    if !shared.pass_blackhole(None) {
        return;
    }
    let target = *shared.target.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
        // Nothing listens behind the proxy: close the client side, as HAProxy does.
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    for s in [&client, &server] {
        let _ = s.set_read_timeout(Some(TICK));
        let _ = s.set_write_timeout(Some(TICK));
    }
    let conn = Arc::new(Conn {
        client,
        server,
        cut: AtomicBool::new(false),
        client_write: Mutex::new(()),
    });
    shared
        .conns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::downgrade(&conn));
    let (c2, s2) = (conn.clone(), shared.clone());
    let up = std::thread::Builder::new()
        .name("fault-proxy-up".into())
        .spawn(move || pump(&c2, &s2, false));
    pump(&conn, &shared, true);
    if let Ok(up) = up {
        let _ = up.join();
    }
}

/// Writes everything, retrying on the short write timeout, until done or the connection is cut.
fn write_all_polling(
    dst: &TcpStream,
    mut bytes: &[u8],
    shared: &Shared,
    conn: &Conn,
) -> io::Result<()> {
    let mut dst = dst;
    while !bytes.is_empty() {
        if conn.is_cut() || shared.stop.load(Ordering::SeqCst) {
            return Err(ErrorKind::ConnectionAborted.into());
        }
        match dst.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Forwards one direction until EOF, an error or a cut.
fn pump(conn: &Conn, shared: &Shared, to_client: bool) {
    let (mut src, dst) = if to_client {
        (&conn.server, &conn.client)
    } else {
        (&conn.client, &conn.server)
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if conn.is_cut() || shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let n = match src.read(&mut buf) {
            Ok(0) => {
                // Pass the half-close on (unless this EOF is our own cut waking the read); the
                // other direction carries on until it ends too.
                if !conn.is_cut() {
                    let _ = dst.shutdown(Shutdown::Write);
                }
                return;
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(_) => {
                // A reset on one side is passed on as a reset on the other.
                conn.cut(Cut::Rst);
                return;
            }
        };
        if !shared.pass_blackhole(Some(conn)) {
            return;
        }
        let delay = shared.controls().delay;
        if !delay.is_zero() {
            let until = Instant::now() + delay;
            while Instant::now() < until {
                if conn.is_cut() {
                    return;
                }
                std::thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
            }
        }
        let mut chunk = &buf[..n];
        let mut cut_now = None;
        if to_client {
            let mut c = shared.controls();
            if let Some((left, how)) = c.cut_after {
                if (chunk.len() as u64) >= left {
                    chunk = &chunk[..left as usize];
                    c.cut_after = None;
                    cut_now = Some(how);
                } else {
                    c.cut_after = Some((left - chunk.len() as u64, how));
                }
            }
        }
        let written = if to_client {
            let _guard = conn.client_write.lock().unwrap_or_else(|e| e.into_inner());
            let r = write_all_polling(dst, chunk, shared, conn);
            if r.is_ok() {
                shared
                    .forwarded_to_client
                    .fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
            r
        } else {
            write_all_polling(dst, chunk, shared, conn)
        };
        if let Some(how) = cut_now {
            conn.cut(how);
            return;
        }
        if written.is_err() {
            conn.cut(Cut::Rst);
            return;
        }
    }
}
