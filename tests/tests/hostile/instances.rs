//! edge-host's limits on each instance of the component: its memory and its deadline. The
//! composer itself never runs away, so these start edge-host with a limit the composer must
//! hit: a memory cap below what it needs, and a deadline shorter than its wait on an upstream
//! that never answers.

use std::time::{Duration, Instant};

use system_tests::EdgeHost;
use system_tests::composer::composer_wasm;
use tokio::net::TcpListener;

use crate::system::env;

/// Upstreams that accept connections and never answer; every `*_url` points at one.
async fn silent_upstreams() -> (Vec<String>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let mut vars: Vec<String> = ["catalog", "orders", "search"]
        .iter()
        .flat_map(|name| {
            [
                format!("{name}_url={url}"),
                format!("{name}_token={name}-token-0123456789"),
            ]
        })
        .collect();
    vars.extend(system_tests::identity::vars());
    (vars, held)
}

/// edge-host with `settings` in its environment, serving the composer in front of
/// [`silent_upstreams`]; everything lives until the three are dropped.
async fn host_with(
    settings: &[(&str, &str)],
) -> (EdgeHost, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let (vars, held) = silent_upstreams().await;
    let dir = tempfile::tempdir().unwrap();
    let host = EdgeHost::start_limited(
        &composer_wasm(),
        &vars,
        &dir.path().join("edge-host.log"),
        &env(settings),
        None,
    )
    .await;
    (host, held, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_over_its_memory_cap_is_stopped_with_503() {
    let _serial = crate::SERIAL.lock().await;
    let (host, _held, _dir) = host_with(&[("EDGE_INSTANCE_MEMORY_MIB", "1")]).await;
    let reply = reqwest::get(format!("{}/v1/search?q=tent", host.base()))
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let body = reply.text().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("memory_limit"), "{body}");
    // The host is unharmed: the next request is refused the same way, not crashed on.
    let again = reqwest::get(format!("{}/healthz", host.base()))
        .await
        .unwrap();
    assert_eq!(again.status(), 503);
    assert!(host.pid().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_past_its_deadline_is_stopped_with_504() {
    let _serial = crate::SERIAL.lock().await;
    // A deadline of 1 s, shorter than the composer's own 1.5 s budget for a hop.
    let (host, _held, _dir) = host_with(&[("HTTP_REQUEST_TIMEOUT_SECS", "1")]).await;
    let started = Instant::now();
    let reply = reqwest::get(format!("{}/v1/search?q=tent", host.base()))
        .await
        .unwrap();
    let took = started.elapsed();
    let status = reply.status().as_u16();
    let body = reply.text().await.unwrap();
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("deadline_exceeded"), "{body}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1400),
        "answered after {took:?}"
    );
}
