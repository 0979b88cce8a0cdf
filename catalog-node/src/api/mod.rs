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
use chassis::{Auth, Routes, Scope};

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

/// The `/v1` routes, each behind the scope it needs: the one table the router and the OpenAPI
/// document are built from.
pub fn routes(catalog: Arc<Catalog>, auth: &Auth) -> Routes {
    use Scope::{CatalogAdmin, CatalogFeed, CatalogRead, CatalogReserve, CatalogWrite};
    const PRODUCT: &str = "/v1/products/{id}";
    const RESERVATION: &str = "/v1/reservations/{id}";
    let api = Routes::new(auth)
        .route(Method::GET, "/v1/products", CatalogRead, products::list)
        .route(
            Method::POST,
            "/v1/products:batchGet",
            CatalogRead,
            products::batch_get,
        )
        .route(Method::GET, PRODUCT, CatalogRead, products::get_one)
        .route(Method::PUT, PRODUCT, CatalogWrite, products::put_one)
        .route(Method::PATCH, PRODUCT, CatalogWrite, products::patch_one)
        .route(Method::DELETE, PRODUCT, CatalogWrite, products::delete_one)
        .route(
            Method::PATCH,
            "/v1/products/{id}/stock",
            CatalogWrite,
            products::change_stock,
        )
        .route(
            Method::POST,
            "/v1/reservations",
            CatalogReserve,
            reservations::create,
        )
        .route(
            Method::GET,
            RESERVATION,
            CatalogReserve,
            reservations::get_one,
        )
        .route(
            Method::DELETE,
            RESERVATION,
            CatalogReserve,
            reservations::release,
        )
        .route(Method::GET, "/v1/events", CatalogFeed, events::list)
        .time_limit(
            "/v1/events",
            Duration::from_millis(contracts::catalog::MAX_WAIT_MS) + ANSWER_SLACK,
        )
        .with_state(catalog.clone());
    let admin = Routes::new(auth)
        .route(
            Method::GET,
            chassis::backup::ROUTE,
            CatalogAdmin,
            admin::backup,
        )
        .time_limit(chassis::backup::ROUTE, chassis::backup::STAGE_LIMIT)
        .route(Method::GET, "/v1/admin/audit", CatalogAdmin, admin::audit)
        .with_state(admin::Admin {
            catalog,
            slot: Slot::default(),
        });
    api.merge(admin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durability::Durability;
    use crate::metrics::CatalogMetrics;
    use crate::store::Store;

    #[tokio::test]
    async fn every_route_in_the_table_is_routed_and_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let durability = Durability::start(store.clone(), CatalogMetrics::default().flush).unwrap();
        let catalog = Arc::new(Catalog::new(store, durability));
        let auth = Auth::from_entries(Vec::new());
        let routes = routes(catalog, &auth);
        assert_eq!(routes.table().entries().len(), 13);
        assert_eq!(
            chassis::server::unserved(routes, INFO, BODY_LIMIT).await,
            Vec::<String>::new()
        );
    }
}
