//! redwire-async-std (in progress).
