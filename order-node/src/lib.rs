//! order-node: orders with denormalized product data and a durable stock saga, on redb.
//!
//! # Layout
//!
//! Read it outside in. [`node`] is the front door: [`node::run`] opens the database and its
//! writer thread, starts the saga's recovery loop and the maintenance tick, serves
//! [`node::app`] until shutdown, then drains every task (steps detached from hung-up requests
//! included), joins the writer and closes the database; `main.rs` only parses the command line
//! and calls it.
//!
//! [`api`] holds the HTTP handlers, the only layer that speaks HTTP: each parses and
//! validates, calls the service, maps its outcome to a status. [`service`] places, cancels and
//! settles orders: the saga (pending → stock reserved at the catalog → confirmed, or
//! rejected; cancelling → released → cancelled), each step durable before the next, so that
//! [`saga`]'s recovery loop can finish whatever a crash interrupted. [`catalog`] is the
//! catalog's HTTP API as this node uses it (reads and reservations, never its data). [`store`]
//! owns the redb tables, the private records, their codec and the group commit; nothing
//! outside this crate sees a record.
//!
//! Beside them: [`cli`] (flags, each with an environment variable), [`backup`] (consistent
//! copies of the database and their restore) and [`metrics`].

pub mod api;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod metrics;
pub mod node;
pub mod saga;
pub mod service;
pub mod store;

pub use node::{app, run};
