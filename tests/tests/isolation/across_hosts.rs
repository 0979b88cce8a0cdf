//! catalog-node on another host: its own Linux network namespace, reached over veth links,
//! with order-node, search-node and edge-host in this one. The test cuts the link the
//! services use (the far end goes down, so packets are dropped, nothing is refused or
//! reset: a pulled cable), checks that everything not needing the catalog carries on within
//! its bounds, restores the link and checks that the system settles.
//!
//! ```text
//!   root namespace                                 dbps-<pid>-cat
//!   order-node, search-node, edge-host ── svc ──  catalog-node (0.0.0.0:port)
//!   the test (catalog admin)           ── adm ──
//! ```
//!
//! The second link lets the test keep writing to the catalog while the services are cut
//! off, so search-node has something to catch up on. Needs root and `ip`; where `ip netns
//! add` is not possible the test says why and returns.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use system_tests::composer::CATALOG_ROLES;
use system_tests::orders::order_body;
use system_tests::search::search_path;
use system_tests::{Callers, CatalogNode, Node, NodeSpec, binary};
use tokio::task::JoinHandle;

use crate::{
    CATCH_UP_WITHIN, COMPOSED_WITHIN, Cluster, FAST, READ_WITHIN, REFUSED_WITHIN, SETTLE_WITHIN,
    Timed, assert_degraded_by_catalog, assert_whole, expect, expected_stock, has_hit, id_of, timed,
    write_script,
};

/// Names of everything this suite creates start with this (then the test process's pid).
const PREFIX: &str = "dbps";

