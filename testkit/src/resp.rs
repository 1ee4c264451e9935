//! A minimal, blocking RESP reader and writer, so tests can look inside a server without using the
//! crates under test.
//!
//! It understands RESP2 and the common RESP3 types; it is test support, not a general decoder
//! (it trusts lengths, which is fine against a real `redis-server`).

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A reply as read by [`AdminConn`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+...`
    Status(String),
    /// `-...` or `!...`
    Error(String),
    /// `:...`
    Integer(i64),
    /// `$...`, `=...`, `,...`, `(...` (doubles and big numbers are kept as text)
    Bulk(Vec<u8>),
    /// `$-1`, `*-1`, `_`
    Nil,
    /// `*...`, `~...`, `>...`; maps (`%`) are flattened to key, value, key, value...
    Array(Vec<Reply>),
    /// `#t` / `#f`
    Bool(bool),
}

impl Reply {
    /// The reply as text: status, bulk (lossy UTF-8) or integer. `None` for anything else.
    pub fn as_str(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Integer(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// The reply as an integer: an integer reply, or a status/bulk that parses as one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(i) => Some(*i),
            Reply::Status(s) => s.parse().ok(),
            Reply::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(s) => f.write_str(s),
            Reply::Error(s) => write!(f, "(error) {s}"),
            Reply::Integer(i) => write!(f, "{i}"),
            Reply::Bulk(b) => f.write_str(&String::from_utf8_lossy(b)),
            Reply::Nil => f.write_str("(nil)"),
            Reply::Bool(b) => write!(f, "{b}"),
            Reply::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one reply from `r`.
pub fn read_reply<R: BufRead>(r: &mut R) -> io::Result<Reply> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_first().ok_or_else(|| bad("empty line"))?;
    let text = || String::from_utf8_lossy(rest).into_owned();
    let int = || -> io::Result<i64> {
        text()
            .parse()
            .map_err(|_| bad(format!("bad integer {:?}", text())))
    };
    Ok(match kind {
        b'+' => Reply::Status(text()),
        b'-' => Reply::Error(text()),
        b':' => Reply::Integer(int()?),
        b',' | b'(' => Reply::Bulk(rest.to_vec()),
        b'_' => Reply::Nil,
        b'#' => Reply::Bool(rest == b"t"),
        b'$' | b'=' | b'!' => {
            let n = int()?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(n as usize);
            match kind {
                b'!' => Reply::Error(String::from_utf8_lossy(&buf).into_owned()),
                _ => Reply::Bulk(buf),
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = int()?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let n = if *kind == b'%' { n * 2 } else { n };
            let mut items = Vec::with_capacity(n.min(1024) as usize);
            for _ in 0..n {
                items.push(read_reply(r)?);
            }
            Reply::Array(items)
        }
        other => return Err(bad(format!("unknown RESP type byte {:?}", *other as char))),
    })
}

fn read_line<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad("line without CRLF"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

/// A blocking connection for tests to inspect and steer a server.
#[derive(Debug)]
pub struct AdminConn {
    reader: BufReader<TcpStream>,
}

impl AdminConn {
    /// Connects with a timeout on connect, reads and writes.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<AdminConn> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(AdminConn {
            reader: BufReader::new(stream),
        })
    }

    /// Sends one command and reads its reply.
    pub fn command(&mut self, args: &[&str]) -> io::Result<Reply> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.command_bytes(&args)
    }

    /// Sends one command with binary arguments and reads its reply.
    pub fn command_bytes(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.send(args)?;
        read_reply(&mut self.reader)
    }

    /// Sends a command without waiting for its reply (for `SHUTDOWN`, `DEBUG SLEEP`...).
    pub fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let stream = self.reader.get_mut();
        stream.write_all(&encode_command(args))?;
        stream.flush()
    }

    /// Reads the next reply.
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        read_reply(&mut self.reader)
    }
}
