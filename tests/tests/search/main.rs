//! End-to-end tests of search-node: the real binary following a real catalog-node's change
//! feed (directly, or through a fault-injecting proxy), each with its own ports and temporary
//! data directories.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod auth;
mod bad_input;
mod bootstrap;
mod catalog_down;
mod crash;
mod read_your_writes;
mod relevance;

use std::time::Duration;

use system_tests::SearchSystem;
use system_tests::search::{hit_ids, name_with_token, token_of};

/// Creates products `{prefix}{i}` for `i` in `0..n`, named "`words` TOKEN", in `category`;
/// returns the seq of the last write.
pub async fn seed(sys: &SearchSystem, prefix: &str, n: usize, words: &str, category: &str) -> u64 {
    let mut seq = 0;
    for i in 0..n {
        let id = format!("{prefix}{i}");
        seq = sys
            .put_product(
                &id,
                &name_with_token(&id, words),
                "a product made for the search tests",
                category,
            )
            .await;
    }
    seq
}

/// Asserts that searching the token of `id` finds exactly `id`, named `name`.
pub async fn assert_found(sys: &SearchSystem, id: &str, name: &str) {
    let r = sys.search(&token_of(id)).await;
    assert_eq!(hit_ids(&r), [id], "{id}: {}", r.text);
    assert_eq!(r.body["hits"][0]["name"], name, "{}", r.text);
    assert_eq!(r.body["total"], 1, "{}", r.text);
}

/// Asserts that searching the token of `id` finds nothing.
pub async fn assert_absent(sys: &SearchSystem, id: &str) {
    let r = sys.search(&token_of(id)).await;
    assert_eq!(r.body["total"], 0, "{id} is still indexed: {}", r.text);
    assert!(hit_ids(&r).is_empty(), "{}", r.text);
}

/// Polls `done` every 20 ms; panics with `what` after `within`.
pub async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