/// Where `ip` may be.
const IP_PATHS: &[&str] = &["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];

fn run_ip(ip: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(ip)
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether this process runs as root (uid 0).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The pid in a name made by this suite (`dbps-<pid>-…` or `dbps<pid>…`).
fn pid_in(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Removes namespaces and links a run of this suite left behind (its process is gone), e.g.
/// after it was killed before its guard could clean up.
fn remove_stale(ip: &Path) {
    let dead =
        |name: &str| pid_in(name).is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
    if let Ok(list) = run_ip(ip, &["netns", "list"]) {
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if dead(name) {
                let _ = run_ip(ip, &["netns", "del", name]);
            }
        }
    }
    if let Ok(list) = run_ip(ip, &["-o", "link", "show"]) {
        for line in list.lines() {
            // "7: dbps123s0@if6: <…>"
            let Some(name) = line.split(": ").nth(1) else {
                continue;
            };
            let name = name.split('@').next().unwrap_or(name);
            if dead(name) {
                let _ = run_ip(ip, &["link", "del", name]);
            }
        }
    }
}

/// A third octet `k` such that nothing on this machine uses 10.213.k.0/29 yet.
fn free_subnet(ip: &Path, pid: u32) -> Option<u8> {
    let mut used = run_ip(ip, &["-4", "-o", "addr", "show"]).ok()?;
    used.push_str(&run_ip(ip, &["-4", "route", "show", "table", "all"]).ok()?);
    if used.contains("10.213.0.0/16") || used.contains("10.0.0.0/8") {
        return None;
    }
    let start = 20 + pid % 200;
    (0..200)
        .map(|i| u8::try_from(20 + (start - 20 + i) % 200).expect("octet"))
        .find(|k| !used.contains(&format!("10.213.{k}.")))
}

/// The catalog's namespace and the two links to it; all removed when dropped.
struct Hosts {
    ip: PathBuf,
    ns: String,
    /// The root-namespace ends of the links (deleting one deletes its peer).
    links: Vec<String>,
    /// The far end of the services' link, inside the namespace.
    svc_far: String,
    /// The catalog's address on the services' link and on the test's.
    svc_addr: String,
    adm_addr: String,
}

impl Hosts {
    /// Sets up the namespace and links, or says why it cannot.
    /// Anything failing once the namespace exists is a test failure, not a skip.
    fn setup() -> Result<Self, String> {
        if !is_root() {
            return Err("not running as root".into());
        }
        let ip = IP_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or("no `ip` binary found")?;
        remove_stale(&ip);
        let pid = std::process::id();
        let k = free_subnet(&ip, pid).ok_or("no free 10.213.k.0/29 subnet")?;
        let ns = format!("{PREFIX}-{pid}-cat");
        run_ip(&ip, &["netns", "add", &ns])?;
        let mut hosts = Self {
            ip,
            ns,
            links: Vec::new(),
            svc_far: format!("{PREFIX}{pid}s1"),
            svc_addr: format!("10.213.{k}.1"),
            adm_addr: format!("10.213.{k}.5"),
        };
        hosts.ns_ip(&["link", "set", "lo", "up"]);
        hosts.link("s", &format!("10.213.{k}.2"), &hosts.svc_addr.clone());
        hosts.link("a", &format!("10.213.{k}.6"), &hosts.adm_addr.clone());
        Ok(hosts)
    }

    fn ip(&self, args: &[&str]) {
        run_ip(&self.ip, args).unwrap_or_else(|e| panic!("{e}"));
    }

    fn ns_ip(&self, args: &[&str]) {
        let mut all = vec![
            "netns",
            "exec",
            self.ns.as_str(),
            self.ip.to_str().expect("ip path"),
        ];
        all.extend_from_slice(args);
        self.ip(&all);
    }

    /// A veth pair `<prefix><pid><tag>0` (here, `near`/30) ↔ `…1` (in the namespace, `far`).
    fn link(&mut self, tag: &str, near: &str, far: &str) {
        let pid = std::process::id();
        let (here, there) = (
            format!("{PREFIX}{pid}{tag}0"),
            format!("{PREFIX}{pid}{tag}1"),
        );
        self.ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
        self.links.push(here.clone());
        self.ip(&["link", "set", &there, "netns", &self.ns]);
        self.ip(&["addr", "add", &format!("{near}/30"), "dev", &here]);
        self.ns_ip(&["addr", "add", &format!("{far}/30"), "dev", &there]);
        self.ip(&["link", "set", &here, "up"]);
        self.ns_ip(&["link", "set", &there, "up"]);
    }

    /// Takes the catalog's end of the services' link down (or up again).
    fn set_svc_link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        self.ns_ip(&["link", "set", &self.svc_far, state]);
    }

    /// Starts catalog-node inside the namespace, listening on every address there.
    async fn start_catalog(&self) -> CatalogNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let callers = Callers::write(dir.path(), CATALOG_ROLES);
        // The harness starts `<bin> --listen … --data-dir … <args>`; the wrapper puts the
        // binary into the namespace first (`ip netns exec` execs it: same pid, so killing
        // the node kills the catalog).
        let wrapper = dir.path().join("catalog-node-in-ns");
        write_script(
            &wrapper,
            &format!(
                "#!/bin/sh\nexec '{}' netns exec '{}' '{}' \"$@\"\n",
                self.ip.display(),
                self.ns,
                binary("catalog-node").display()
            ),
        );
        let callers_path = callers.path.to_string_lossy().into_owned();
        let mut spec = NodeSpec::new(
            wrapper,
            &dir.path().join("data"),
            &dir.path().join("catalog.log"),
            &["--callers", &callers_path],
        );
        spec.listen = "0.0.0.0:0".into();
        let node = Node::start(spec).await;
        CatalogNode { node, callers, dir }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for link in &self.links {
            let _ = run_ip(&self.ip, &["link", "del", link]);
        }
        let _ = run_ip(&self.ip, &["netns", "del", &self.ns]);
    }
}

/// Waits until a TCP connection to `addr` succeeds (the link is usable again).
async fn wait_reachable(addr: &str, within: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr),
        )
        .await;
        if matches!(attempt, Ok(Ok(_))) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{addr} not reachable within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// order-node's `/readyz` details.
async fn orders_ready(c: &Cluster) -> Value {
    timed(
        "order-node /readyz",
        Method::GET,
        &format!("{}/readyz", c.orders.base()),
        None,
        None,
        &[],
    )
    .await
    .reply
    .body["details"]
        .clone()
}

