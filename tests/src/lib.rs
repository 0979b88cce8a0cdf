//! Harness for end-to-end tests: starts the real node binaries on ephemeral ports with
//! temporary data directories, with per-caller tokens, and talks to them over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod backends;
pub mod backup;
pub mod callers;
pub mod crash;
pub mod http;
pub mod identity;
pub mod node;
pub mod otlp;
pub mod replica;

pub use callers::Callers;
pub use http::Client;
pub use node::{Node, NodeSpec, binary, proc_status_kib, vm_rss_kib};
pub use replica::Replica;

use std::path::PathBuf;

/// A catalog-node started for a test, with its callers and temporary directories.
pub struct CatalogNode {
    /// The running node.
    pub node: Node,
    /// Its callers and their tokens.
    pub callers: Callers,
    /// Keeps the temporary directory alive.
    pub dir: tempfile::TempDir,
}

impl CatalogNode {
    /// Starts `catalog-node` with the standard test callers.
    pub async fn start() -> Self {
        Self::start_with(binary("catalog-node"), None).await
    }

    /// Starts the given catalog binary, optionally on an existing data directory.
    pub async fn start_with(bin: PathBuf, data_dir: Option<PathBuf>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let callers = Callers::catalog(dir.path());
        let data = data_dir.unwrap_or_else(|| dir.path().join("data"));
        let callers_path = callers.path.to_string_lossy().into_owned();
        let spec = NodeSpec::new(
            bin,
            &data,
            &dir.path().join("catalog.log"),
            &["--callers", &callers_path],
        );
        let node = Node::start(spec).await;
        Self { node, callers, dir }
    }

    /// A client acting as role `name`.
    pub fn as_role(&self, name: &str) -> Client {
        self.node.client(Some(self.callers.token(name)))
    }

    /// A client with no token.
    pub fn anonymous(&self) -> Client {
        self.node.client(None)
    }
}

/// A product body for `PUT /v1/products/{id}`.
pub fn product(name: &str, price_minor: u64, stock: u64) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "description": format!("{name}, a fine product"),
        "category": "kitchen",
        "price_minor": price_minor,
        "currency": "EUR",
        "stock": stock,
    })
}

pub mod orders;
pub mod proxy;

pub use orders::OrderSystem;
pub use proxy::{FaultProxy, Mode, Route};
pub mod search;

pub use search::SearchSystem;
pub mod composer;
pub mod rng;
pub mod wasmtime_serve;

pub use composer::{ComposerSystem, EdgeHost, ServerTiming};
pub use rng::Rng;
