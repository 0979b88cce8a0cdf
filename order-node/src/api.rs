//! order-node's HTTP API under `/v1`: handlers parse and validate, call the service, and map
//! the result ([`errors`] turns the service's outcomes into statuses and codes).

mod errors;

use std::sync::Arc;

use axum::Json as JsonOut;
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
use contracts::{Code, validate};
use serde::Deserialize;

use crate::service::{Actor, Answer, Cancel, Orders, Placed, Rejection};

/// The header naming the end user a caller acts for; trusted only from callers holding
/// `orders:on-behalf`, refused (403) from any other.
pub const END_USER_HEADER: &str = "x-end-user";

/// Who is making a write: the authenticated caller and, when it holds `orders:on-behalf` and
/// says so, the end user it acts for.
fn actor(headers: &HeaderMap, caller: CallerName, grants: &Grants) -> Result<Actor, ApiError> {
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
                ApiError::new(Code::InvalidInput, "X-End-User must be visible ASCII")
            })?;
            validate::id("X-End-User", user)?;
            Some(user.to_owned())
        }
    };
    Ok(Actor {
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
                ApiError::new(Code::InvalidInput, "Idempotency-Key must be visible ASCII")
            })?;
            validate_idempotency_key(key)?;
            Some(key.to_owned())
        }
    };
    let service = orders.clone();
    let placed = orders
        .detach(async move { service.place(request, items, key, actor).await })
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
        Placed::Rejected { order, rejection } => rejected(&order, rejection),
        Placed::Replayed { order, answer } => match answer {
            Answer::Confirmed => {
                located(StatusCode::CREATED, &order, JsonOut(&order).into_response())
            }
            Answer::Pending => located(
                StatusCode::ACCEPTED,
                &order,
                JsonOut(&order).into_response(),
            ),
            // Rebuilt from the same outcome as the first answer: the same bytes.
            Answer::Rejected(rejection) => rejected(&order, rejection),
        },
    })
}

/// The error answering a rejected order, with the order's `Location`.
fn rejected(order: &Order, rejection: Rejection) -> Response {
    let error = ApiError::from(rejection);
    located(error.status(), order, error.into_response())
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
        .ok_or_else(|| errors::order_not_found(&id))
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
                    ApiError::new(Code::InvalidInput, "cursor is not one this node gave out")
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
                return Err(ApiError::new(
                    Code::InvalidQuery,
                    "ids cannot be combined with limit or cursor",
                ));
            }
            let ids: Vec<String> = ids.split(',').map(str::to_owned).collect();
            if ids.len() > MAX_ORDER_BATCH {
                return Err(ApiError::new(
                    Code::BatchTooLarge,
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
        _ => Err(ApiError::new(
            Code::InvalidQuery,
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
    let cancelled = orders
        .detach(async move { service.cancel(&id, actor).await })
        .await?;
    Ok(match cancelled {
        Cancel::Done(order) => JsonOut(order).into_response(),
        Cancel::InProgress(order) => (StatusCode::ACCEPTED, JsonOut(order)).into_response(),
    })
}
