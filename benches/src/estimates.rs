//! Reading criterion's results back: the median point estimate of one benchmark, from
//! `<criterion dir>/<group>/<function>/<param>/new/estimates.json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where criterion writes: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the
/// workspace's `target/criterion` (criterion's own order, minus its `cargo metadata` call).
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion")
}

/// One benchmark's median, and when criterion wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Median {
    /// The median time per iteration.
    pub time: Duration,
    /// When the estimate was written (to tell this run's results from older ones).
    pub written: SystemTime,
}

/// The median of `group/function/param` under `dir`, if criterion has written one.
pub fn median_in(dir: &Path, group: &str, function: &str, param: &str) -> Option<Median> {
    let path = dir
        .join(group)
        .join(function)
        .join(param)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let nanos = value["median"]["point_estimate"].as_f64()?;
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    Some(Median {
        time: Duration::from_secs_f64(nanos / 1e9),
        written,
    })
}

/// The median of `group/function/param` in [`criterion_dir`], if written at or after
/// `since` (so a benchmark filtered out of this run does not report an old figure).
pub fn median_since(
    group: &str,
    function: &str,
    param: &str,
    since: SystemTime,
) -> Option<Duration> {
    median_in(&criterion_dir(), group, function, param)
        .filter(|m| m.written >= since)
        .map(|m| m.time)
}

/// `duration` in microseconds, for printing.
pub fn us(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
