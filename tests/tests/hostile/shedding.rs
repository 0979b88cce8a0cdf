//! 2,000 slow requests at once against every node and the composer: each server takes what
//! its concurrency limit allows and sheds the rest at once with 503 and `Retry-After`;
//! nothing it took is lost, and it serves normally afterwards.

use std::time::Duration;

use serde_json::Value;
use system_tests::orders::order_body;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::system::{System, Target, raise_own_file_limit};

const CONCURRENT: usize = 2_000;

/// How long each admitted request holds its slot: its body arrives this late.
const SLOW_FOR: Duration = Duration::from_secs(2);

/// One slow request: a head, part of the body at once and the rest after [`SLOW_FOR`]; or a
/// long-poll when there is no body.
#[derive(Debug, Clone)]
struct Slow {
    method: &'static str,
    path: String,
    token: Option<String>,
    body: Option<Vec<u8>>,
}

/// What a slow request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    status: u16,
    retry_after: bool,
}

async fn send_slow(addr: String, slow: Slow) -> Answer {
    let Ok(stream) = TcpStream::connect(&addr).await else {
        return Answer {
            status: 0,
            retry_after: false,
        };
    };
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
        slow.method, slow.path
    );
    if let Some(token) = &slow.token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = slow.body.unwrap_or_default();
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let half = body.len() / 2;
    let mut first = head.into_bytes();
    first.extend_from_slice(&body[..half]);
    let rest = body[half..].to_vec();
    let writing = tokio::spawn(async move {
        writer.write_all(&first).await.ok()?;
        tokio::time::sleep(SLOW_FOR).await;
        writer.write_all(&rest).await.ok()?;
        Some(writer)
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), reader.read_to_end(&mut answer)).await;
    writing.abort();
    // Not HTTP statuses: 1 for no answer within a minute, 2 for a close without an answer.
    if read.is_err() {
        return Answer {
            status: 1,
            retry_after: false,
        };
    }
    if answer.is_empty() {
        return Answer {
            status: 2,
            retry_after: false,
        };
    }
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    Answer {
        status: text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        retry_after: text.contains("\r\nretry-after: "),
    }
}

/// The system with one well-stocked product; returns it and the catalog's seq after it.
async fn stocked_system() -> (System, u64) {
    raise_own_file_limit();
    let system = System::start(&[], None).await;
    let stocked = system
        .catalog_admin()
        .put(
            "/v1/products/stocked-1",
            &system_tests::product("Stocked", 100, 1_000_000),
        )
        .await;
    assert!(stocked.status.is_success(), "{}", stocked.text);
    let seq = stocked.seq();
    (system, seq)
}

fn target(system: &System, name: &str) -> Target {
    system
        .targets()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap()
}

