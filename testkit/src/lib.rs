//! redwire-testkit (in progress).
