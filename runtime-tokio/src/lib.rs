//! redwire-tokio (in progress).
