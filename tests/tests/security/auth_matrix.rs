//! Every operation each node publishes × every kind of caller that must be refused.

use reqwest::Method;
use serde_json::{Value, json};
use system_tests::Client;
use system_tests::http::Reply;

use crate::{Operation, PRODUCTS, RESERVATION, Trio, Which, only, operations};

/// The fewest operations each node has today: a document listing fewer means the table or
/// the document lost routes, and the matrix would prove less than it seems to.
fn minimum_operations(which: Which) -> usize {
    match which {
        Which::Catalog => 12,
        Which::Orders => 5,
        Which::Search => 2,
    }
}

/// The reviewed access policy: the scope each operation must need. The matrix proves each
/// node enforces the scope its table names; this list proves the table names the intended
/// one, so that a route given too weak a scope (or a new route nobody has reviewed) fails here.
const POLICY: &[(&str, &str)] = &[
    ("GET /v1/products", "catalog:read"),
    ("POST /v1/products:batchGet", "catalog:read"),
    ("GET /v1/products/{id}", "catalog:read"),
    ("PUT /v1/products/{id}", "catalog:write"),
    ("PATCH /v1/products/{id}", "catalog:write"),
    ("DELETE /v1/products/{id}", "catalog:write"),
    ("PATCH /v1/products/{id}/stock", "catalog:write"),
    ("POST /v1/reservations", "catalog:reserve"),
    ("GET /v1/reservations/{id}", "catalog:reserve"),
    ("DELETE /v1/reservations/{id}", "catalog:reserve"),
    ("GET /v1/events", "catalog:feed"),
    ("GET /v1/orders", "orders:read"),
    ("POST /v1/orders", "orders:write"),
    ("GET /v1/orders/{id}", "orders:read"),
    ("POST /v1/orders/{id}/cancel", "orders:write"),
    ("GET /v1/search", "search:read"),
];

/// The admin scope of each node, which its backup route needs.
fn admin_scope(which: Which) -> &'static str {
    match which {
        Which::Catalog => "catalog:admin",
        Which::Orders => "orders:admin",
        Which::Search => "search:admin",
    }
}

/// The scope the policy gives `op` on node `which`.
fn reviewed_scope(which: Which, op: &Operation) -> Option<&'static str> {
    if op.method == "GET" && (op.path == "/v1/admin/backup" || op.path == "/v1/admin/audit") {
        return Some(admin_scope(which));
    }
    POLICY
        .iter()
        .find(|(label, _)| *label == op.label())
        .map(|(_, scope)| *scope)
}

/// A body that would succeed on the route, so that a request wrongly let through would write
/// and the fingerprint would show it. Routes without a body get `{}`.
fn valid_body(op: &Operation) -> Value {
    match (op.method.as_str(), op.path.as_str()) {
        ("PUT", "/v1/products/{id}") => system_tests::product("Replaced", 1, 1),
        ("PATCH", "/v1/products/{id}") => json!({"stock": 7}),
        ("PATCH", "/v1/products/{id}/stock") => json!({"delta": 1}),
        ("POST", "/v1/products:batchGet") => json!({"ids": PRODUCTS}),
        ("POST", "/v1/reservations") => {
            json!({"id": "r-matrix", "items": [{"product_id": "p-3", "qty": 1}]})
        }
        ("POST", "/v1/orders") => {
            json!({"customer_id": "c-matrix", "items": [{"product_id": "p-3", "qty": 1}]})
        }
        _ => json!({}),
    }
}

/// The path with existing ids, so that a request wrongly let through would find its target.
fn existing(trio: &Trio, op: &Operation) -> String {
    op.path_with(|_, previous| match previous {
        "products" => PRODUCTS[0].to_owned(),
        "reservations" => RESERVATION.to_owned(),
        "orders" => trio.order_id.clone(),
        _ => "x-1".to_owned(),
    })
}

/// The path with ids that name nothing, for the caller that holds the scope: it must get past
/// the guard without changing anything.
fn missing(op: &Operation) -> String {
    op.path_with(|_, _| "zz-missing-1".to_owned())
}

fn is_route_miss(reply: &Reply) -> bool {
    matches!(reply.code(), "route_not_found" | "method_not_allowed")
}

fn method(op: &Operation) -> Method {
    Method::from_bytes(op.method.as_bytes()).unwrap()
}

