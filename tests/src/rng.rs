//! A small seeded random generator (SplitMix64) for workloads and fault timing that a seed
//! can replay. Not for anything secret.

/// SplitMix64: one 64-bit state, full period, good enough spread for test workloads.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for one part of a run (`stream`), independent of the other parts' draws,
    /// so that adding draws to one part does not shift what another part does.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut mixer = Self(seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407));
        Self(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        // Multiply-shift: no modulo bias worth caring about at these sizes.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "range({lo}, {hi})");
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index into a list of `len` items (`len` > 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_and_draws_stay_in_bounds() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let r = a.range(3, 9);
            assert_eq!(r, b.range(3, 9));
            assert!((3..=9).contains(&r));
            let i = a.below(5);
            assert_eq!(i, b.below(5));
            assert!(i < 5);
        }
        assert_ne!(
            Rng::derive(7, 1).next_u64(),
            Rng::derive(7, 2).next_u64(),
            "streams differ"
        );
        let hits = (0..10_000).filter(|_| a.chance(25)).count();
        assert!((2000..3000).contains(&hits), "{hits}");
    }
}
