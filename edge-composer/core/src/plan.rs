//! Planning product lookups: collect, de-duplicate, chunk.

use std::collections::HashSet;

/// The batch calls one hop needs: every id once, in first-seen order, in chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPlan {
    /// The batches, each at most the batch limit long.
    pub batches: Vec<Vec<String>>,
    /// How many ids the response mentions, repeats included.
    pub mentioned: usize,
}

impl ProductPlan {
    /// Number of distinct ids.
    pub fn unique(&self) -> usize {
        self.batches.iter().map(Vec::len).sum()
    }
}

/// Plans the lookups of `ids` (repeats allowed) in batches of at most `max_batch`.
///
/// With `dedupe` false every mention is looked up, repeats included (kept for measuring what
/// de-duplication saves).
pub fn plan_products<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    max_batch: usize,
    dedupe: bool,
) -> ProductPlan {
    let max_batch = max_batch.max(1);
    let mut seen = HashSet::new();
    let mut ordered = Vec::new();
    let mut mentioned = 0;
    for id in ids {
        mentioned += 1;
        if !dedupe || seen.insert(id) {
            ordered.push(id.to_owned());
        }
    }
    ProductPlan {
        batches: ordered.chunks(max_batch).map(<[String]>::to_vec).collect(),
        mentioned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_in_first_seen_order() {
        let plan = plan_products(["b", "a", "b", "c", "a"], 10, true);
        assert_eq!(plan.batches, vec![vec!["b", "a", "c"]]);
        assert_eq!((plan.mentioned, plan.unique()), (5, 3));
    }

    #[test]
    fn chunks_at_the_batch_limit() {
        let ids: Vec<String> = (0..2500).map(|i| format!("p{i}")).collect();
        let plan = plan_products(ids.iter().map(String::as_str), 1000, true);
        let sizes: Vec<usize> = plan.batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        assert_eq!(plan.batches[2][499], "p2499");
    }

    #[test]
    fn nothing_to_plan_means_no_batches() {
        assert!(plan_products([], 1000, true).batches.is_empty());
    }

    #[test]
    fn without_dedupe_every_mention_is_fetched() {
        assert_eq!(plan_products(["a", "a"], 10, false).unique(), 2);
    }
}