struct Refusal {
    who: String,
    client: Client,
    headers: Vec<(&'static str, String)>,
    status: u16,
}

/// Every way of calling node `which` that must not get past the guard of a route needing
/// `scope`.
fn refusals(trio: &Trio, which: Which, scope: &str) -> Vec<Refusal> {
    let started = trio.node(which);
    let anonymous = started.node.client(None);
    let all_token = started.callers.token("all");
    let header = |who: &str, value: String| Refusal {
        who: who.to_owned(),
        client: anonymous.clone(),
        headers: vec![("authorization", value)],
        status: 401,
    };
    let mut out = vec![
        Refusal {
            who: "no token".into(),
            client: anonymous.clone(),
            headers: Vec::new(),
            status: 401,
        },
        Refusal {
            who: "an unknown token".into(),
            client: started
                .node
                .client(Some("tok-unknown-0000000000000000".into())),
            headers: Vec::new(),
            status: 401,
        },
        header("a valid token sent as Basic", format!("Basic {all_token}")),
        header("an empty bearer", "Bearer ".into()),
        header(
            "a valid token with a suffix",
            format!("Bearer {all_token}x"),
        ),
        header(
            "a valid token cut short",
            format!("Bearer {}", &all_token[..all_token.len() - 1]),
        ),
        Refusal {
            who: "a known caller of another service".into(),
            client: started.as_role("foreign"),
            headers: Vec::new(),
            status: 403,
        },
    ];
    for other in Which::ALL.into_iter().filter(|w| *w != which) {
        out.push(Refusal {
            who: format!("{}'s token for its own callers", other.name()),
            client: started
                .node
                .client(Some(trio.node(other).callers.token("all"))),
            headers: Vec::new(),
            status: 401,
        });
    }
    for held in which.scopes().iter().filter(|s| **s != scope) {
        out.push(Refusal {
            who: format!("a caller holding only {held}"),
            client: started.as_role(&only(held)),
            headers: Vec::new(),
            status: 403,
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_every_caller_without_its_scope() {
    let trio = Trio::start().await;
    let before = trio.fingerprint().await;
    let mut checked = 0usize;
    let mut failures = Vec::new();

    for which in Which::ALL {
        let started = trio.node(which);
        let ops = operations(started.node.base()).await;
        let scoped: Vec<&Operation> = ops.iter().filter(|o| o.scope.is_some()).collect();
        assert!(
            scoped.len() >= minimum_operations(which),
            "{} lists only {} scoped operations: {ops:?}",
            which.name(),
            scoped.len()
        );

        for op in &scoped {
            let scope = op.scope.as_deref().unwrap();
            match reviewed_scope(which, op) {
                Some(reviewed) if reviewed == scope => {}
                Some(reviewed) => failures.push(format!(
                    "{} {} needs {scope}, but the reviewed policy says {reviewed}",
                    which.name(),
                    op.label()
                )),
                None => failures.push(format!(
                    "{} {} (scope {scope}) is not in the reviewed policy: review its scope and \
                     add it to auth_matrix::POLICY",
                    which.name(),
                    op.label()
                )),
            }
            assert!(
                which.scopes().contains(&scope),
                "{} needs {scope}, not a scope of {}: give the tests' callers a role for it",
                op.label(),
                which.name()
            );
            let path = existing(&trio, op);
            let body = valid_body(op);
            for refusal in refusals(&trio, which, scope) {
                let mut headers: Vec<(&str, &str)> = vec![("if-match", "*")];
                headers.extend(refusal.headers.iter().map(|(k, v)| (*k, v.as_str())));
                let reply = refusal
                    .client
                    .send(method(op), &path, Some(&body), &headers)
                    .await;
                checked += 1;
                let code = if refusal.status == 401 {
                    "unauthorized"
                } else {
                    "forbidden"
                };
                let challenge = reply.header("www-authenticate");
                if reply.status.as_u16() != refusal.status
                    || reply.code() != code
                    || (refusal.status == 401) != (challenge.as_deref() == Some("Bearer"))
                {
                    failures.push(format!(
                        "{} {} with {}: expected {} {code}, got {} {challenge:?} {}",
                        which.name(),
                        op.label(),
                        refusal.who,
                        refusal.status,
                        reply.status,
                        reply.text
                    ));
                }
            }

            // The caller holding exactly this scope gets past the guard. Ids name nothing and
            // the body is not JSON, so nothing can be written.
            let holder = started.as_role(&only(scope));
            let reply = holder
                .send_raw(method(op), &missing(op), "application/json", b"{".to_vec())
                .await;
            checked += 1;
            let status = reply.status.as_u16();
            if matches!(status, 401 | 403) || status >= 500 || is_route_miss(&reply) {
                failures.push(format!(
                    "{} {} with a caller holding {scope}: got {} {}",
                    which.name(),
                    op.label(),
                    reply.status,
                    system_tests::search::tail(&reply.text, 300)
                ));
            }
        }

        // The open routes stay open.
        let open: Vec<&Operation> = ops.iter().filter(|o| o.scope.is_none()).collect();
        let open_paths: Vec<&str> = open.iter().map(|o| o.path.as_str()).collect();
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
            assert!(
                open_paths.contains(&path),
                "{} does not list {path} as open",
                which.name()
            );
        }
        for op in open {
            let reply = started
                .node
                .client(None)
                .send(method(op), &op.path, None, &[])
                .await;
            checked += 1;
            if reply.status != 200 {
                failures.push(format!(
                    "{} open route {} answered {}",
                    which.name(),
                    op.label(),
                    reply.status
                ));
            }
        }

        // No method the document does not list is served on any path it lists, with or
        // without a token.
        let mut paths: Vec<&str> = ops.iter().map(|o| o.path.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        for path in paths {
            for candidate in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                if ops.iter().any(|o| o.path == path && o.method == candidate) {
                    continue;
                }
                let target = Operation {
                    method: candidate.into(),
                    path: path.into(),
                    scope: None,
                    path_methods: Vec::new(),
                };
                for client in [started.node.client(None), started.as_role("all")] {
                    let reply = client
                        .send(method(&target), &existing(&trio, &target), None, &[])
                        .await;
                    checked += 1;
                    if reply.status != 405 || reply.code() != "method_not_allowed" {
                        failures.push(format!(
                            "{} {candidate} {path} is not listed but answered {} {}",
                            which.name(),
                            reply.status,
                            reply.text
                        ));
                    }
                }
            }
        }
    }

    trio.wait_search_at(trio.catalog_head().await).await;
    let after = trio.fingerprint().await;
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    crate::assert_unchanged(&before, &after);
    trio.assert_no_panic();
    println!("auth matrix: {checked} checks over the three nodes' published operations");
}
