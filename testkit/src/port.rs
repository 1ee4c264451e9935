//! Free loopback ports.

use std::net::{Ipv4Addr, TcpListener};

/// A loopback port that was free a moment ago (the OS picked it for a listener that is then closed).
///
/// Another process may take it before it is used, so callers that start a server on it retry with
/// a new port when the server fails to bind.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}
