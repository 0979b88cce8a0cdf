//! The catalog's HTTP API under `/v1`: handlers parse and validate, call the service, and map
//! the result.

mod admin;
mod errors;
mod events;
mod headers;
mod products;
mod reservations;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use chassis::backup::Slot;
use chassis::routes::ApiInfo;
use chassis::{Auth, Routes};

use crate::service::Catalog;

/// Largest request body, in bytes: a full batch of ids or reservation items fits easily.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Title and version of the node's OpenAPI document.
pub const INFO: ApiInfo = ApiInfo {
    title: "catalog-node",
    version: env!("CARGO_PKG_VERSION"),
};

/// Time a long-poll gets past its wait to answer.
const ANSWER_SLACK: Duration = Duration::from_secs(5);

/// The scopes catalog-node checks; callers files grant them.
pub mod scopes {
    use chassis::Scope;

    /// Read products.
    pub const READ: Scope = Scope::new("catalog:read");
    /// Create, change and delete products.
    pub const WRITE: Scope = Scope::new("catalog:write");
    /// Hold and release stock.
    pub const RESERVE: Scope = Scope::new("catalog:reserve");
    /// Follow the change feed.
    pub const FEED: Scope = Scope::new("catalog:feed");
    /// Operate the node: backups, the audit trail.
    pub const ADMIN: Scope = Scope::new("catalog:admin");
    /// All of them.
    pub const ALL: &[Scope] = &[READ, WRITE, RESERVE, FEED, ADMIN];
}

/// The `/v1` routes, each behind the scope it needs: the one table the router and the OpenAPI
/// document are built from.
pub fn routes(catalog: Arc<Catalog>, auth: &Auth) -> Routes {
    use scopes::{ADMIN, FEED, READ, RESERVE, WRITE};
    const PRODUCT: &str = "/v1/products/{id}";
    const RESERVATION: &str = "/v1/reservations/{id}";
    let api = Routes::new(auth)
        .route(Method::GET, "/v1/products", READ, products::list)
        .route(
            Method::POST,
            "/v1/products:batchGet",
            READ,
            products::batch_get,
        )
        .route(Method::GET, PRODUCT, READ, products::get_one)
        .route(Method::PUT, PRODUCT, WRITE, products::put_one)
        .route(Method::PATCH, PRODUCT, WRITE, products::patch_one)
        .route(Method::DELETE, PRODUCT, WRITE, products::delete_one)
        .route(
            Method::PATCH,
            "/v1/products/{id}/stock",
            WRITE,
            products::change_stock,
        )
        .route(
            Method::POST,
            "/v1/reservations",
            RESERVE,
            reservations::create,
        )
        .route(Method::GET, RESERVATION, RESERVE, reservations::get_one)
        .route(Method::DELETE, RESERVATION, RESERVE, reservations::release)
        .route(Method::GET, "/v1/events", FEED, events::list)
        .time_limit(
            "/v1/events",
            Duration::from_millis(contracts::catalog::MAX_WAIT_MS) + ANSWER_SLACK,
        )
        .with_state(catalog.clone());
    let admin = Routes::new(auth)
        .route(Method::GET, chassis::backup::ROUTE, ADMIN, admin::backup)
        .time_limit(chassis::backup::ROUTE, chassis::backup::STAGE_LIMIT)
        .route(Method::GET, "/v1/admin/audit", ADMIN, admin::audit)
        .with_state(admin::Admin {
            catalog,
            slot: Slot::default(),
        });
    api.merge(admin)
}
