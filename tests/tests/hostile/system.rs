//! The whole system started for the hostile tests: the three nodes and edge-host, each with
//! the environment and open-files limit a test asks for, the composer calling the nodes
//! directly.

use std::time::Duration;

use system_tests::composer::{
    CATALOG_ROLES, COMPOSER, COMPOSER_ORDER_ROLES, composer_search_roles, composer_wasm,
};
use system_tests::{Callers, Client, EdgeHost, Node, NodeSpec, binary, proc_status_kib};

/// One server under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its name, for messages.
    pub name: &'static str,
    /// Its base URL.
    pub base: String,
    /// Its process id.
    pub pid: u32,
}

impl Target {
    /// `host:port`.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// Whether the process is still running (not exited, not a zombie).
    pub fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|stat| {
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.chars().next())
            })
            .is_some_and(|state| state != 'Z' && state != 'X')
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid, "VmRSS").unwrap_or(0)
    }

    /// Peak resident memory so far, in KiB.
    pub fn peak_kib(&self) -> u64 {
        proc_status_kib(self.pid, "VmHWM").unwrap_or(0)
    }
}

/// The three nodes and edge-host; every process is killed when dropped.
pub struct System {
    pub catalog: Node,
    pub orders: Node,
    pub search: Node,
    pub host: EdgeHost,
    pub catalog_callers: Callers,
    pub order_callers: Callers,
    pub search_callers: Callers,
    pub dir: tempfile::TempDir,
}

impl System {
    /// Starts everything with `env` in every process's environment, under an open-files
    /// limit of `file_limit` when given; waits until search-node is ready.
    pub async fn start(env: &[(String, String)], file_limit: Option<u64>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = |name: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(&path).expect("mkdir");
            path
        };
        let limited = |spec: NodeSpec| match file_limit {
            Some(n) => spec.with_env(env).with_file_limit(n),
            None => spec.with_env(env),
        };

        let catalog_dir = sub("catalog");
        let catalog_callers = Callers::write(&catalog_dir, CATALOG_ROLES);
        let catalog = Node::start(limited(NodeSpec::new(
            binary("catalog-node"),
            &catalog_dir.join("data"),
            &catalog_dir.join("node.log"),
            &["--callers", &catalog_callers.path.to_string_lossy()],
        )))
        .await;

        let orders_dir = sub("orders");
        let order_callers = Callers::write(&orders_dir, COMPOSER_ORDER_ROLES);
        let orders_spec = limited(
            NodeSpec::new(
                binary("order-node"),
                &orders_dir.join("data"),
                &orders_dir.join("node.log"),
                &[
                    "--callers",
                    &order_callers.path.to_string_lossy(),
                    "--catalog-url",
                    catalog.base(),
                    "--saga-retry-ms",
                    "200",
                ],
            )
            .with_catalog_token(&catalog_callers.token("order-node")),
        );

        let search_dir = sub("search");
        let search_callers = Callers::write(&search_dir, &composer_search_roles());
        let search_spec = limited(
            NodeSpec::new(
                binary("search-node"),
                &search_dir.join("data"),
                &search_dir.join("node.log"),
                &[
                    "--callers",
                    &search_callers.path.to_string_lossy(),
                    "--catalog-url",
                    catalog.base(),
                ],
            )
            .with_catalog_token(&catalog_callers.token("search-node")),
        );
        let (orders, search) = tokio::join!(Node::start(orders_spec), Node::start(search_spec));

        let vars = vec![
            format!("catalog_url={}", catalog.base()),
            format!("catalog_token={}", catalog_callers.token(COMPOSER)),
            format!("orders_url={}", orders.base()),
            format!("orders_token={}", order_callers.token(COMPOSER)),
            format!("search_url={}", search.base()),
            format!("search_token={}", search_callers.token(COMPOSER)),
        ];
        let vars = [vars, system_tests::identity::vars()].concat();
        let host = EdgeHost::start_limited(
            &composer_wasm(),
            &vars,
            &dir.path().join("edge-host.log"),
            env,
            file_limit,
        )
        .await;
        let system = Self {
            catalog,
            orders,
            search,
            host,
            catalog_callers,
            order_callers,
            search_callers,
            dir,
        };
        system.wait_ready().await;
        system
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for node in [&self.catalog, &self.orders, &self.search] {
            loop {
                let reply = node.client(None).get("/readyz").await;
                if reply.status == 200 {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{} not ready: {}",
                    node.base(),
                    reply.text
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// The four servers.
    pub fn targets(&self) -> Vec<Target> {
        vec![
            self.target("catalog-node", &self.catalog),
            self.target("order-node", &self.orders),
            self.target("search-node", &self.search),
            Target {
                name: "edge-host",
                base: self.host.base().to_owned(),
                pid: self.host.pid().expect("edge-host runs"),
            },
        ]
    }

    fn target(&self, name: &'static str, node: &Node) -> Target {
        Target {
            name,
            base: node.base().to_owned(),
            pid: node.pid().expect("node runs"),
        }
    }

    /// A catalog client with write scope.
    pub fn catalog_admin(&self) -> Client {
        self.catalog
            .client(Some(self.catalog_callers.token("admin")))
    }

    /// An order-node client placing orders directly.
    pub fn shop(&self) -> Client {
        self.orders.client(Some(self.order_callers.token("shop")))
    }

    /// Every process's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["catalog", "orders", "search"] {
            let log = std::fs::read_to_string(self.dir.path().join(name).join("node.log"))
                .unwrap_or_default();
            out.push_str(&format!("--- {name}\n{}\n", tail(&log, 40)));
        }
        out.push_str(&format!("--- edge-host\n{}\n", tail(&self.host.log(), 40)));
        out
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `(name, value)` pairs for a process environment.
pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Raises this test process's open-files limit as far as it may go; returns it.
pub fn raise_own_file_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}
