//! The saga's recovery loop: finds orders whose saga is not over (after a crash, or while the
//! catalog was away) and drives each to an end state, with backoff per order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::time::Instant;

use crate::service::Orders;

/// Longest wait between two attempts on one order.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Backoff of one order: attempts so far and the earliest next attempt.
struct Backoff {
    attempts: u32,
    next: Instant,
}

fn delay(base: Duration, attempts: u32) -> Duration {
    base.saturating_mul(1u32 << attempts.min(16))
        .min(MAX_BACKOFF)
}

/// Runs forever: one pass at start-up, then one every `base`.
pub async fn run(orders: Arc<Orders>, base: Duration, unsettled_gauge: Gauge) {
    let mut backoff: HashMap<String, Backoff> = HashMap::new();
    loop {
        match orders.unsettled() {
            Ok(ids) => {
                chassis::metrics::set_count(&unsettled_gauge, ids.len());
                backoff.retain(|id, _| ids.contains(id));
                for id in ids {
                    let now = Instant::now();
                    if backoff.get(&id).is_some_and(|b| b.next > now) {
                        continue;
                    }
                    match orders.settle(&id).await {
                        Ok(true) => {
                            tracing::info!(order = %id, "saga settled");
                            backoff.remove(&id);
                        }
                        Ok(false) => {
                            let entry = backoff.entry(id).or_insert(Backoff {
                                attempts: 0,
                                next: now,
                            });
                            entry.attempts += 1;
                            entry.next = now + delay(base, entry.attempts);
                        }
                        Err(e) => tracing::warn!(order = %id, error = %e, "saga step failed"),
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list unsettled orders"),
        }
        tokio::time::sleep(base).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let base = Duration::from_millis(200);
        assert_eq!(delay(base, 1), Duration::from_millis(400));
        assert_eq!(delay(base, 3), Duration::from_millis(1600));
        assert_eq!(delay(base, 40), MAX_BACKOFF);
    }
}
