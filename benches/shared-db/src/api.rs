//! The routes: parse and validate, ask the [`Store`], turn the outcome into the answer the
//! nodes give (same bodies, statuses and `Location`).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use contracts::catalog::Product;
use contracts::composer::OrderView;
use contracts::orders::CreateOrder;
use contracts::validate;

use crate::error::ApiError;
use crate::store::Store;

/// The service's routes over `store`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/products/{id}", get(product))
        .route("/v1/orders", post(place))
        .route("/v1/order-views/{id}", get(order_view))
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(store)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path?;
    validate::id("id", &id)?;
    Ok(id)
}

/// `GET /v1/products/{id}`.
async fn product(
    State(store): State<Store>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Product>, ApiError> {
    let id = path_id(path)?;
    let product = store
        .product(&id)
        .await?
        .ok_or_else(|| ApiError::product_not_found(&id))?;
    Ok(Json(product))
}

/// `POST /v1/orders`: 201 with the confirmed order, or the refusal; nothing is changed by a
/// refusal.
async fn place(
    State(store): State<Store>,
    body: Result<Json<CreateOrder>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let items = request.validated_items()?;
    let order = store.place(&request.customer_id, &items).await?;
    let location = HeaderValue::from_str(&format!("/v1/orders/{}", order.id));
    let mut response = (StatusCode::CREATED, Json(order)).into_response();
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /v1/order-views/{id}`.
async fn order_view(
    State(store): State<Store>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderView>, ApiError> {
    let id = path_id(path)?;
    let view = store
        .order_view(&id)
        .await?
        .ok_or_else(|| ApiError::order_not_found(&id))?;
    Ok(Json(view))
}
