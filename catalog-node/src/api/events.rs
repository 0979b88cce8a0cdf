//! The change feed route.

use std::sync::Arc;
use std::time::Duration;

use axum::Json as JsonOut;
use axum::extract::State;
use chassis::ApiError;
use chassis::extract::Query;
use contracts::catalog::{DEFAULT_EVENTS_LIMIT, EventsPage, MAX_EVENTS_LIMIT, MAX_WAIT_MS};
use contracts::validate;
use serde::Deserialize;

use crate::service::Catalog;

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
    #[serde(default)]
    wait_ms: u64,
}

/// `GET /v1/events?after=SEQ&limit=N&wait_ms=M`: events after `after`, long-polling up to M ms
/// when there is none.
pub async fn list(
    State(catalog): State<Arc<Catalog>>,
    Query(q): Query<EventsQuery>,
) -> Result<JsonOut<EventsPage>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
    validate::range("limit", limit, 1, MAX_EVENTS_LIMIT)?;
    validate::range("wait_ms", q.wait_ms, 0, MAX_WAIT_MS)?;
    let page = catalog
        .events(q.after, limit, Duration::from_millis(q.wait_ms))
        .await?;
    Ok(JsonOut(page))
}
