//! order-node's HTTP API under `/v1`: handlers parse and validate, call the service, and map
//! the result.

use std::sync::Arc;

use axum::Json as JsonOut;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chassis::auth::{CallerName, Grants};
use chassis::backup::Slot;
use chassis::extract::{Json, Path, Query};
use chassis::routes::ApiInfo;
use chassis::{ApiError, Auth, Routes};
use contracts::audit::{AuditPage, DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE};
use contracts::orders::{
    CreateOrder, DEFAULT_ORDER_PAGE, MAX_ORDER_BATCH, MAX_ORDER_PAGE, Order, OrderBatch, OrderPage,
    validate_idempotency_key,
};
use contracts::validate;
use serde::Deserialize;

use crate::catalog::CatalogError;
use crate::service::{Cancel, Orders, Placed, ServiceError};
use crate::store::records::ActorRecord;

/// The header naming the end user a caller acts for; trusted only from callers holding
/// `orders:on-behalf`, refused (403) from any other.
pub const END_USER_HEADER: &str = "x-end-user";

/// Who is making a write: the authenticated caller and, when it holds `orders:on-behalf` and
/// says so, the end user it acts for.
fn actor(
    headers: &HeaderMap,
    caller: CallerName,
    grants: &Grants,
) -> Result<ActorRecord, ApiError> {
    let end_user = match headers.get(END_USER_HEADER) {
        None => None,
        Some(_) if !grants.holds(scopes::ON_BEHALF) => {
            return Err(ApiError::forbidden(format!(
                "caller {:?} lacks the scope {} and may not name an end user",
                caller.0,
                scopes::ON_BEHALF
            )));
        }
        Some(value) => {
            let user = value.to_str().map_err(|_| {
                ApiError::bad_request("invalid_input", "X-End-User must be visible ASCII")
            })?;
            validate::id("X-End-User", user)?;
            Some(user.to_owned())
        }
    };
    Ok(ActorRecord {
        caller: caller.0,
        end_user,
    })
}

/// Largest request body, in bytes: an order of 1000 lines fits easily.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Title and version of the node's OpenAPI document.
pub const INFO: ApiInfo = ApiInfo {
    title: "order-node",
    version: env!("CARGO_PKG_VERSION"),
};

/// The scopes order-node checks; callers files grant them.
pub mod scopes {
    use chassis::Scope;

    /// Read orders.
    pub const READ: Scope = Scope::new("orders:read");
    /// Place and cancel orders.
    pub const WRITE: Scope = Scope::new("orders:write");
    /// Operate the node: backups, the audit trail.
    pub const ADMIN: Scope = Scope::new("orders:admin");
    /// Act for an end user the caller has authenticated (`X-End-User`): only the edge
    /// composer holds it.
    pub const ON_BEHALF: Scope = Scope::new("orders:on-behalf");
    /// All of them.
    pub const ALL: &[Scope] = &[READ, WRITE, ADMIN, ON_BEHALF];
}

