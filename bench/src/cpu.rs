//! CPU time, user and system together, from `getrusage`: of this process (every thread), and
//! of the child processes it has waited for.
//!
//! Throughput on a shared core is one over the sum of the server's and the client's CPU time
//! per operation, so each client's CPU time per operation is the figure its speed comes from,
//! whatever the scheduler does with the processes.

use std::time::Duration;

/// CPU time used by this process so far.
pub fn process() -> Duration {
    usage(libc::RUSAGE_SELF)
}

/// CPU time used by the children of this process that it has waited for.
pub fn children() -> Duration {
    usage(libc::RUSAGE_CHILDREN)
}

fn usage(who: libc::c_int) -> Duration {
    // SAFETY: `rusage` is plain integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `getrusage` writes one `rusage` through the pointer, which points at one.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
