//! Reconnect delays: exponential backoff with jitter from a seedable source.
//!
//! The jitter source is injected (a seed in [`Config`](super::Config)) like time is, so a
//! test that replays the same inputs sees the same delays.

use std::time::Duration;

use super::Backoff;

/// A small, fast, seedable pseudo-random source (SplitMix64).
///
/// Not cryptographic: it only spreads reconnect attempts of many clients over time.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A source that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Jitter {
        Jitter { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // 53 random bits: every value is exactly representable.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Backoff {
    /// The delay before the next attempt after `failures` failed attempts in a row, before
    /// jitter: 0 after none, then `base * factor^(failures - 1)`, never above `cap`.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let exp = (failures - 1).min(i32::MAX as u32) as i32;
        let secs = self.base.as_secs_f64() * self.factor.max(1.0).powi(exp);
        let cap = self.cap.as_secs_f64();
        // NaN and infinity (huge factors) end up at the cap too.
        if secs.is_nan() || secs >= cap {
            return self.cap;
        }
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// [`Backoff::delay`] with jitter applied: drawn from `[d * (1 - jitter), d]`.
    pub fn jittered_delay(&self, failures: u32, rng: &mut Jitter) -> Duration {
        let d = self.delay(failures);
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        if d.is_zero() || jitter == 0.0 {
            return d;
        }
        d.mul_f64(1.0 - jitter * rng.next_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            factor: 2.0,
            cap: Duration::from_secs(1),
            jitter: 0.0,
            max_attempts: None,
            healthy_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let b = backoff();
        let ms: Vec<u128> = (0..7).map(|f| b.delay(f).as_millis()).collect();
        assert_eq!(ms, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
        let huge = Backoff {
            factor: f64::INFINITY,
            ..b
        };
        assert_eq!(huge.delay(3), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_range_and_is_reproducible() {
        let b = Backoff {
            jitter: 0.5,
            ..backoff()
        };
        let mut r1 = Jitter::new(7);
        let mut r2 = Jitter::new(7);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..1000 {
            let d1 = b.jittered_delay(3, &mut r1);
            assert_eq!(d1, b.jittered_delay(3, &mut r2));
            assert!(
                d1 >= Duration::from_millis(200) && d1 <= Duration::from_millis(400),
                "{d1:?}"
            );
            distinct.insert(d1);
        }
        assert!(distinct.len() > 100, "jitter should spread delays");
        assert_eq!(b.jittered_delay(0, &mut r1), Duration::ZERO);
    }

    #[test]
    fn unit_floats_are_in_range() {
        let mut r = Jitter::new(0);
        for _ in 0..10_000 {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
