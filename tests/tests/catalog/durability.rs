use std::path::PathBuf;

use serde_json::json;
use system_tests::{CatalogNode, Node, NodeSpec, binary, product};

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    let orders = cat.as_role("order-node");
    let puts = (0..120).map(|i| {
        let admin = admin.clone();
        async move {
            let r = admin
                .put(
                    &format!("/v1/products/k{i:03}"),
                    &product(&format!("K{i}"), 100 + i, 10),
                )
                .await;
            assert_eq!(r.status, 201);
            r.seq()
        }
    });
    let mut max_seq = futures::future::join_all(puts)
        .await
        .into_iter()
        .max()
        .unwrap();
    let holds = (0..40).map(|i| {
        let orders = orders.clone();
        async move {
            let body = json!({"id": format!("r{i}"), "items": [{"product_id": format!("k{:03}", i % 10), "qty": 1}]});
            let r = orders.post("/v1/reservations", &body).await;
            assert_eq!(r.status, 201);
            r.seq()
        }
    });
    max_seq = max_seq.max(
        futures::future::join_all(holds)
            .await
            .into_iter()
            .max()
            .unwrap(),
    );

    cat.node.kill9().await;
    cat.node.restart().await;

    let page = admin.get("/v1/products?limit=1000").await;
    let products = page.body["products"].as_array().unwrap();
    assert_eq!(products.len(), 120);
    for (i, p) in products.iter().enumerate() {
        assert_eq!(p["price_minor"], 100 + i as u64);
        let held = if i < 10 { 4 } else { 0 };
        assert_eq!(p["stock"], 10 - held, "{p}");
    }
    for i in 0..40 {
        assert_eq!(
            orders.get(&format!("/v1/reservations/r{i}")).await.body["status"],
            "held"
        );
    }
    assert!(page.body["head_seq"].as_u64().unwrap() >= max_seq);
    // The feed carries on after the last acknowledged seq, never reusing one.
    let next = admin
        .put("/v1/products/after-crash", &product("A", 1, 1))
        .await;
    assert!(next.seq() > max_seq);
}

#[tokio::test]
async fn a_second_process_cannot_open_the_data_directory() {
    let cat = CatalogNode::start().await;
    let mut spec: NodeSpec = cat.node.spec().clone();
    spec.listen = "127.0.0.1:0".into();
    spec.log = cat.dir.path().join("second.log");
    let failure = Node::try_start(spec)
        .await
        .expect_err("second node started");
    assert_ne!(failure.code, Some(0));
    assert!(
        failure.stderr.contains("in use by another process"),
        "unclear message: {}",
        failure.stderr
    );
    // The first node is unaffected.
    assert_eq!(cat.as_role("reader").get("/v1/products").await.status, 200);
}

#[tokio::test]
async fn refuses_to_start_without_callers() {
    let dir = tempfile::tempdir().unwrap();
    let spec = NodeSpec::new(
        binary("catalog-node"),
        &dir.path().join("data"),
        &dir.path().join("log"),
        &[],
    );
    let failure = Node::try_start(spec)
        .await
        .expect_err("started without callers");
    assert_ne!(failure.code, Some(0));
    assert!(failure.stderr.contains("--callers"), "{}", failure.stderr);
    assert!(
        failure.stderr.contains("--allow-anonymous"),
        "{}",
        failure.stderr
    );
}

#[tokio::test]
async fn anonymous_mode_is_explicit_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let spec = NodeSpec::new(
        binary("catalog-node"),
        &dir.path().join("data"),
        &dir.path().join("log"),
        &["--allow-anonymous"],
    );
    let node = Node::start(spec).await;
    let open = node.client(None);
    assert_eq!(
        open.put("/v1/products/a", &product("A", 1, 1)).await.status,
        201
    );
    assert!(node.log().contains("anonymous access allowed"));
}

#[tokio::test]
#[cfg(unix)]
async fn the_data_directory_is_owner_only_and_sigterm_stops_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let mut cat = CatalogNode::start().await;
    let mode = std::fs::metadata(cat.node.data_dir())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    cat.as_role("admin")
        .put("/v1/products/a", &product("A", 1, 1))
        .await;
    assert_eq!(cat.node.terminate().await, Some(0));
    assert!(cat.node.log().contains("stopped"));
}

#[tokio::test]
async fn import_loads_the_demo_catalogue() {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/catalog.jsonl");
    let lines = std::fs::read_to_string(&demo)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert!(lines >= 1000);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(binary("catalog-node"))
        .arg("--data-dir")
        .arg(&data)
        .arg("import")
        .arg(&demo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("imported {lines} products")));

    let cat = CatalogNode::start_with(binary("catalog-node"), Some(data)).await;
    let reader = cat.as_role("reader");
    let mut count = 0;
    let mut after = String::new();
    loop {
        let path = if after.is_empty() {
            "/v1/products?limit=1000".to_owned()
        } else {
            format!("/v1/products?limit=1000&after={after}")
        };
        let page = reader.get(&path).await;
        count += page.body["products"].as_array().unwrap().len();
        match page.body["next_after"].as_str() {
            Some(a) => after = a.to_owned(),
            None => break,
        }
    }
    assert_eq!(count, lines);
    let feed = cat
        .as_role("search-node")
        .get("/v1/events?after=0&limit=5000")
        .await;
    assert_eq!(feed.body["events"].as_array().unwrap().len(), lines);
}

#[tokio::test]
async fn import_refuses_a_bad_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, "{\"id\":\"a\",\"name\":\"A\",\"category\":\"toys\",\"price_minor\":1,\"currency\":\"EUR\",\"stock\":1}\nnot json\n").unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(binary("catalog-node"))
        .arg("--data-dir")
        .arg(&data)
        .arg("import")
        .arg(&file)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    let cat = CatalogNode::start_with(binary("catalog-node"), Some(data)).await;
    assert_eq!(
        cat.as_role("reader").get("/v1/products").await.body["products"],
        json!([])
    );
}
