//! redwire: a Redis client whose connections survive the real world. (Docs in progress.)
pub use redwire_core as core;
