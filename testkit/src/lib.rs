//! Test support for redwire: real `redis-server` and `haproxy` processes, and a fault-injecting TCP
//! proxy, each on free loopback ports and cleaned up on drop.
//!
//! It depends on nothing but `std`, and in particular not on the crates it tests: it talks to the
//! server with its own minimal RESP reader ([`resp`]).
//!
//! ```
//! use redwire_testkit::RedisServer;
//!
//! let mut server = RedisServer::start();
//! server.command(&["SET", "greeting", "hello"]);
//! assert_eq!(server.command(&["DBSIZE"]).as_int(), Some(1));
//! server.restart(); // same port, empty again (persistence is off)
//! assert_eq!(server.command(&["DBSIZE"]).as_int(), Some(0));
//! ```

mod fault_proxy;
mod haproxy;
mod port;
mod process;
mod redis;
pub mod resp;
mod tempdir;
mod wait;

pub use fault_proxy::{Cut, FaultProxy};
pub use haproxy::{Haproxy, HaproxyBuilder};
pub use port::free_port;
pub use redis::{RedisBuilder, RedisServer};
pub use resp::Reply;
pub use tempdir::TempDir;
pub use wait::{wait_for, wait_until};
