//! The one seeded random generator (SplitMix64) of the tests and benchmarks: workloads,
//! fault timing and generated bad input that a printed seed replays. Not for anything secret.

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

    /// A generator for case `index` of `stream`, so that any one case of a generated corpus
    /// replays on its own, without drawing the cases before it.
    pub fn for_case(seed: u64, stream: u64, index: u64) -> Self {
        let mut rng = Self(
            seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407)
                ^ index.wrapping_mul(0x9FB2_1C65_1E98_DF25),
        );
        rng.next_u64();
        rng
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

    /// A length or count in `lo..=hi`.
    pub fn size(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// `k` distinct indices into a list of `n` items (`k` <= `n`), by a partial
    /// Fisher-Yates shuffle.
    pub fn distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        assert!(k <= n, "cannot pick {k} distinct of {n}");
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.index(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

/// The seed of a run: `$var` when set (decimal or `0x` hex, as the runs print it), else
/// `default()`. Printed with the line that replays it, so that a failing run can be
/// repeated.
pub fn seed_from_env(var: &str, label: &str, default: impl FnOnce() -> u64) -> u64 {
    let seed = match std::env::var(var) {
        Ok(text) => parse_seed(&text).unwrap_or_else(|| panic!("{var}={text:?} is not a number")),
        Err(_) => default(),
    };
    println!("[{label}] seed {seed} ({seed:#x}; replay with {var}={seed})");
    seed
}

/// A seed that differs from run to run (the clock and the process id).
pub fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ u64::from(std::process::id())
}

/// A seed as a run prints it: decimal, or hex after `0x`.
fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim().replace('_', "");
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
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

    #[test]
    fn a_case_replays_alone_and_cases_differ() {
        assert_eq!(
            Rng::for_case(7, 1, 5).next_u64(),
            Rng::for_case(7, 1, 5).next_u64()
        );
        assert_ne!(
            Rng::for_case(7, 1, 5).next_u64(),
            Rng::for_case(7, 1, 6).next_u64()
        );
        assert_ne!(
            Rng::for_case(7, 1, 5).next_u64(),
            Rng::for_case(7, 2, 5).next_u64()
        );
    }

    #[test]
    fn picks_stay_in_bounds() {
        let mut rng = Rng::new(11);
        for _ in 0..1000 {
            let s = rng.size(4, 6);
            assert!((4..=6).contains(&s));
            assert!([1, 2, 3].contains(rng.pick(&[1, 2, 3])));
        }
        let mut picked = rng.distinct(50, 20);
        assert!(picked.iter().all(|&i| i < 50));
        picked.sort_unstable();
        picked.dedup();
        assert_eq!(picked.len(), 20);
        assert_eq!(rng.distinct(3, 3).len(), 3);
    }

    #[test]
    fn seeds_parse_as_printed() {
        assert_eq!(parse_seed("1234"), Some(1234));
        assert_eq!(parse_seed(" 0x5eed_bad1 "), Some(0x5EED_BAD1));
        assert_eq!(parse_seed("0X10"), Some(16));
        assert_eq!(parse_seed("x"), None);
    }
}
