//! redwire-core: the sans-IO heart of redwire. (Crate docs in progress.)
#![warn(missing_docs)]

pub mod conn;
pub mod resp;
