//! search-node's wire types.

use serde::{Deserialize, Serialize};

/// Most hits per page.
pub const MAX_SEARCH_LIMIT: usize = 100;
/// Default hits per page.
pub const DEFAULT_SEARCH_LIMIT: usize = 10;
/// Deepest offset.
pub const MAX_SEARCH_OFFSET: usize = 10_000;
/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Longest wait for `min_seq`, in milliseconds.
pub const MAX_SEARCH_WAIT_MS: u64 = 10_000;
/// Wait for `min_seq` when the request names none, in milliseconds.
pub const DEFAULT_SEARCH_WAIT_MS: u64 = 2_000;

/// One hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The product.
    pub product_id: String,
    /// BM25 relevance.
    pub score: f32,
    /// The product's name as indexed.
    pub name: String,
    /// The product's category.
    pub category: String,
}

/// Answer of `GET /v1/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Hits, best first.
    pub hits: Vec<SearchHit>,
    /// Number of matching products.
    pub total: usize,
    /// The catalog feed seq the index reflects.
    pub indexed_seq: u64,
    /// Whether the index reached the request's `min_seq` (true when none was given).
    pub caught_up: bool,
}
