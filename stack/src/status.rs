//! `stack status`: each part's health, data size and the search lag.

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::layout::{Layout, Part};

/// What one part reported.
#[derive(Debug, Clone)]
pub struct PartStatus {
    /// Which part.
    pub part: Part,
    /// Its base URL.
    pub url: String,
    /// Whether its readiness route answered 2xx.
    pub ready: bool,
    /// What it said, or why it said nothing.
    pub detail: String,
    /// Bytes its store takes on disk.
    pub data_bytes: Option<u64>,
}

/// Asks every part how it is.
pub async fn collect(layout: &Layout, http: &reqwest::Client) -> Vec<PartStatus> {
    let mut all = Vec::new();
    for part in layout.parts() {
        let url = layout.url(part);
        let probe = http
            .get(format!("{url}{}", part.ready_path()))
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        let (ready, detail) = match probe {
            Err(e) if e.is_connect() => (false, "down (nothing listens)".to_owned()),
            Err(e) if e.is_timeout() => (false, "not answering (timed out)".to_owned()),
            Err(e) => (false, format!("unreachable: {e}")),
            Ok(r) => {
                let ok = r.status().is_success();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (ok, describe(part, ok, &body))
            }
        };
        all.push(PartStatus {
            part,
            url,
            ready,
            detail,
            data_bytes: layout.store(part).map(|dir| size_of(&dir)),
        });
    }
    all
}

/// One line of detail from a readiness answer.
fn describe(part: Part, ok: bool, body: &Value) -> String {
    let state = if ok { "ready" } else { "not ready" };
    let details = &body["details"];
    match part {
        Part::Search if details.is_object() => format!(
            "{state}; indexed seq {} of {}, lag {} events, catalog {}",
            details["indexed_seq"],
            details["catalog_head_seq"],
            details["lag_events"],
            if details["catalog_reachable"] == Value::Bool(true) {
                "reachable"
            } else {
                "unreachable"
            }
        ),
        Part::Replica(_) if details["replica"].is_object() => {
            let replica = &details["replica"];
            format!(
                "{state}; applied seq {} of {}, lag {} changes, primary {}",
                replica["applied_seq"],
                replica["primary_seq"],
                replica["lag"],
                if replica["primary_reachable"] == Value::Bool(true) {
                    "reachable"
                } else {
                    "unreachable"
                }
            )
        }
        _ if details.is_object() && details.as_object().is_some_and(|d| !d.is_empty()) => {
            format!("{state}; {details}")
        }
        _ => state.to_owned(),
    }
}

/// The bytes of every file under `dir` (0 if it does not exist).
pub fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => size_of(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// A size for people: `12.3 MiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The status table, one line per part.
pub fn render(all: &[PartStatus]) -> String {
    let mut out = String::new();
    for s in all {
        let size = s.data_bytes.map(human).unwrap_or_else(|| "-".to_owned());
        out.push_str(&format!(
            "{:<14} {:<23} {:>10}  {}\n",
            s.part.name(),
            s.url,
            size,
            s.detail
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_add_up_through_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        fs::write(dir.path().join("x"), [0u8; 10]).unwrap();
        fs::write(dir.path().join("a/b/y"), [0u8; 5]).unwrap();
        assert_eq!(size_of(dir.path()), 15);
        assert_eq!(size_of(&dir.path().join("missing")), 0);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn search_readiness_shows_the_lag() {
        let body = json!({"status": "ready", "details": {
            "bootstrapped": true, "indexed_seq": 90, "catalog_head_seq": 100,
            "lag_events": 10, "catalog_reachable": true}});
        let text = describe(Part::Search, true, &body);
        assert_eq!(
            text,
            "ready; indexed seq 90 of 100, lag 10 events, catalog reachable"
        );
    }
}
