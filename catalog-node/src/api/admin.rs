//! Operator routes: `GET /v1/admin/backup` and `GET /v1/admin/audit`.

use std::sync::Arc;

use axum::Json as JsonOut;
use axum::extract::State;
use axum::response::Response;
use chassis::ApiError;
use chassis::backup::Slot;
use chassis::extract::Query;
use contracts::audit::{AuditPage, DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE};
use contracts::validate;
use serde::Deserialize;

use crate::service::Catalog;

/// What the admin routes share.
#[derive(Clone)]
pub struct Admin {
    /// The service.
    pub catalog: Arc<Catalog>,
    /// One backup at a time.
    pub slot: Slot,
}

/// `GET /v1/admin/backup`: a consistent archive of the store, streamed.
pub async fn backup(State(admin): State<Admin>) -> Result<Response, ApiError> {
    let permit = admin.slot.take()?;
    let staged = admin.catalog.backup().await?;
    Ok(chassis::backup::respond(staged, permit))
}

/// Query of `GET /v1/admin/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<usize>,
}

/// `GET /v1/admin/audit?limit=N`: the newest entries of the audit trail, newest first.
pub async fn audit(
    State(admin): State<Admin>,
    Query(q): Query<AuditQuery>,
) -> Result<JsonOut<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
    validate::range("limit", limit, 1, MAX_AUDIT_PAGE)?;
    Ok(JsonOut(AuditPage {
        entries: admin.catalog.audit(limit)?,
    }))
}
