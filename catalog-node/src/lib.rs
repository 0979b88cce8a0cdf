//! catalog-node: products, stock and reservations on sled, with a change feed.

pub mod store;
