//! Cross-cutting server code shared by the nodes.
//!
//! Everything a node needs around its own logic lives here once: reading the callers file,
//! bearer-token auth with scopes, the JSON error shape and the extractors that produce it,
//! Prometheus metrics, the data directory, logging, serving with graceful shutdown, the route
//! table each node's router and OpenAPI document are built from, and the backup archive with
//! the plumbing of backup and restore.
//! Nothing here knows about any node's data.

pub mod archive;
pub mod auth;
pub mod backup;
pub mod callers;
pub mod clock;
pub mod codec;
pub mod conn;
pub mod datadir;
pub mod error;
pub mod extract;
pub mod guard;
pub mod limits;
pub mod metrics;
pub mod progress;
pub mod routes;
pub mod secret;
pub mod server;
pub mod telemetry;

pub use auth::Auth;
pub use callers::Scope;
pub use error::ApiError;
pub use routes::Routes;
