//! CPU time, user and system, from `getrusage`: of this process (every thread), and of the
//! child processes it has waited for.
//!
//! Throughput on a shared core is one over the sum of the server's and the client's CPU time
//! per operation, so each client's CPU time per operation is the figure its speed comes from,
//! whatever the scheduler does with the processes.

use std::time::Duration;

/// CPU time, in user space and in the kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub user: Duration,
    pub system: Duration,
}

impl Cpu {
    /// The time spent since `earlier` per operation, in nanoseconds: user and system together,
    /// and user alone.
    pub fn per_op_since(self, earlier: Cpu, ops: f64) -> (f64, f64) {
        let user = self.user.saturating_sub(earlier.user);
        let system = self.system.saturating_sub(earlier.system);
        let ns = |d: Duration| d.as_nanos() as f64 / ops;
        (ns(user + system), ns(user))
    }
}

/// CPU time used by this process so far.
pub fn process() -> Cpu {
    usage(libc::RUSAGE_SELF)
}

/// CPU time used by the children of this process that it has waited for.
pub fn children() -> Cpu {
    usage(libc::RUSAGE_CHILDREN)
}

fn usage(who: libc::c_int) -> Cpu {
    // SAFETY: `rusage` is plain integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `getrusage` writes one `rusage` through the pointer, which points at one.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Cpu::default();
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Cpu {
        user: time(usage.ru_utime),
        system: time(usage.ru_stime),
    }
}
