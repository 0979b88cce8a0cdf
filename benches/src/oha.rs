//! Runs the load tool `oha` on one request for a bounded time and reads its JSON report:
//! what the `load` and `compare` programs share.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// One HTTP request oha repeats.
#[derive(Debug, Clone)]
pub struct Target {
    /// The method.
    pub method: &'static str,
    /// The absolute URL.
    pub url: String,
    /// A bearer token, if the route needs one.
    pub token: Option<String>,
    /// A JSON body, if any.
    pub body: Option<String>,
}

/// How oha runs.
#[derive(Debug, Clone)]
pub struct Oha {
    /// The oha binary.
    pub program: String,
    /// Seconds of load.
    pub seconds: u64,
}

/// What oha measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// 2xx answers per second.
    pub ok_per_sec: f64,
    /// Median latency, in ms.
    pub p50_ms: f64,
    /// 99th-percentile latency, in ms.
    pub p99_ms: f64,
    /// Answers that were not 2xx.
    pub not_ok: u64,
    /// Every status and its count, as oha printed them.
    pub statuses: String,
    /// Every client-side error and its count.
    pub errors: String,
}

impl Oha {
    /// The tool's version line; an error that says how to install it when it does not run.
    pub async fn version(&self) -> Result<String, String> {
        let out = tokio::process::Command::new(&self.program)
            .arg("--version")
            .output()
            .await
            .map_err(|e| {
                format!(
                    "cannot run {} ({e}); install it with `cargo install oha --locked`",
                    self.program
                )
            })?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Loads `target` with `connections` keep-alive connections for the configured time;
    /// kills oha if it overruns that by 30 s.
    pub async fn run(&self, target: &Target, connections: u64) -> Result<Report, String> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(["--no-tui", "--output-format", "json"])
            .args(["-z", &format!("{}s", self.seconds)])
            .args(["-c", &connections.to_string()])
            .args(["-m", target.method]);
        if let Some(token) = &target.token {
            cmd.args(["-H", &format!("authorization: Bearer {token}")]);
        }
        if let Some(body) = &target.body {
            cmd.args(["-T", "application/json", "-d", body]);
        }
        cmd.arg(&target.url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program))?;
        let limit = Duration::from_secs(self.seconds + 30);
        let out = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .map_err(|_| format!("oha overran {limit:?} on {}", target.url))?
            .map_err(|e| format!("oha on {}: {e}", target.url))?;
        if !out.status.success() {
            return Err(format!(
                "oha on {} failed ({}): {}",
                target.url,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "oha's JSON on {}: {e}: {}",
                target.url,
                String::from_utf8_lossy(&out.stdout)
            )
        })?;
        Ok(read(&report))
    }
}

/// The figures of one oha JSON report.
fn read(report: &Value) -> Report {
    let total_secs = report["summary"]["total"].as_f64().unwrap_or(f64::NAN);
    let statuses = report["statusCodeDistribution"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let count = |ok: bool| -> u64 {
        statuses
            .iter()
            .filter(|(code, _)| code.starts_with('2') == ok)
            .filter_map(|(_, n)| n.as_u64())
            .sum()
    };
    let latency = |p: &str| {
        report["metrics"]["latency_ms"][p]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    let list = |v: &Value| {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    Report {
        ok_per_sec: count(true) as f64 / total_secs,
        p50_ms: latency("p50"),
        p99_ms: latency("p99"),
        not_ok: count(false),
        statuses: list(&report["statusCodeDistribution"]),
        errors: list(&report["errorDistribution"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_counts_2xx_per_second_and_the_rest_apart() {
        let report = serde_json::json!({
            "summary": { "total": 2.0 },
            "statusCodeDistribution": { "200": 90, "201": 10, "503": 4 },
            "errorDistribution": { "aborted due to deadline": 8 },
            "metrics": { "latency_ms": { "p50": 1.5, "p99": 9.0 } },
        });
        let r = read(&report);
        assert_eq!(r.ok_per_sec, 50.0);
        assert_eq!(r.not_ok, 4);
        assert_eq!((r.p50_ms, r.p99_ms), (1.5, 9.0));
        assert!(
            r.errors.contains("aborted due to deadline: 8"),
            "{}",
            r.errors
        );
    }
}
