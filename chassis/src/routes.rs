//! A node's route table: the single list its API router is built from and its OpenAPI
//! document is generated from.
//!
//! Every `/v1` route is added through [`Routes::route`], which records the method, the path
//! template and the scope the route needs while it adds the handler, behind [`Auth::guard`], to
//! the axum router. Since nothing else adds API routes, the table cannot miss one: tests walk
//! the table (in process) or the served `GET /openapi.json` (end to end) to check every route's
//! auth, and a new route is checked the moment it exists.

use axum::Router;
use axum::body::Body;
use axum::handler::Handler;
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::{MethodFilter, on};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use crate::auth::Auth;
use crate::callers::Scope;

/// Path of the OpenAPI document every node serves, open like the health routes.
pub const OPENAPI_ROUTE: &str = "/openapi.json";

/// Name of the bearer security scheme in the OpenAPI document.
pub const SECURITY_SCHEME: &str = "bearer";

/// One route: a method on a path template, and who may call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    /// The HTTP method.
    pub method: Method,
    /// The path template in axum's (and OpenAPI's) syntax, e.g. `/v1/products/{id}`.
    pub path: &'static str,
    /// The scope a caller needs; `None` for an open route (health, metrics, this document).
    pub scope: Option<Scope>,
}

impl RouteEntry {
    /// The names of the path template's parameters, in order (`{id}` gives `id`).
    pub fn path_params(&self) -> Vec<&'static str> {
        path_params(self.path)
    }
}

/// What a node serves: every route with its method, path template and scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    entries: Vec<RouteEntry>,
    // Routes that may hold a request open longer than the ordinary request timeout, with the
    // longest they may take.
    time_limits: Vec<(&'static str, std::time::Duration)>,
}

/// Title and version of the OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub struct ApiInfo {
    /// The node's name, e.g. `catalog-node`.
    pub title: &'static str,
    /// The node's version.
    pub version: &'static str,
}

impl RouteTable {
    /// The routes in the order they were added.
    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }

    /// How long a request to the route at `path` may take, if the route has a limit of its
    /// own; ordinary routes get the server's request timeout.
    pub fn time_limit(&self, path: &str) -> Option<std::time::Duration> {
        self.time_limits
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, ceiling)| *ceiling)
    }

    /// Adds an open route (no token needed), e.g. one of the operational routes.
    pub fn push_open(&mut self, method: Method, path: &'static str) {
        self.entries.push(RouteEntry {
            method,
            path,
            scope: None,
        });
    }

    /// The table as an OpenAPI 3.1 document: every path and method, its path parameters, and
    /// its security requirement (the bearer scheme with the route's scope as the required
    /// role; an empty requirement list for open routes).
    pub fn openapi(&self, info: ApiInfo) -> Value {
        let mut paths = Map::new();
        for entry in &self.entries {
            let item = paths
                .entry(entry.path)
                .or_insert_with(|| path_item(entry.path));
            let security = match entry.scope {
                Some(scope) => json!([{ SECURITY_SCHEME: [scope.as_str()] }]),
                None => json!([]),
            };
            let mut responses = Map::new();
            responses.insert(
                "default".into(),
                json!({"description": "the route's answer, or an error body"}),
            );
            if entry.scope.is_some() {
                responses.insert("401".into(), error_response("no token, or an unknown one"));
                responses.insert(
                    "403".into(),
                    error_response("a known caller without the scope"),
                );
            }
            let mut operation = json!({
                "operationId": operation_id(&entry.method, entry.path),
                "security": security,
                "responses": responses,
            });
            if let Some(scope) = entry.scope {
                operation["x-scope"] = json!(scope.as_str());
            }
            if let Some(item) = item.as_object_mut() {
                item.insert(entry.method.as_str().to_ascii_lowercase(), operation);
            }
        }
        json!({
            "openapi": "3.1.0",
            "info": {"title": info.title, "version": info.version},
            "paths": paths,
            "components": {
                "securitySchemes": {
                    SECURITY_SCHEME: {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "a caller's token from the node's callers file; \
                                        the scopes it holds decide which routes it may call",
                    }
                },
                "schemas": {
                    "Error": {
                        "type": "object",
                        "required": ["error"],
                        "properties": {
                            "error": {
                                "type": "object",
                                "required": ["code", "message"],
                                "properties": {
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            }
                        },
                    }
                },
            },
        })
    }
}

