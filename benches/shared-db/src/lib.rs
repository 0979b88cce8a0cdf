//! The shared-database baseline: one axum service that answers the catalogue read, the order
//! placement and the composed order view of the Database-per-Service nodes, over ONE
//! PostgreSQL that holds every table.
//!
//! It exists to be measured against. It speaks the same wire types as the nodes (from
//! `contracts`), so a load tool can send both the same requests and compare the answers'
//! shapes byte for byte; what differs is where the data lives: placement is one transaction
//! with row locks instead of a saga, and the order view is one JOIN instead of a composition.

pub mod api;
pub mod error;
pub mod plan;
pub mod postgres;
pub mod schema;
pub mod store;
pub mod view;

pub use api::router;
pub use store::Store;
