//! Random methods and paths: any token is a valid HTTP method and any path may be asked for,
//! so neither may become a metric label (or anything else the server keeps).

use std::time::Duration;

use futures::StreamExt;
use system_tests::Rng;

use crate::system::System;

/// `/metrics` must stay under this size after the run.
const MAX_METRICS_BYTES: usize = 64 * 1024;

/// Resident memory may grow by this much (allocator noise, connection buffers).
const MAX_GROWTH_KIB: u64 = 16 * 1024;

fn requests() -> usize {
    if crate::long() { 200_000 } else { 20_000 }
}

async fn metrics_of(client: &reqwest::Client, base: &str) -> String {
    client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn random_word(rng: &mut Rng, max: u64) -> String {
    let len = rng.range(1, max + 1);
    (0..len)
        .map(|_| char::from(b'A' + u8::try_from(rng.below(26)).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_methods_and_paths_leave_metrics_and_memory_flat() {
    let _serial = crate::SERIAL.lock().await;
    let system = System::start(&[], None).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(32)
        .build()
        .unwrap();
    let n = requests();
    for target in system.targets() {
        if target.name == "edge-host" {
            continue; // serves no /metrics; its labels are the nodes' concern
        }
        let before_kib = target.rss_kib();
        let before_metrics = metrics_of(&client, &target.base).await.len();
        let base = target.base.clone();
        let sent = futures::stream::iter(0..n)
            .map(|i| {
                let client = client.clone();
                let base = base.clone();
                async move {
                    let mut rng = Rng::derive(0x05ee_d4e7, i as u64);
                    let method =
                        reqwest::Method::from_bytes(random_word(&mut rng, 40).as_bytes()).unwrap();
                    let path = format!(
                        "/{}/{}",
                        random_word(&mut rng, 12).to_lowercase(),
                        random_word(&mut rng, 24)
                    );
                    client
                        .request(method, format!("{base}{path}"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<u16>>()
            .await;
        assert!(
            sent.iter().all(|s| (400..500).contains(s)),
            "{}: some answers were not 4xx: {:?}",
            target.name,
            sent.iter()
                .filter(|s| !(400..500).contains(*s))
                .take(5)
                .collect::<Vec<_>>()
        );
        let metrics = metrics_of(&client, &target.base).await;
        let after_kib = target.rss_kib();
        eprintln!(
            "{}: {n} random requests; /metrics {before_metrics} -> {} bytes; resident {before_kib} -> {after_kib} KiB",
            target.name,
            metrics.len()
        );
        assert!(
            metrics.len() < MAX_METRICS_BYTES,
            "{}: /metrics grew to {} bytes",
            target.name,
            metrics.len()
        );
        assert!(
            after_kib.saturating_sub(before_kib) < MAX_GROWTH_KIB,
            "{}: resident memory grew from {before_kib} to {after_kib} KiB",
            target.name
        );
        const KNOWN: [&str; 10] = [
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "other",
        ];
        for label in metrics.split("method=\"").skip(1) {
            let value = label.split('"').next().unwrap_or_default();
            assert!(
                KNOWN.contains(&value),
                "{}: method label {value:?}",
                target.name
            );
        }
    }
}
