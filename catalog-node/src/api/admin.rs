//! Operator routes: `GET /v1/admin/backup`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chassis::ApiError;
use chassis::backup::Slot;

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
