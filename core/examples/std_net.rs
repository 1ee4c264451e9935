//! A complete blocking event loop over `std::net` driving the sans-IO [`Connection`]:
//! one thread, one socket, no runtime.
//!
//! ```text
//! cargo run -p redwire-core --example std_net -- 127.0.0.1:6379
//! ```
//!
//! It sets and reads back a key, prints every state transition, and closes gracefully.
//! Kill the server while it runs (or `CLIENT KILL` it) to watch it reconnect.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use redwire_core::conn::{Config, Connection, Endpoint, Input, Output, Request};
use redwire_core::resp::cmd;

/// Owns the socket and runs the loop; what the application sees comes out of `step`.
pub struct Driver {
    pub conn: Connection,
    socket: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Driver {
    pub fn new(config: Config) -> Driver {
        Driver {
            conn: Connection::new(config, Instant::now()),
            socket: None,
            buf: vec![0; 16 * 1024],
        }
    }

    /// One turn of the loop: block until bytes arrive or the next deadline passes, feed
    /// that in, and carry out every output (handing replies, pushes and transitions to `app`).
    pub fn step(&mut self, app: &mut impl FnMut(&mut Connection, Output)) -> io::Result<()> {
        self.drain(app);
        if self.conn.state().is_terminal() {
            return Ok(());
        }
        self.wait()?;
        self.drain(app);
        Ok(())
    }

    /// Carries out outputs until there are none.
    fn drain(&mut self, app: &mut impl FnMut(&mut Connection, Output)) {
        while let Some(output) = self.conn.poll_output() {
            let now = Instant::now();
            match output {
                Output::Open(endpoint) => {
                    match connect(&endpoint, self.conn.config().connect_timeout) {
                        Ok(s) => {
                            self.socket = Some(s);
                            self.conn.handle_input(Input::SocketOpened, now);
                        }
                        Err(e) => self.conn.handle_input(Input::OpenFailed(e.kind()), now),
                    }
                }
                Output::Transmit(bytes) => {
                    let socket = self
                        .socket
                        .as_mut()
                        .expect("Transmit only comes with an open socket");
                    match socket.write_all(&bytes) {
                        Ok(()) => self.conn.handle_input(Input::Written(bytes.len()), now),
                        Err(e) => self.conn.handle_input(Input::IoError(e.kind()), now),
                    }
                }
                Output::CloseSocket(_) => self.socket = None,
                other => app(&mut self.conn, other),
            }
        }
    }

    /// Waits for bytes or the next deadline, whichever comes first, and feeds it in.
    fn wait(&mut self) -> io::Result<()> {
        let wait = self
            .conn
            .poll_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()));
        let Some(socket) = self.socket.as_mut() else {
            // Between sockets (backoff): nothing to read, just wait for the deadline.
            std::thread::sleep(wait.unwrap_or(Duration::from_millis(100)));
            self.conn.handle_input(Input::Timeout, Instant::now());
            return Ok(());
        };
        // std treats a zero read timeout as an error: wait at least a millisecond.
        socket.set_read_timeout(wait.map(|w| w.max(Duration::from_millis(1))))?;
        let input = match socket.read(&mut self.buf) {
            Ok(0) => Input::Eof,
            Ok(n) => Input::Received(&self.buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Input::Timeout
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => Input::IoError(e.kind()),
        };
        self.conn.handle_input(input, Instant::now());
        Ok(())
    }
}

fn connect(endpoint: &Endpoint, timeout: Duration) -> io::Result<TcpStream> {
    let Endpoint::Tcp { host, port } = endpoint else {
        return Err(ErrorKind::Unsupported.into());
    };
    let addr = (host.as_str(), *port)
        .to_socket_addrs()?
        .next()
        .ok_or(ErrorKind::NotFound)?;
    let socket = TcpStream::connect_timeout(&addr, timeout)?;
    socket.set_nodelay(true)?;
    Ok(socket)
}

#[allow(dead_code)] // `main` is unused when a test includes this file as a module.
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:6379".into());
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let config = Config::new(Endpoint::tcp(host, port.parse().expect("port")));
    let mut driver = Driver::new(config);
    let now = Instant::now();
    driver.conn.submit(
        Request::single(&cmd("SET").arg("greeting").arg("hello")),
        now,
    );
    driver
        .conn
        .submit(Request::single(&cmd("GET").arg("greeting")), now);
    let mut answered = 0;
    while !driver.conn.state().is_terminal() {
        driver.step(&mut |conn, output| match output {
            Output::Reply { id, result } => {
                println!("{id:?}: {result:?}");
                answered += 1;
                if answered == 2 {
                    conn.handle_input(Input::Close, Instant::now());
                }
            }
            Output::Push(value) => println!("push: {value:?}"),
            Output::Transition(t) => println!("{} -> {} {:?}", t.from, t.to, t.reason),
            _ => {}
        })?;
    }
    Ok(())
}
