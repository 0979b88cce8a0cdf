//! Reliability campaigns against the real binaries: SIGKILL at random moments under
//! concurrent load (crash consistency), and mixed load through the composer (soak).
//!
//! Each campaign is one ordinary test with a short CI profile; `CAMPAIGN=long` runs the same
//! tests with the long profile (more kills, a longer soak). `CAMPAIGN_SEED=N` replays the
//! workload and kill timing of a run whose seed was printed. See docs/reliability.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod crash;
mod soak;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use system_tests::http::Reply;

/// Which profile runs: the short one of CI, or the long one (`CAMPAIGN=long`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Bounded to a couple of minutes per test on a 2-core machine.
    Ci,
    /// Hundreds of kills, a one-minute soak.
    Long,
}

impl Profile {
    /// The profile chosen by `CAMPAIGN` (`long`; anything else or unset: CI).
    pub fn current() -> Self {
        match std::env::var("CAMPAIGN").as_deref() {
            Ok("long") => Self::Long,
            _ => Self::Ci,
        }
    }

    /// `ci` or `long` for the figures.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ci => "ci",
            Self::Long => "long",
        }
    }
}

/// The run's seed: `CAMPAIGN_SEED` if set, else a fresh one. Printed, so that a failing run
/// can be replayed.
pub fn seed(campaign: &str) -> u64 {
    system_tests::rng::seed_from_env("CAMPAIGN_SEED", campaign, system_tests::rng::fresh_seed)
}

/// The campaigns run one at a time: run side by side on a 2-core machine they would starve
/// each other and skew the latency and memory figures. An async mutex, so that a failed
/// (panicked) campaign does not poison it for the next one.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A pooled HTTP client for one campaign worker: one keep-alive connection per worker,
/// re-opened after a node restart, so that kills do not leave thousands of sockets behind.
pub fn pooled(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .pool_max_idle_per_host(4)
        .build()
        .expect("client")
}

/// Sends one request; a failed connection or a timeout is an `Err`, not a panic.
pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status: StatusCode = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.map_err(|e| e.to_string())?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        body,
        text,
    })
}

/// The `q`-quantile (0..=1) of `samples` in milliseconds, by nearest rank; 0 when empty.
pub fn quantile_ms(samples: &mut [Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod helpers {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&mut v, 0.5), 50.0);
        assert_eq!(quantile_ms(&mut v, 0.99), 99.0);
        assert_eq!(quantile_ms(&mut v, 1.0), 100.0);
        assert_eq!(quantile_ms(&mut [], 0.5), 0.0);
    }
}