/// The `/v1` routes, each behind the scope it needs: the one table the router and the OpenAPI
/// document are built from.
pub fn routes(orders: Arc<Orders>, auth: &Auth) -> Routes {
    let api = Routes::new(auth)
        .route(Method::GET, "/v1/orders", scopes::READ, list)
        .route(Method::POST, "/v1/orders", scopes::WRITE, create)
        .route(Method::GET, "/v1/orders/{id}", scopes::READ, get_one)
        .route(
            Method::POST,
            "/v1/orders/{id}/cancel",
            scopes::WRITE,
            cancel,
        )
        .route(Method::GET, "/v1/admin/audit", scopes::ADMIN, audit)
        .with_state(orders.clone());
    let admin = Routes::new(auth)
        .route(Method::GET, chassis::backup::ROUTE, scopes::ADMIN, backup)
        .time_limit(chassis::backup::ROUTE, chassis::backup::STAGE_LIMIT)
        .with_state((orders, Slot::default()));
    api.merge(admin)
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownProducts(ids) => ApiError::unknown_ids(
                "unknown_products",
                format!("no such products: {}", ids.join(", ")),
                ids,
            ),
            ServiceError::MixedCurrencies(which) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mixed_currencies",
                format!("an order is priced in one currency; these products use {which}"),
            ),
            ServiceError::TotalTooLarge => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "total_too_large",
                "the order total does not fit in the money type",
            ),
            ServiceError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request body",
            ),
            ServiceError::Catalog(CatalogError::Unavailable(why)) => ApiError::unavailable(
                "catalog_unavailable",
                format!("the catalog cannot be reached, nothing was stored: {why}"),
            ),
            ServiceError::Catalog(e @ CatalogError::Unexpected { .. }) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "catalog_error",
                format!("the catalog answered unexpectedly, nothing was stored: {e}"),
            ),
            ServiceError::NotFound(id) => {
                ApiError::not_found("order_not_found", format!("no order {id:?}"))
            }
            ServiceError::NotCancellable(status) => ApiError::conflict(
                "order_not_cancellable",
                format!("the order is {status:?} and cannot be cancelled"),
            ),
            ServiceError::Store(e) => {
                ApiError::unavailable("storage_unavailable", format!("storage failed: {e}"))
            }
            ServiceError::Backup(e) => {
                ApiError::unavailable("backup_failed", format!("the backup failed: {e}"))
            }
            ServiceError::Task(e) => ApiError::internal("running a store task", &e),
        }
    }
}

/// Runs a saga step detached from the request (see [`Orders::detach`]).
async fn detached<T: Send + 'static>(
    orders: &Orders,
    step: impl Future<Output = Result<T, ServiceError>> + Send + 'static,
) -> Result<T, ApiError> {
    orders
        .detach(step)
        .await
        .map_err(|e| ApiError::internal("running a saga step", &e))?
        .map_err(ApiError::from)
}

fn located(status: StatusCode, order: &Order, body: Response) -> Response {
    let mut response = body;
    *response.status_mut() = status;
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/orders/{}", order.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `POST /v1/orders` with an optional `Idempotency-Key`.
pub async fn create(
    State(orders): State<Arc<Orders>>,
    Extension(caller): Extension<CallerName>,
    Extension(grants): Extension<Grants>,
    headers: HeaderMap,
    Json(request): Json<CreateOrder>,
) -> Result<Response, ApiError> {
    let actor = actor(&headers, caller, &grants)?;
    let items = request.validated_items()?;
    if actor
        .end_user
        .as_ref()
        .is_some_and(|user| *user != request.customer_id)
    {
        return Err(ApiError::forbidden(
            "an end user can only place orders for itself",
        ));
    }
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.to_str().map_err(|_| {
                ApiError::bad_request("invalid_input", "Idempotency-Key must be visible ASCII")
            })?;
            validate_idempotency_key(key)?;
            Some(key.to_owned())
        }
    };
    let service = orders.clone();
    let placed = detached(&orders, async move {
        service.place(request, items, key, actor).await
    })
    .await?;
    Ok(match placed {
        Placed::Confirmed(order) => {
            located(StatusCode::CREATED, &order, JsonOut(&order).into_response())
        }
        Placed::Pending(order) => located(
            StatusCode::ACCEPTED,
            &order,
            JsonOut(&order).into_response(),
        ),
        Placed::Rejected { order, error } => {
            let status = error.status();
            located(status, &order, error.into_response())
        }
        Placed::Replayed {
            status,
            order,
            error_body,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let body = match error_body {
                Some(bytes) => (
                    [(header::CONTENT_TYPE, "application/json")],
                    Body::from(bytes),
                )
                    .into_response(),
                None => JsonOut(&order).into_response(),
            };
            located(status, &order, body)
        }
    })
}

