//! Waiting for a condition with a bounded deadline, instead of sleeping and hoping.

use std::time::{Duration, Instant};

/// Polls `cond` until it returns `true` or `timeout` passes; returns whether it became true.
///
/// The poll interval starts at 1 ms and grows to 20 ms, so fast events are seen quickly
/// without spinning a core while waiting for slow ones.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if cond() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Like [`wait_until`], but panics with `what` when the deadline passes.
#[track_caller]
pub fn wait_for(what: &str, timeout: Duration, cond: impl FnMut() -> bool) {
    if !wait_until(timeout, cond) {
        panic!("timed out after {timeout:?} waiting for {what}");
    }
}
