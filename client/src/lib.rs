//! redwire-client (in progress).
