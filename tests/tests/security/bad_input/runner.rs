//! Running the corpus against one node of a [`Trio`]: the cases spread over a few keep-alive
//! connections, each answer judged, and the stores compared before and after.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cases::{Case, Existing, Expect, case};
use super::spec::spec;
use crate::raw::{Outcome, RawConn};
use crate::{Trio, Which, operations, tail};

/// Cases per node unless `BAD_INPUT_CASES` says otherwise.
const DEFAULT_CASES: usize = 10_000;
/// Seed unless `BAD_INPUT_SEED` says otherwise: CI runs the same corpus every time.
pub(super) const DEFAULT_SEED: u64 = 0x5EED_BAD1;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a run found.
#[derive(Default)]
struct Tally {
    by_family: BTreeMap<&'static str, usize>,
    by_status: BTreeMap<String, usize>,
    failures: Vec<String>,
    failed: usize,
}

fn is_error_body(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v["error"]["code"].is_string() && v["error"]["message"].is_string())
}

fn judge(case: &Case, outcome: &Outcome) -> Result<String, String> {
    match outcome {
        Outcome::TimedOut => Err("no answer in time".into()),
        Outcome::Closed if matches!(case.expect, Expect::Transport | Expect::UnknownVersion) => {
            Ok("closed".into())
        }
        Outcome::Answered(r) if case.expect == Expect::UnknownVersion && r.status == 505 => {
            Ok("505".into())
        }
        Outcome::Closed => Err("connection closed without an answer".into()),
        Outcome::Answered(r) => {
            let status = r.status;
            let label = status.to_string();
            if status >= 500 {
                return Err(format!(
                    "server error {status}: {}",
                    String::from_utf8_lossy(&r.body)
                ));
            }
            match case.expect {
                Expect::Transport | Expect::UnknownVersion => Ok(label),
                Expect::Refused if !(400..500).contains(&status) => Err(format!(
                    "accepted with {status}: {}",
                    String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
                )),
                _ if (400..500).contains(&status) && !is_error_body(&r.body) => Err(format!(
                    "{status} without the JSON error body ({:?}): {}",
                    r.content_type,
                    String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
                )),
                _ => Ok(label),
            }
        }
    }
}

fn printable(bytes: &[u8], n: usize) -> String {
    let cut = &bytes[..bytes.len().min(n)];
    cut.escape_ascii().to_string()
}

/// Runs the corpus against `which`: no 5xx, no panic, and nothing written.
pub(super) async fn run_corpus(which: Which) {
    let cases = env_or("BAD_INPUT_CASES", DEFAULT_CASES);
    let seed = system_tests::rng::seed_from_env("BAD_INPUT_SEED", "bad input", || DEFAULT_SEED);
    let connections = env_or("BAD_INPUT_CONNECTIONS", 4usize).max(1);
    let trio = Trio::start().await;
    let started = trio.node(which);
    let base = started.node.base().to_owned();

    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for op in operations(&base).await {
        if op.scope.is_none() {
            continue;
        }
        match spec(&op) {
            Some(s) => known.push((op, s)),
            None => unknown.push(op.label()),
        }
    }
    assert!(
        unknown.is_empty(),
        "{} publishes operations the bad-input corpus does not know: {unknown:?}; describe \
         their body, query and headers in bad_input::spec",
        which.name()
    );
    assert!(!known.is_empty());

    let before = trio.fingerprint().await;
    let token = started.callers.token("all");
    let existing = Arc::new(Existing {
        order: trio.order_id.clone(),
    });
    let known = Arc::new(known);
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let node_stream = which as u64;
    let started_at = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (known, existing, next, tally, token, base) = (
            known.clone(),
            existing.clone(),
            next.clone(),
            tally.clone(),
            token.clone(),
            base.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut conn = RawConn::new(&base, Duration::from_secs(20));
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases {
                    break;
                }
                let c = case(seed, node_stream, i as u64, &known, &existing, &token);
                let outcome = conn.send(&c.bytes, c.head).await;
                let verdict = judge(&c, &outcome);
                let mut t = tally.lock().unwrap();
                *t.by_family.entry(c.family).or_default() += 1;
                match verdict {
                    Ok(label) => *t.by_status.entry(label).or_default() += 1,
                    Err(why) => {
                        t.failed += 1;
                        *t.by_status.entry("FAILED".into()).or_default() += 1;
                        if t.failures.len() < 30 {
                            t.failures.push(format!(
                                "case {i} ({} on {}): {why}\n    request: {}",
                                c.family,
                                c.op,
                                printable(&c.bytes, 400)
                            ));
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started_at.elapsed();

    // Still alive, nothing written, no panic logged.
    let health = started.node.client(None).get("/healthz").await;
    assert_eq!(health.status, 200, "{} no longer answers", which.name());
    trio.wait_search_at(trio.catalog_head().await).await;
    let after = trio.fingerprint().await;
    let t = tally.lock().unwrap();
    println!(
        "bad input, {}: {cases} cases (seed {seed:#x}, {connections} connections) in {:.1}s \
         ({:.0}/s)\n  families: {:?}\n  outcomes: {:?}",
        which.name(),
        elapsed.as_secs_f64(),
        cases as f64 / elapsed.as_secs_f64().max(0.001),
        t.by_family,
        t.by_status
    );
    assert!(
        t.failed == 0,
        "{} of {cases} bad-input cases against {} failed (seed {seed:#x}); the first:\n{}\n\
         log:\n{}",
        t.failed,
        which.name(),
        t.failures.join("\n"),
        tail(&started.node.log(), 3000)
    );
    crate::assert_unchanged(&before, &after);
    trio.assert_no_panic();
}
