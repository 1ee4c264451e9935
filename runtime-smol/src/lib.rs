//! redwire-smol (in progress).
