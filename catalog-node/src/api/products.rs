//! Product routes.

use std::sync::Arc;

use axum::Json as JsonOut;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chassis::ApiError;
use chassis::auth::CallerName;
use chassis::extract::{Json, Path, Query};
use contracts::catalog::{
    BatchGetRequest, DEFAULT_PAGE_LIMIT, DEFAULT_READ_WAIT_MS, MAX_BATCH_IDS, MAX_PAGE_LIMIT,
    MAX_READ_WAIT_MS, MAX_STOCK, ProductInput, ProductPatch, StockChange,
};
use contracts::{Code, validate};
use serde::Deserialize;

use super::errors::not_found;
use super::headers::{precondition, stamped};
use crate::service::{Catalog, Precondition};

/// Query of `GET /v1/products`: either `ids=a,b,c` or `after=ID&limit=N`, and the
/// freshness asked for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    ids: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
    min_seq: Option<u64>,
    wait_ms: Option<u64>,
}

/// Query of the other product reads: `min_seq=S` waits (up to `wait_ms`) until the node has
/// applied the change `S`, the `X-Catalog-Seq` of a write; what matters on a read replica.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshQuery {
    min_seq: Option<u64>,
    wait_ms: Option<u64>,
}

/// Waits for `min_seq` as asked; returns the seq the answer reflects at least.
async fn fresh(
    catalog: &Catalog,
    min_seq: Option<u64>,
    wait_ms: Option<u64>,
) -> Result<u64, ApiError> {
    let wait_ms = wait_ms.unwrap_or(DEFAULT_READ_WAIT_MS);
    validate::range("wait_ms", wait_ms, 0, MAX_READ_WAIT_MS)?;
    if let Some(seq) = min_seq {
        catalog
            .wait_for(seq, std::time::Duration::from_millis(wait_ms))
            .await?;
    }
    // Read before the data: the answer reflects at least every change up to it.
    Ok(catalog.visible_seq())
}

fn check_batch(ids: &[String]) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Err(ApiError::new(Code::InvalidInput, "ids names no id"));
    }
    if ids.len() > MAX_BATCH_IDS {
        return Err(ApiError::new(
            Code::BatchTooLarge,
            format!("at most {MAX_BATCH_IDS} ids per batch, got {}", ids.len()),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        validate::id(&format!("ids[{i}]"), id)?;
    }
    Ok(())
}

/// `GET /v1/products?ids=…` (batch read) or `?after=…&limit=…` (paging).
pub async fn list(
    State(catalog): State<Arc<Catalog>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let seq = fresh(&catalog, q.min_seq, q.wait_ms).await?;
    if let Some(ids) = q.ids {
        if q.after.is_some() || q.limit.is_some() {
            return Err(ApiError::new(
                Code::InvalidQuery,
                "ids cannot be combined with after or limit",
            ));
        }
        let ids: Vec<String> = ids.split(',').map(str::to_owned).collect();
        check_batch(&ids)?;
        return Ok(stamped(seq, None, JsonOut(catalog.batch_get(&ids)?)));
    }
    let limit = q.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    validate::range("limit", limit, 1, MAX_PAGE_LIMIT)?;
    if let Some(after) = &q.after {
        validate::id("after", after)?;
    }
    Ok(stamped(
        seq,
        None,
        JsonOut(catalog.page(q.after.as_deref(), limit)?),
    ))
}

/// `POST /v1/products:batchGet {ids}` for lists too long for a URL.
pub async fn batch_get(
    State(catalog): State<Arc<Catalog>>,
    Query(q): Query<FreshQuery>,
    Json(body): Json<BatchGetRequest>,
) -> Result<Response, ApiError> {
    check_batch(&body.ids)?;
    let seq = fresh(&catalog, q.min_seq, q.wait_ms).await?;
    Ok(stamped(seq, None, JsonOut(catalog.batch_get(&body.ids)?)))
}

fn product_id(id: &str) -> Result<(), ApiError> {
    Ok(validate::id("id", id)?)
}

/// `GET /v1/products/{id}`.
pub async fn get_one(
    State(catalog): State<Arc<Catalog>>,
    Path(id): Path<String>,
    Query(q): Query<FreshQuery>,
) -> Result<Response, ApiError> {
    product_id(&id)?;
    let seq = fresh(&catalog, q.min_seq, q.wait_ms).await?;
    let product = catalog
        .product(&id)?
        .ok_or_else(|| not_found(Code::ProductNotFound, "product", &id))?;
    let version = product.version;
    Ok(stamped(seq, Some(version), JsonOut(product)))
}

/// `PUT /v1/products/{id}`: create (201) or replace (200); honours `If-Match` when sent.
pub async fn put_one(
    State(catalog): State<Arc<Catalog>>,
    Extension(caller): Extension<CallerName>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(input): Json<ProductInput>,
) -> Result<Response, ApiError> {
    product_id(&id)?;
    input.validate()?;
    let pre = precondition(&headers)?;
    let written = catalog.put(id.clone(), input, pre, caller.0).await?;
    let outcome = written.value;
    let version = outcome.product.version;
    let response = if outcome.created {
        let location = HeaderValue::from_str(&format!("/v1/products/{id}"))
            .map_err(|e| ApiError::internal("building Location", &e))?;
        (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            JsonOut(outcome.product),
        )
            .into_response()
    } else {
        JsonOut(outcome.product).into_response()
    };
    Ok(stamped(written.seq, Some(version), response))
}

/// `PATCH /v1/products/{id}`: partial update; `If-Match` is required so that concurrent
/// editors cannot overwrite each other unknowingly.
pub async fn patch_one(
    State(catalog): State<Arc<Catalog>>,
    Extension(caller): Extension<CallerName>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<ProductPatch>,
) -> Result<Response, ApiError> {
    product_id(&id)?;
    patch.validate()?;
    let pre = precondition(&headers)?;
    if pre == Precondition::None {
        return Err(ApiError::new(
            Code::PreconditionRequired,
            "PATCH needs If-Match with the product's version (its ETag)",
        ));
    }
    let written = catalog.patch(id, patch, pre, caller.0).await?;
    let version = written.value.version;
    Ok(stamped(written.seq, Some(version), JsonOut(written.value)))
}

/// `DELETE /v1/products/{id}`: 204; honours `If-Match` when sent.
pub async fn delete_one(
    State(catalog): State<Arc<Catalog>>,
    Extension(caller): Extension<CallerName>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    product_id(&id)?;
    let pre = precondition(&headers)?;
    let written = catalog.delete(id, pre, caller.0).await?;
    Ok(stamped(written.seq, None, StatusCode::NO_CONTENT))
}

/// `PATCH /v1/products/{id}/stock {delta}`: guarded stock change, never below zero.
pub async fn change_stock(
    State(catalog): State<Arc<Catalog>>,
    Extension(caller): Extension<CallerName>,
    Path(id): Path<String>,
    Json(change): Json<StockChange>,
) -> Result<Response, ApiError> {
    product_id(&id)?;
    let max = i64::try_from(MAX_STOCK).unwrap_or(i64::MAX);
    if change.delta == 0 || change.delta.unsigned_abs() > MAX_STOCK {
        return Err(validate::ValidationError::new(
            "delta",
            format!("must be non-zero and between -{max} and {max}"),
        )
        .into());
    }
    let written = catalog.change_stock(id, change.delta, caller.0).await?;
    let version = written.value.version;
    Ok(stamped(written.seq, Some(version), JsonOut(written.value)))
}
