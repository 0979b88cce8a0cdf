//! Reservation routes: the stock step of the order saga and its compensation.

use std::sync::Arc;

use axum::Json as JsonOut;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chassis::ApiError;
use chassis::auth::CallerName;
use chassis::extract::{Json, Path};
use contracts::catalog::ReservationRequest;
use contracts::{Code, validate};

use super::errors::not_found;
use super::headers::stamped;
use crate::service::Catalog;

/// `POST /v1/reservations`: 201 when it holds stock now, 200 when replayed.
pub async fn create(
    State(catalog): State<Arc<Catalog>>,
    Extension(caller): Extension<CallerName>,
    Json(request): Json<ReservationRequest>,
) -> Result<Response, ApiError> {
    request.validate()?;
    let written = catalog.reserve(request, caller.0).await?;
    let status = if written.value.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(stamped(
        written.seq,
        None,
        (status, JsonOut(written.value.reservation)),
    ))
}

/// `GET /v1/reservations/{id}`.
pub async fn get_one(
    State(catalog): State<Arc<Catalog>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    validate::id("id", &id)?;
    let reservation = catalog
        .reservation(&id)?
        .ok_or_else(|| not_found(Code::ReservationNotFound, "reservation", &id))?;
    Ok(JsonOut(reservation).into_response())
}

/// `DELETE /v1/reservations/{id}`: releases the stock; 200 with the released reservation,
/// also when it was released before.
pub async fn release(
    State(catalog): State<Arc<Catalog>>,
    Extension(caller): Extension<CallerName>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    validate::id("id", &id)?;
    let written = catalog.release(id, caller.0).await?;
    Ok(stamped(written.seq, None, JsonOut(written.value)))
}