/// Afterwards: the server is up and answers an ordinary request at once.
async fn serves_normally(system: &System, name: &str) {
    let target = target(system, name);
    assert!(target.alive(), "{name} exited:\n{}", system.logs());
    let reply = reqwest::get(format!("{}/healthz", target.base))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{name} does not serve afterwards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_node_sheds_slow_writes_and_stores_every_write_it_took() {
    let _serial = crate::SERIAL.lock().await;
    let (system, _) = stocked_system().await;
    let admin = system.catalog_admin();
    // Product writes, each its own id, so that what was taken can be counted.
    let token = system.catalog_callers.token("admin");
    let answers = flood(&target(&system, "catalog-node"), |i| Slow {
        method: "PUT",
        path: format!("/v1/products/slow-{i}"),
        token: Some(token.clone()),
        body: Some(body(&system_tests::product("Slow", 100, 1))),
    })
    .await;
    let taken = check("catalog-node", &answers);
    let mut written = 0;
    for i in 0..CONCURRENT {
        if admin.get(&format!("/v1/products/slow-{i}")).await.status == 200 {
            written += 1;
        }
    }
    assert_eq!(
        written, taken,
        "catalog-node: {taken} writes acknowledged, {written} stored"
    );
    serves_normally(&system, "catalog-node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_node_sheds_slow_orders_and_stores_every_order_it_took() {
    let _serial = crate::SERIAL.lock().await;
    let (system, _) = stocked_system().await;
    let token = system.order_callers.token("shop");
    let before = order_count(&system).await;
    let answers = flood(&target(&system, "order-node"), |i| Slow {
        method: "POST",
        path: "/v1/orders".into(),
        token: Some(token.clone()),
        body: Some(body(&order_body(&format!("slow-{i}"), &[("stocked-1", 1)]))),
    })
    .await;
    let taken = check("order-node", &answers);
    let stored = order_count(&system).await - before;
    assert_eq!(
        stored, taken,
        "order-node: {taken} orders acknowledged, {stored} stored"
    );
    serves_normally(&system, "order-node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_node_sheds_long_polls_beyond_its_limit() {
    let _serial = crate::SERIAL.lock().await;
    let (system, head) = stocked_system().await;
    // Long-polls for a write that never comes.
    let token = system.search_callers.token("shop");
    let far = head + 1_000_000;
    let answers = flood(&target(&system, "search-node"), |_| Slow {
        method: "GET",
        path: format!("/v1/search?q=stocked&min_seq={far}&wait_ms=2000"),
        token: Some(token.clone()),
        body: None,
    })
    .await;
    check("search-node", &answers);
    serves_normally(&system, "search-node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_host_sheds_slow_requests_beyond_its_instances() {
    let _serial = crate::SERIAL.lock().await;
    let (system, _) = stocked_system().await;
    // Orders through the edge; whatever it takes reaches order-node once.
    let before = order_count(&system).await;
    let answers = flood(&target(&system, "edge-host"), |i| Slow {
        method: "POST",
        path: "/v1/orders".into(),
        token: None,
        body: Some(body(&order_body(
            &format!("edge-slow-{i}"),
            &[("stocked-1", 1)],
        ))),
    })
    .await;
    check("edge-host", &answers);
    let created = answers
        .iter()
        .filter(|a| a.status == 201 || a.status == 202)
        .count();
    let stored = order_count(&system).await - before;
    assert_eq!(
        stored, created,
        "the composer acknowledged {created} orders, {stored} stored"
    );
    serves_normally(&system, "edge-host").await;
    serves_normally(&system, "order-node").await;
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

async fn order_count(system: &System) -> usize {
    // Every order the saga knows, settled or not, from order-node's own readiness report.
    let reply = system.orders.client(None).get("/readyz").await;
    usize::try_from(reply.body["details"]["orders"].as_u64().unwrap()).unwrap()
}

async fn flood(target: &Target, make: impl Fn(usize) -> Slow) -> Vec<Answer> {
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT)
        .map(|i| tokio::spawn(send_slow(target.addr(), make(i))))
        .collect();
    let mut answers = Vec::with_capacity(CONCURRENT);
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    eprintln!(
        "{}: {CONCURRENT} slow requests answered in {:?}",
        target.name,
        started.elapsed()
    );
    answers
}

/// Checks the answers: some shed with 503 and Retry-After, none taken failed with a 5xx;
/// returns how many were taken and succeeded (2xx).
fn check(name: &str, answers: &[Answer]) -> usize {
    let shed = answers.iter().filter(|a| a.status == 503).count();
    let unexplained = answers
        .iter()
        .filter(|a| a.status == 503 && !a.retry_after)
        .count();
    let failed: Vec<u16> = answers
        .iter()
        .map(|a| a.status)
        .filter(|s| *s < 100 || (*s >= 500 && *s != 503))
        .collect();
    let ok = answers
        .iter()
        .filter(|a| (200..300).contains(&a.status))
        .count();
    eprintln!(
        "{name}: {shed} shed with 503, {ok} succeeded, {} other",
        answers.len() - shed - ok
    );
    assert!(
        shed > 0,
        "{name}: nothing was shed out of {CONCURRENT} concurrent slow requests"
    );
    assert_eq!(
        unexplained, 0,
        "{name}: {unexplained} 503s without Retry-After"
    );
    assert!(failed.is_empty(), "{name}: failures {failed:?}");
    ok
}
