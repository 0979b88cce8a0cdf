use system_tests::{Node, NodeSpec, OrderSystem, binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_cannot_open_the_data_directory() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    let order = sys.place_confirmed("yan", &[("a", 1)]).await;

    let mut spec: NodeSpec = sys.node.spec().clone();
    spec.listen = "127.0.0.1:0".into();
    spec.log = sys.dir.path().join("second.log");
    let failure = Node::try_start(spec)
        .await
        .expect_err("a second order-node started on the same data directory");
    assert_ne!(failure.code, Some(0));
    assert!(
        failure.stderr.contains("in use by another process"),
        "unclear message: {}",
        failure.stderr
    );
    // The first node is unaffected.
    let id = order["id"].as_str().unwrap();
    assert_eq!(sys.order(id).await.status, 200);
    sys.place_confirmed("yan", &[("a", 1)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_without_callers() {
    let dir = tempfile::tempdir().unwrap();
    let spec = NodeSpec::new(
        binary("order-node"),
        &dir.path().join("data"),
        &dir.path().join("log"),
        &["--catalog-url", "http://127.0.0.1:9"],
    )
    .with_catalog_token("some-catalog-token-0123456789");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(unix)]
async fn the_data_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let sys = OrderSystem::start().await;
    let mode = std::fs::metadata(sys.node.data_dir())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}
