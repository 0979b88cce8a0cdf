//! End-to-end tests of catalog-node: the real binary on an ephemeral port with a temporary
//! data directory.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod auth;
mod bad_input;
mod durability;
mod feed;
mod products;
mod replicas;
mod reservations;
