//! Shared harness of the end-to-end suites (in progress).
