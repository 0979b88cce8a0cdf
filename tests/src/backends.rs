//! Starting the whole system around a running catalog-node: order-node and search-node with
//! the callers the composer needs, then edge-host serving the composer with its tokens at
//! every node. [`crate::ComposerSystem`], the isolation tests' cluster and the soak campaign
//! all start the system this way and differ only in where the composer's upstreams are
//! (proxies, cables, straight) and in the environment.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::composer::{COMPOSER, COMPOSER_ORDER_ROLES, composer_search_roles, composer_wasm};
use crate::search::tail;
use crate::{Callers, EdgeHost, Node, NodeSpec, SearchSystem, binary, identity};

/// How order-node and search-node are started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Set in both nodes' environment.
    pub env: Vec<(String, String)>,
    /// order-node's `--saga-retry-ms`; its default when `None`.
    pub saga_retry_ms: Option<u64>,
    /// More flags for order-node.
    pub orders_args: Vec<String>,
}

impl Options {
    /// Sagas retried every 200 ms, so that a test need not wait out the default backoff.
    pub fn quick_sagas() -> Self {
        Self {
            saga_retry_ms: Some(200),
            ..Self::default()
        }
    }
}

/// order-node ([`COMPOSER_ORDER_ROLES`]) and search-node ([`composer_search_roles`]), both
/// reading one catalog.
pub struct Backends {
    /// order-node.
    pub orders: Node,
    /// search-node.
    pub search: Node,
    /// order-node's callers.
    pub order_callers: Callers,
    /// search-node's callers.
    pub search_callers: Callers,
}

impl Backends {
    /// Starts both nodes side by side under `dir` (`orders/`, `search/`), reading the catalog
    /// at `catalog_url` with the `order-node` and `search-node` tokens of `catalog`'s
    /// callers. Does not wait for search-node to index anything.
    pub async fn start(
        dir: &Path,
        catalog: &Callers,
        catalog_url: &str,
        options: &Options,
    ) -> Self {
        let orders_dir = dir.join("orders");
        std::fs::create_dir_all(&orders_dir).expect("orders dir");
        let order_callers = Callers::write(&orders_dir, COMPOSER_ORDER_ROLES);
        let callers_path = order_callers.path.to_string_lossy().into_owned();
        let retry = options.saga_retry_ms.map(|ms| ms.to_string());
        let mut args = vec!["--callers", &callers_path, "--catalog-url", catalog_url];
        if let Some(ms) = &retry {
            args.extend(["--saga-retry-ms", ms.as_str()]);
        }
        args.extend(options.orders_args.iter().map(String::as_str));
        let orders_spec = NodeSpec::new(
            binary("order-node"),
            &orders_dir.join("data"),
            &orders_dir.join("orders.log"),
            &args,
        )
        .with_catalog_token(&catalog.token("order-node"))
        .with_env(&options.env);

        let search_dir = dir.join("search");
        std::fs::create_dir_all(&search_dir).expect("search dir");
        let search_callers = Callers::write(&search_dir, &composer_search_roles());
        let search_spec = SearchSystem::search_spec(
            catalog_url,
            &catalog.token("search-node"),
            &search_callers,
            &search_dir,
            &[],
        )
        .with_env(&options.env);

        let (orders, search) = tokio::join!(Node::start(orders_spec), Node::start(search_spec));
        Self {
            orders,
            search,
            order_callers,
            search_callers,
        }
    }

    /// The composer's variables for upstreams at `urls` (catalog, order-node, search-node),
    /// with the tokens of its caller at each node; see [`composer_vars`].
    pub fn composer_vars(
        &self,
        catalog: &Callers,
        urls: [&str; 3],
        identity_vars: Vec<String>,
    ) -> Vec<String> {
        composer_vars(
            [catalog, &self.order_callers, &self.search_callers],
            urls,
            identity_vars,
        )
    }

    /// Starts edge-host serving the composer with upstreams at `urls` (catalog, order-node,
    /// search-node), the test issuer's keys and `env`, logging to `log`.
    pub async fn start_host(
        &self,
        catalog: &Callers,
        urls: [&str; 3],
        log: &Path,
        env: &[(String, String)],
    ) -> EdgeHost {
        let vars = self.composer_vars(catalog, urls, identity::vars());
        EdgeHost::start_with_env(&composer_wasm(), &vars, log, env).await
    }
}

/// The composer's variables: for the catalog, order-node and search-node in that order, the
/// URL it reaches the node at (`urls`) and the token of its caller in the node's callers file
/// (`callers`); then `identity_vars` (the keys it verifies end users' tokens with).
pub fn composer_vars(
    callers: [&Callers; 3],
    urls: [&str; 3],
    identity_vars: Vec<String>,
) -> Vec<String> {
    let mut vars = Vec::with_capacity(6 + identity_vars.len());
    for (name, (callers, url)) in ["catalog", "orders", "search"]
        .into_iter()
        .zip(callers.into_iter().zip(urls))
    {
        vars.push(format!("{name}_url={url}"));
        vars.push(format!("{name}_token={}", callers.token(COMPOSER)));
    }
    vars.extend(identity_vars);
    vars
}

/// Waits until `search` answers `/readyz` with 200 and has indexed `seq`; returns how long
/// it took. Panics with its log after `within`.
pub async fn wait_indexed(search: &Node, seq: u64, within: Duration) -> Duration {
    // A short timeout per poll: a hung node must fail the wait, not stall one poll past it.
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let url = format!("{}/readyz", search.base());
    let started = tokio::time::Instant::now();
    loop {
        let ready = match http.get(&url).send().await {
            Ok(res) => Ok((res.status().as_u16(), res.text().await.unwrap_or_default())),
            Err(e) => Err(e.to_string()),
        };
        if let Ok((200, text)) = &ready
            && serde_json::from_str::<Value>(text).is_ok_and(|body| {
                body["details"]["indexed_seq"]
                    .as_u64()
                    .is_some_and(|s| s >= seq)
            })
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "search-node did not index seq {seq} within {within:?}; last /readyz: {ready:?}\n\
             search-node log:\n{}",
            tail(&search.log(), 4000)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
