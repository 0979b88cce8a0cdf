//! Callers and scopes, the open operational routes, start-up refusals and the data-dir lock.

use system_tests::search::{SEARCH_ROLES, hit_ids, search_path};
use system_tests::{Callers, Client, Node, NodeSpec, SearchSystem, binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searching_needs_a_token_with_search_read() {
    let sys = SearchSystem::start().await;
    let seq = sys.put_product("a1", "Kite a1", "", "toys").await;
    assert_eq!(hit_ids(&sys.search_after("kite", seq).await), ["a1"]);

    let ok = search_path(&[("q", "kite")]);
    // A bad request is refused for lack of credentials before it is validated.
    let bad = search_path(&[("q", "name:("), ("limit", "0")]);
    let anonymous = sys.anonymous();
    let unknown = sys.node.client(Some("not-a-known-token-at-all".into()));
    // Tokens of the catalog's callers file mean nothing to search-node.
    let catalog_admin = sys.node.client(Some(sys.catalog.callers.token("admin")));
    let catalog_search = sys
        .node
        .client(Some(sys.catalog.callers.token("search-node")));
    let callers: [(&Client, u16, &str, &str); 5] = [
        (&anonymous, 401, "unauthorized", "no token"),
        (&unknown, 401, "unauthorized", "an unknown token"),
        (
            &catalog_admin,
            401,
            "unauthorized",
            "the catalog's admin token",
        ),
        (
            &catalog_search,
            401,
            "unauthorized",
            "the catalog's search-node token",
        ),
        (
            &sys.as_role("other"),
            403,
            "forbidden",
            "a token without search:read",
        ),
    ];
    for (client, status, code, label) in callers {
        for path in [&ok, &bad] {
            let r = client.get(path).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (status, code),
                "{label} on {path}: {}",
                r.text
            );
            assert!(r.body["hits"].is_null(), "{label} got hits: {}", r.text);
            if status == 401 {
                assert_eq!(
                    r.header("www-authenticate").as_deref(),
                    Some("Bearer"),
                    "{label}"
                );
            }
        }
    }
    let r = sys.shop().get(&ok).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A malformed Authorization header is no token at all.
    let r = sys
        .anonymous()
        .send(
            reqwest::Method::GET,
            &ok,
            None,
            &[("authorization", "Basic Zm9vOmJhcg==")],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);

    // The operational routes are open.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = anonymous.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    let metrics = anonymous.get("/metrics").await.text;
    for name in [
        "search_indexed_seq",
        "search_catalog_head_seq",
        "search_lag_events",
        "search_last_applied_age_ms",
        "search_documents",
        "search_commits_total",
    ] {
        assert!(
            metrics.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing from /metrics:\n{metrics}"
        );
    }
    let ready = anonymous.get("/readyz").await;
    for key in [
        "bootstrapped",
        "indexed_seq",
        "catalog_head_seq",
        "lag_events",
        "catalog_reachable",
    ] {
        assert!(
            !ready.body["details"][key].is_null(),
            "{key} missing from /readyz: {}",
            ready.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_cannot_open_the_data_directory() {
    let sys = SearchSystem::start().await;
    let mut spec: NodeSpec = sys.node.spec().clone();
    spec.listen = "127.0.0.1:0".into();
    spec.log = sys.dir.path().join("second.log");
    let failure = Node::try_start(spec)
        .await
        .expect_err("a second search-node started on the same data directory");
    assert_ne!(failure.code, Some(0));
    assert!(
        failure.stderr.contains("in use by another process"),
        "unclear message: {}",
        failure.stderr
    );
    // The first node is unaffected.
    let seq = sys.put_product("l1", "Padlock l1", "", "home-decor").await;
    assert_eq!(hit_ids(&sys.search_after("padlock", seq).await), ["l1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_without_callers_or_catalog_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let no_callers = NodeSpec::new(
        binary("search-node"),
        &data,
        &log,
        &["--catalog-url", "http://127.0.0.1:9"],
    )
    .with_catalog_token("tok-search-node-0123456789");
    let failure = Node::try_start(no_callers)
        .await
        .expect_err("started without callers");
    assert_ne!(failure.code, Some(0));
    assert!(failure.stderr.contains("--callers"), "{}", failure.stderr);
    assert!(
        failure.stderr.contains("--allow-anonymous"),
        "{}",
        failure.stderr
    );

    let callers = Callers::write(dir.path(), SEARCH_ROLES);
    let callers_path = callers.path.to_string_lossy().into_owned();
    let no_token = NodeSpec::new(
        binary("search-node"),
        &data,
        &dir.path().join("log2"),
        &[
            "--callers",
            &callers_path,
            "--catalog-url",
            "http://127.0.0.1:9",
        ],
    );
    let failure = Node::try_start(no_token)
        .await
        .expect_err("started without a catalog token");
    assert_ne!(failure.code, Some(0));
    assert!(
        failure.stderr.contains("--catalog-token"),
        "{}",
        failure.stderr
    );
}
