//! Catalog read replicas started for a test: `catalog-node --replica-of` the test's primary,
//! with the primary's callers file (so the same tokens read from either) and a token for the
//! primary holding `catalog:read` and `catalog:feed`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{CatalogNode, Client, Node, NodeSpec, binary};

/// A running replica of a test's catalog.
pub struct Replica {
    /// The running node.
    pub node: Node,
    /// Keeps the replica's temporary directory alive.
    pub dir: tempfile::TempDir,
}

impl Replica {
    /// Starts a replica of `primary`.
    pub async fn start(primary: &CatalogNode) -> Self {
        Self::start_of(primary, primary.node.base()).await
    }

    /// Starts a replica that follows `url` (the primary, or an address where none answers),
    /// with `primary`'s callers.
    pub async fn start_of(primary: &CatalogNode, url: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let callers = primary.callers.path.to_string_lossy().into_owned();
        let spec = NodeSpec::new(
            binary("catalog-node"),
            &dir.path().join("data"),
            &dir.path().join("replica.log"),
            &["--callers", &callers, "--replica-of", url],
        )
        .with_env(&[(
            "CATALOG_PRIMARY_TOKEN".to_owned(),
            primary.callers.token("replica"),
        )]);
        Self {
            node: Node::start(spec).await,
            dir,
        }
    }

    /// The replica's base URL.
    pub fn base(&self) -> &str {
        self.node.base()
    }

    /// A client presenting `token`.
    pub fn client(&self, token: String) -> Client {
        self.node.client(Some(token))
    }

    /// Waits until the replica has applied `seq` and is ready; panics with its log if it
    /// does not within `limit`.
    pub async fn wait_applied(&self, seq: u64, limit: Duration) {
        let open = self.node.client(None);
        let started = Instant::now();
        loop {
            let ready = open.get("/readyz").await;
            let applied = ready.body["details"]["replica"]["applied_seq"]
                .as_u64()
                .unwrap_or(0);
            if ready.status == 200 && applied >= seq {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "replica did not apply seq {seq} within {limit:?}: {}\n{}",
                ready.text,
                self.node.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every product `client`'s node has, in id order, paging through `GET /v1/products`, as of
/// at least `min_seq`.
pub async fn all_products(client: &Client, min_seq: u64) -> Vec<Value> {
    let mut products = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/products?limit=1000&after={a}&min_seq={min_seq}"),
            None => format!("/v1/products?limit=1000&min_seq={min_seq}"),
        };
        let page = client.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        products.extend(
            page.body["products"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        match page.body["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return products,
        }
    }
}
