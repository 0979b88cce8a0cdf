//! `Server-Timing`: each upstream hop's duration and the number of upstream calls, so that a
//! browser's devtools and the benchmarks can see what a composition cost.

/// Timings of one composed request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    hops: Vec<(String, f64)>,
    calls: usize,
}

impl Timing {
    /// Records a hop (`orders`, `catalog`, `search`) that took `ms` and made `calls` calls.
    pub fn hop(&mut self, name: &str, ms: f64, calls: usize) {
        self.hops.push((name.to_owned(), ms));
        self.calls += calls;
    }

    /// Upstream calls made so far.
    pub fn calls(&self) -> usize {
        self.calls
    }

    /// The `Server-Timing` header value, e.g. `orders;dur=1.2, catalog;dur=3.4, upstream;desc="calls=2"`.
    pub fn header(&self) -> String {
        let mut parts: Vec<String> = self
            .hops
            .iter()
            .map(|(name, ms)| format!("{name};dur={ms:.1}"))
            .collect();
        parts.push(format!("upstream;desc=\"calls={}\"", self.calls));
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_hops_and_calls() {
        let mut t = Timing::default();
        t.hop("orders", 1.25, 1);
        t.hop("catalog", 3.0, 2);
        assert_eq!(
            t.header(),
            "orders;dur=1.2, catalog;dur=3.0, upstream;desc=\"calls=3\""
        );
        assert_eq!(Timing::default().header(), "upstream;desc=\"calls=0\"");
    }
}
