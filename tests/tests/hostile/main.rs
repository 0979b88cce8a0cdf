//! What careless and hostile clients can do to the real binaries, and what they cannot:
//!
//! - `connections`: thousands of connections that send half a request head, against every
//!   node and edge-host started under an open-files limit of 1,024: no process exits, the
//!   idle connections are closed within the header timeout, ordinary requests succeed again.
//! - `bodies`: a gigabyte body (declared, and chunked) to every route that takes one, on every
//!   node and the composer: 413, and resident memory barely moves.
//! - `methods`: random methods and paths: `/metrics` stays small, memory flat.
//! - `shedding`: 2,000 concurrent slow requests: the excess is shed with 503 and
//!   `Retry-After`, nothing admitted is lost, the node serves normally afterwards.
//! - `hangups`: a client that hangs up at each step of placing and of cancelling an order:
//!   the order still settles within seconds of the catalog's answer, stock consistent.
//! - `instances`: edge-host stops an instance over its memory cap (503) or past its
//!   deadline (504), and goes on serving.
//! - `damage`: randomly damaged backup archives given to each node's `restore`: a clear
//!   refusal every time, never an abort.
//! - `shutdown`: SIGTERM, then a restart of order-node holding many orders: the store was
//!   closed cleanly (no repair), and how long the start took.
//!
//! `CAMPAIGN=long` runs the longer versions. See docs/reliability.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod bodies;
mod connections;
mod damage;
mod drain;
mod hangups;
mod instances;
mod methods;
mod shedding;
mod shutdown;
mod system;

/// Held by every test for its whole run: side by side on two cores, a flood of one test
/// would starve another's servers and turn load shedding into timeouts.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the long versions run (`CAMPAIGN=long`).
pub fn long() -> bool {
    std::env::var("CAMPAIGN").is_ok_and(|v| v == "long")
}