/// Ignored in a plain run, where it would need root and `ip netns`: `scripts/test` runs it
/// with `--ignored` where they are available and says SKIPPED where not, so that it is
/// counted as skipped, never as passed without having run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and ip netns; scripts/test runs it where they are available"]
async fn a_cut_link_to_the_catalog_host_costs_only_what_needs_the_catalog() {
    let hosts = Hosts::setup()
        .unwrap_or_else(|why| panic!("network namespaces are not available here: {why}"));
    let catalog = hosts.start_catalog().await;
    let port = catalog
        .node
        .base()
        .rsplit(':')
        .next()
        .expect("port")
        .to_owned();
    let svc = format!("http://{}:{port}", hosts.svc_addr);
    let adm = format!("http://{}:{port}", hosts.adm_addr);
    wait_reachable(
        &format!("{}:{port}", hosts.svc_addr),
        Duration::from_secs(10),
    )
    .await;
    wait_reachable(
        &format!("{}:{port}", hosts.adm_addr),
        Duration::from_secs(10),
    )
    .await;
    let mut c = Cluster::start_wired(catalog, adm, &svc).await;
    let urls = [
        svc.clone(),
        c.orders.base().to_owned(),
        c.search.base().to_owned(),
    ];
    c.host = Some(c.start_host(&urls, "edge-host.log").await);

    // Across the link, everything works.
    c.put("net-kettle", "Networked kettle netkettle", 40).await;
    c.put("net-lamp", "Networked lamp netlamp", 40).await;
    let kept = id_of(&c.place("eve", &[("net-kettle", 2), ("net-lamp", 1)]).await);
    let cancelled = id_of(&c.place("eve", &[("net-lamp", 4)]).await);
    let head = c.catalog_head().await;
    c.wait_indexed(head, CATCH_UP_WITHIN).await;
    let view = format!("/v1/order-views/{kept}");
    let t = c.composer_get("order view across the link", &view).await;
    expect("order view across the link", &t, 200, None, FAST);
    assert_whole("order view across the link", &t.reply);
    let t = c
        .composer_get(
            "composed search across the link",
            &search_path(&[("q", "netlamp")]),
        )
        .await;
    assert_whole("composed search across the link", &t.reply);
    assert!(has_hit(&t.reply, "net-lamp"), "{}", t.reply.text);

    // The cable is pulled.
    hosts.set_svc_link(false);
    let cut_at = tokio::time::Instant::now();

    let t = c
        .orders_get("GET one order, link cut", &format!("/v1/orders/{kept}"))
        .await;
    expect("GET one order, link cut", &t, 200, None, READ_WITHIN);
    let t = c
        .orders_get("list, link cut", "/v1/orders?customer_id=eve")
        .await;
    expect("list, link cut", &t, 200, None, READ_WITHIN);
    let t = c
        .orders_get(
            "batch read, link cut",
            &format!("/v1/orders?ids={kept},{cancelled}"),
        )
        .await;
    expect("batch read, link cut", &t, 200, None, READ_WITHIN);
    let t = c.search_direct("netkettle").await;
    expect(
        "search at search-node, link cut",
        &t,
        200,
        None,
        READ_WITHIN,
    );
    assert!(has_hit(&t.reply, "net-kettle"), "{}", t.reply.text);

    let t = c.composer_get("order view, link cut", &view).await;
    expect("order view, link cut", &t, 200, None, COMPOSED_WITHIN);
    assert_degraded_by_catalog("order view, link cut", &t.reply);
    let t = c
        .composer_get("customer page, link cut", "/v1/customers/eve/order-views")
        .await;
    expect("customer page, link cut", &t, 200, None, COMPOSED_WITHIN);
    assert_degraded_by_catalog("customer page, link cut", &t.reply);
    let t = c
        .composer_get(
            "composed search, link cut",
            &search_path(&[("q", "netkettle")]),
        )
        .await;
    expect("composed search, link cut", &t, 200, None, COMPOSED_WITHIN);
    assert_degraded_by_catalog("composed search, link cut", &t.reply);

    // Writes that need the catalog are refused or parked within one catalog timeout, also
    // when several wait at once.
    let placing: Vec<JoinHandle<Timed>> = (0..6)
        .map(|i| {
            let url = format!("{}/v1/orders", c.orders.base());
            let token = c.shop_token();
            let body = order_body("eve", &[("net-kettle", 1 + i)]);
            tokio::spawn(async move {
                timed(
                    "placing, link cut",
                    Method::POST,
                    &url,
                    Some(&token),
                    Some(&body),
                    &[],
                )
                .await
            })
        })
        .collect();
    let started = tokio::time::Instant::now();
    for task in placing {
        let t = task.await.expect("task");
        expect(
            "placing, link cut",
            &t,
            503,
            Some("catalog_unavailable"),
            REFUSED_WITHIN,
        );
    }
    println!(
        "6 concurrent placements refused within {:?}",
        started.elapsed()
    );
    let t = c.composer_place("eve", &[("net-lamp", 1)]).await;
    // order-node gives up on the cut catalog after its 2 s timeout and answers 503; the
    // composer's 5 s write budget lets that answer through.
    expect(
        "placing through the composer, link cut",
        &t,
        503,
        None,
        COMPOSED_WITHIN,
    );
    let t = c.cancel(&cancelled).await;
    expect("cancelling, link cut", &t, 202, None, REFUSED_WITHIN);
    assert_eq!(t.reply.body["status"], "cancelling");
    // The catalog itself is fine, and keeps changing (over the test's own link).
    let seq = c.put("net-new", "Networked newcomer netnew", 5).await;
    assert_eq!(
        c.order_ids("eve").await.len(),
        2,
        "a refused order was stored"
    );
    let t = c.composer_get("health, link cut", "/healthz").await;
    expect("health, link cut", &t, 200, None, FAST);
    assert_eq!(orders_ready(&c).await["unsettled"], 1);

    // The cable is back.
    hosts.set_svc_link(true);
    let mended_at = tokio::time::Instant::now();
    let took = wait_reachable(
        &format!("{}:{port}", hosts.svc_addr),
        Duration::from_secs(10),
    )
    .await;
    println!(
        "link usable {took:?} after it came up (cut for {:?})",
        mended_at - cut_at
    );
    let took = c.wait_status(&cancelled, "cancelled", SETTLE_WITHIN).await;
    println!("the parked cancellation settled {took:?} later");
    let t = c.place_timed("eve", &[("net-kettle", 1)], None).await;
    expect("placing, link back", &t, 201, None, REFUSED_WITHIN);
    c.wait_indexed(seq, CATCH_UP_WITHIN).await;
    println!(
        "search-node caught up {:?} after the link came back ({:?} after the cut)",
        mended_at.elapsed(),
        cut_at.elapsed()
    );
    let t = c
        .composer_get(
            "composed search, link back",
            &search_path(&[("q", "netnew")]),
        )
        .await;
    expect("composed search, link back", &t, 200, None, FAST);
    assert_whole("composed search, link back", &t.reply);
    assert!(has_hit(&t.reply, "net-new"), "{}", t.reply.text);
    let t = c.composer_get("order view, link back", &view).await;
    expect("order view, link back", &t, 200, None, FAST);
    assert_whole("order view, link back", &t.reply);
    assert_eq!(orders_ready(&c).await["unsettled"], 0);

    let all = c.orders_get("listing", "/v1/orders?customer_id=eve").await;
    let orders = all.reply.body["orders"].as_array().expect("orders").clone();
    assert_eq!(orders.len(), 3, "{}", all.reply.text);
    for (id, want) in expected_stock(&[("net-kettle", 40), ("net-lamp", 40)], &orders) {
        assert_eq!(c.stock(&id).await, want, "{id}");
    }
    drop(c);
    drop(hosts);
}