/// `GET /v1/orders/{id}`.
pub async fn get_one(
    State(orders): State<Arc<Orders>>,
    Path(id): Path<String>,
) -> Result<JsonOut<Order>, ApiError> {
    validate::id("id", &id)?;
    orders
        .order(&id)?
        .map(JsonOut)
        .ok_or_else(|| ApiError::not_found("order_not_found", format!("no order {id:?}")))
}

/// Query of `GET /v1/orders`: `customer_id` (with `limit`, `cursor`) or `ids`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    customer_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
    ids: Option<String>,
}

/// `GET /v1/orders?customer_id=C&limit=N&cursor=X` or `GET /v1/orders?ids=a,b,c`.
pub async fn list(
    State(orders): State<Arc<Orders>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    match (q.customer_id, q.ids) {
        (Some(customer), None) => {
            validate::id("customer_id", &customer)?;
            let limit = q.limit.unwrap_or(DEFAULT_ORDER_PAGE);
            validate::range("limit", limit, 1, MAX_ORDER_PAGE)?;
            let before = match q.cursor.as_deref() {
                None => None,
                Some(c) => Some(c.parse::<u64>().map_err(|_| {
                    ApiError::bad_request("invalid_input", "cursor is not one this node gave out")
                })?),
            };
            let (page, next) = orders.customer_orders(&customer, before, limit)?;
            Ok(JsonOut(OrderPage {
                orders: page,
                next_cursor: next.map(|n| n.to_string()),
            })
            .into_response())
        }
        (None, Some(ids)) => {
            if q.limit.is_some() || q.cursor.is_some() {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "ids cannot be combined with limit or cursor",
                ));
            }
            let ids: Vec<String> = ids.split(',').map(str::to_owned).collect();
            if ids.len() > MAX_ORDER_BATCH {
                return Err(ApiError::bad_request(
                    "batch_too_large",
                    format!("at most {MAX_ORDER_BATCH} ids per batch, got {}", ids.len()),
                ));
            }
            for (i, id) in ids.iter().enumerate() {
                validate::id(&format!("ids[{i}]"), id)?;
            }
            let (found, missing) = orders.orders(&ids)?;
            Ok(JsonOut(OrderBatch {
                orders: found,
                missing,
            })
            .into_response())
        }
        _ => Err(ApiError::bad_request(
            "invalid_query",
            "give either customer_id (with limit and cursor) or ids",
        )),
    }
}

/// Query of `GET /v1/admin/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<usize>,
}

/// `GET /v1/admin/audit?limit=N`: the newest entries of the audit trail, newest first.
pub async fn audit(
    State(orders): State<Arc<Orders>>,
    Query(q): Query<AuditQuery>,
) -> Result<JsonOut<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
    validate::range("limit", limit, 1, MAX_AUDIT_PAGE)?;
    Ok(JsonOut(AuditPage {
        entries: orders.audit(limit)?,
    }))
}

/// `GET /v1/admin/backup`: a consistent archive of the store, streamed.
pub async fn backup(
    State((orders, slot)): State<(Arc<Orders>, Slot)>,
) -> Result<Response, ApiError> {
    let permit = slot.take()?;
    let staged = orders.backup().await?;
    Ok(chassis::backup::respond(staged, permit))
}

/// `POST /v1/orders/{id}/cancel`.
pub async fn cancel(
    State(orders): State<Arc<Orders>>,
    Extension(caller): Extension<CallerName>,
    Extension(grants): Extension<Grants>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    validate::id("id", &id)?;
    let actor = actor(&headers, caller, &grants)?;
    let service = orders.clone();
    let cancelled = detached(&orders, async move { service.cancel(&id, actor).await }).await?;
    Ok(match cancelled {
        Cancel::Done(order) => JsonOut(order).into_response(),
        Cancel::InProgress(order) => (StatusCode::ACCEPTED, JsonOut(order)).into_response(),
    })
}
