//! A gigabyte body to every route that takes one, on every node and the composer: each is
//! refused with 413 without the server holding it in memory.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::system::{System, Target};

const GIGABYTE: u64 = 1 << 30;

/// Peak resident memory may grow by this much over the whole run, per server.
const MAX_GROWTH_KIB: u64 = 64 * 1024;

/// How a body is sent.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `Content-Length: 1073741824`, then the bytes.
    Declared,
    /// `Transfer-Encoding: chunked`, 64 KiB chunks.
    Chunked,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gigabyte_bodies_are_refused_with_413_and_memory_stays_flat() {
    let _serial = crate::SERIAL.lock().await;
    let system = System::start(&[], None).await;
    let nodes = [
        (
            "catalog-node",
            &system.catalog,
            system.catalog_callers.clone(),
        ),
        ("order-node", &system.orders, system.order_callers.clone()),
        ("search-node", &system.search, system.search_callers.clone()),
    ];
    let targets = system.targets();
    for (name, node, callers) in nodes {
        let target = targets.iter().find(|t| t.name == name).unwrap();
        // A token with every scope of the node, so that nothing but the size refuses it.
        let tokens: Vec<String> = callers.roles.iter().map(|(_, t, _)| t.clone()).collect();
        let routes = body_routes(node.base()).await;
        assert!(
            !routes.is_empty() || name == "search-node",
            "{name} lists no route taking a body"
        );
        let before = target.rss_kib();
        let mut chunked_refused = 0;
        for (method, path) in &routes {
            let mut declared = Vec::new();
            let mut chunked = Vec::new();
            for token in &tokens {
                declared
                    .push(send_huge(target, method, path, Some(token), Framing::Declared).await);
                chunked.push(send_huge(target, method, path, Some(token), Framing::Chunked).await);
            }
            // A declared gigabyte is refused from its head, whoever sends it.
            assert!(
                declared.iter().all(|s| *s == 413),
                "{name} {method} {path} (declared) answered {declared:?}"
            );
            // A chunked one is cut off at the limit by a route that reads its body; a caller
            // without the scope is refused before the body (401/403), and a route that takes
            // no body (a cancel) answers without reading it. Never a 5xx.
            assert!(
                chunked.iter().all(|s| *s < 500),
                "{name} {method} {path} (chunked) answered {chunked:?}"
            );
            chunked_refused += chunked.iter().filter(|s| **s == 413).count();
        }
        assert!(
            routes.is_empty() || chunked_refused > 0,
            "{name}: no chunked gigabyte was cut off with 413"
        );
        check_memory(target, before, &system);
    }
    let host = targets.iter().find(|t| t.name == "edge-host").unwrap();
    let before = host.rss_kib();
    for framing in [Framing::Declared, Framing::Chunked] {
        for _ in 0..3 {
            let status = send_huge(host, "POST", "/v1/orders", None, framing).await;
            assert_eq!(
                status, 413,
                "the composer answered {status} to a {framing:?} gigabyte"
            );
        }
    }
    check_memory(host, before, &system);
    for target in system.targets() {
        assert!(target.alive(), "{} exited", target.name);
    }
}

fn check_memory(target: &Target, before_kib: u64, system: &System) {
    let peak = target.peak_kib();
    let growth = peak.saturating_sub(before_kib);
    eprintln!(
        "{}: resident {before_kib} KiB before, peak {peak} KiB after gigabyte bodies (growth {growth} KiB)",
        target.name
    );
    assert!(
        growth < MAX_GROWTH_KIB,
        "{}: peak resident memory grew by {growth} KiB:\n{}",
        target.name,
        system.logs()
    );
}

/// The `(METHOD, path)` of every operation in the node's OpenAPI document that takes a body
/// (POST, PUT, PATCH), its path parameters filled with a valid id.
async fn body_routes(base: &str) -> Vec<(String, String)> {
    let doc: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch"] {
            if ops.get(method).is_some() {
                let filled = path.replace("{id}", "hostile-1");
                out.push((method.to_uppercase(), filled));
            }
        }
    }
    out
}

/// Sends a gigabyte to `path` while reading the answer; returns its status as soon as it
/// comes (the server is not expected to read the body first).
async fn send_huge(
    target: &Target,
    method: &str,
    path: &str,
    token: Option<&str>,
    framing: Framing,
) -> u16 {
    let stream = TcpStream::connect(target.addr()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    match framing {
        Framing::Declared => head.push_str(&format!("Content-Length: {GIGABYTE}\r\n\r\n")),
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'['; 64 * 1024];
        let mut sent = 0u64;
        while sent < GIGABYTE {
            match framing {
                Framing::Declared => writer.write_all(&chunk).await?,
                Framing::Chunked => {
                    writer
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .await?;
                    writer.write_all(&chunk).await?;
                    writer.write_all(b"\r\n").await?;
                }
            }
            sent += chunk.len() as u64;
        }
        Ok::<_, std::io::Error>(sent)
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    sender.abort();
    assert!(
        read.is_ok(),
        "{} {method} {path}: no answer within 60 s",
        target.name
    );
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{} {method} {path} ({framing:?}): no status in {text:?}",
                target.name
            )
        })
}
