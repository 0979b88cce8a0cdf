//! The catalog's HTTP API under `/v1`: handlers parse and validate, call the service, and map
//! the result.

mod admin;
mod errors;
mod events;
mod headers;
mod products;
mod reservations;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, patch, post, put};
use chassis::backup::Slot;
use chassis::{Auth, Scope};

use crate::service::Catalog;

/// Largest request body, in bytes: a full batch of ids or reservation items fits easily.
pub const BODY_LIMIT: usize = 256 * 1024;

/// The `/v1` routes, each behind the scope it needs.
pub fn router(catalog: Arc<Catalog>, auth: &Auth) -> Router {
    let read = |r| auth.guard(Scope::CatalogRead, r);
    let write = |r| auth.guard(Scope::CatalogWrite, r);
    let reserve = |r| auth.guard(Scope::CatalogReserve, r);
    Router::new()
        .route("/v1/products", read(get(products::list)))
        .route("/v1/products:batchGet", read(post(products::batch_get)))
        .route(
            "/v1/products/{id}",
            read(get(products::get_one))
                .merge(write(put(products::put_one)))
                .merge(write(patch(products::patch_one)))
                .merge(write(delete(products::delete_one))),
        )
        .route(
            "/v1/products/{id}/stock",
            write(patch(products::change_stock)),
        )
        .route("/v1/reservations", reserve(post(reservations::create)))
        .route(
            "/v1/reservations/{id}",
            reserve(get(reservations::get_one)).merge(reserve(delete(reservations::release))),
        )
        .route(
            "/v1/events",
            auth.guard(Scope::CatalogFeed, get(events::list)),
        )
        .with_state(catalog.clone())
        .merge(
            Router::new()
                .route(
                    chassis::backup::ROUTE,
                    auth.guard(Scope::CatalogAdmin, get(admin::backup)),
                )
                .with_state(admin::Admin {
                    catalog,
                    slot: Slot::default(),
                }),
        )
}