fn path_item(path: &str) -> Value {
    let parameters: Vec<Value> = path_params(path)
        .into_iter()
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if parameters.is_empty() {
        json!({})
    } else {
        json!({ "parameters": parameters })
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

/// `get_v1_products_id` for `GET /v1/products/{id}`: unique per method and path.
fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !part.is_empty() {
            id.push('_');
            id.push_str(part);
        }
    }
    id
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// Builds a node's API router and its [`RouteTable`] together, so that they cannot disagree.
#[derive(Debug)]
pub struct Routes<S = ()> {
    auth: Auth,
    router: Router<S>,
    table: RouteTable,
}

impl<S> Routes<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// No routes yet; every route added is guarded by `auth`.
    pub fn new(auth: &Auth) -> Self {
        Self {
            auth: auth.clone(),
            router: Router::new(),
            table: RouteTable::default(),
        }
    }

    /// Adds `handler` for `method` on `path`, answering only callers holding `scope`, and
    /// records the route in the table. Methods on the same path may need different scopes.
    ///
    /// # Panics
    ///
    /// On a method axum cannot route, or a route that is already taken (as axum's
    /// `Router::route` does): both are mistakes in the node's code, caught by its first test.
    pub fn route<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        scope: Scope,
        handler: H,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = match MethodFilter::try_from(method.clone()) {
            Ok(filter) => filter,
            Err(e) => panic!("route {method} {path}: {e}"),
        };
        self.router = self
            .router
            .route(path, self.auth.guard(scope, on(filter, handler)));
        self.table.entries.push(RouteEntry {
            method,
            path,
            scope: Some(scope),
        });
        self
    }

    /// Provides the handlers' state; the result can be merged with routes of another state.
    pub fn with_state<S2>(self, state: S) -> Routes<S2> {
        Routes {
            auth: self.auth,
            router: self.router.with_state(state),
            table: self.table,
        }
    }

    /// Adds `other`'s routes to these.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.table.entries.extend(other.table.entries);
        self.table.time_limits.extend(other.table.time_limits);
        self
    }

    /// Gives the route at `path` its own time limit instead of the server's request timeout:
    /// a long-poll's longest documented wait plus the time to answer, or the time a backup
    /// may take to stage.
    pub fn time_limit(mut self, path: &'static str, limit: std::time::Duration) -> Self {
        self.table.time_limits.push((path, limit));
        self
    }

    /// The table of the routes added so far.
    pub fn table(&self) -> &RouteTable {
        &self.table
    }

    /// The router and its table.
    pub fn into_parts(self) -> (Router<S>, RouteTable) {
        (self.router, self.table)
    }
}

/// Methods a node could route; [`check_served`] expects every one a path's table entries do
/// not name to be refused with 405.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Checks, in process, that `app` serves exactly what `table` says, for a node's unit tests:
/// every scoped entry answers a request without a token with 401 (so it is routed, and guarded),
/// every open entry answers without a token with neither 401/403 nor 404/405, and every other
/// method on a listed path is 405. Path parameters are filled with a valid id. Returns one line
/// per disagreement.
pub async fn check_served(app: Router, table: &RouteTable) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut paths: Vec<&'static str> = Vec::new();
    for entry in table.entries() {
        if !paths.contains(&entry.path) {
            paths.push(entry.path);
        }
        let status = status_of(&app, entry.method.clone(), entry.path).await;
        let fine = match entry.scope {
            Some(_) => status == Some(StatusCode::UNAUTHORIZED),
            None => status.is_some_and(|s| {
                // A node that is not ready yet says so on its readiness route.
                let not_ready = entry.path == "/readyz" && s == StatusCode::SERVICE_UNAVAILABLE;
                !matches!(s.as_u16(), 401 | 403 | 404 | 405) && (!s.is_server_error() || not_ready)
            }),
        };
        if !fine {
            wrong.push(format!(
                "{} {} ({}) answered {status:?} without a token",
                entry.method,
                entry.path,
                entry.scope.map_or("open", Scope::as_str)
            ));
        }
    }
    for path in paths {
        for method in METHODS {
            let listed = table
                .entries()
                .iter()
                .any(|e| e.path == path && e.method == method);
            if listed {
                continue;
            }
            let status = status_of(&app, method.clone(), path).await;
            if status != Some(StatusCode::METHOD_NOT_ALLOWED) {
                wrong.push(format!(
                    "{method} {path} is not in the table but answered {status:?}"
                ));
            }
        }
    }
    wrong
}

async fn status_of(app: &Router, method: Method, template: &str) -> Option<StatusCode> {
    let path: Vec<String> = template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "route-check-1".to_owned()
            } else {
                segment.to_owned()
            }
        })
        .collect();
    let request = Request::builder()
        .method(method)
        .uri(path.join("/"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .ok()?;
    let response = app.clone().oneshot(request).await.ok()?;
    Some(response.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_params_and_operation_ids() {
        assert_eq!(path_params("/v1/orders/{id}/cancel"), vec!["id"]);
        assert!(path_params("/v1/products:batchGet").is_empty());
        assert_eq!(
            operation_id(&Method::POST, "/v1/products:batchGet"),
            "post_v1_products_batchGet"
        );
    }

    #[test]
    fn the_document_lists_every_method_with_its_scope() {
        let routes: Routes = Routes::new(&Auth::anonymous())
            .route(
                Method::GET,
                "/v1/things/{id}",
                Scope::new("catalog:read"),
                || async { "" },
            )
            .route(
                Method::DELETE,
                "/v1/things/{id}",
                Scope::new("catalog:write"),
                || async { "" },
            );
        let mut table = routes.table().clone();
        table.push_open(Method::GET, "/healthz");
        let doc = table.openapi(ApiInfo {
            title: "t",
            version: "1",
        });
        let item = &doc["paths"]["/v1/things/{id}"];
        assert_eq!(item["get"]["security"][0]["bearer"][0], "catalog:read");
        assert_eq!(item["delete"]["security"][0]["bearer"][0], "catalog:write");
        assert_eq!(item["parameters"][0]["name"], "id");
        assert_eq!(doc["paths"]["/healthz"]["get"]["security"], json!([]));
    }
}
