//! What the corpus knows about each route beyond its path: its JSON body, query parameters
//! and checked headers, and so which families of defect apply to it.

use serde_json::{Value, json};

use crate::{Operation, PRODUCTS};

/// The kind of a JSON field or query parameter, with the limits that make a value invalid.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// `validate::id`: 1–64 of `A-Z a-z 0-9 _ -`.
    Id,
    /// Free text of `min..=max` characters without control characters.
    Text { min: usize, max: usize },
    /// A category slug: 1–64 of `a-z 0-9 -`.
    Category,
    /// Three upper-case letters.
    Currency,
    /// An unsigned integer `min..=max`.
    Unsigned { min: u64, max: u64 },
    /// `StockChange::delta`: non-zero, `|delta| <= max`.
    Delta { max: u64 },
    /// A list of ids, 1..=max of them.
    Ids { max: usize },
    /// Order or reservation items: `[{product_id, qty 1..=10000}]`, 1..=max of them.
    Items { max: usize },
}

/// A JSON body field.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    /// Missing is an error.
    pub(super) required: bool,
    /// `null` means "absent" (an `Option` field), so it is no defect on its own.
    pub(super) nullable: bool,
}

const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
        nullable: false,
    }
}

const fn optional(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        nullable: true,
    }
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub(super) struct Param {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
}

/// A header the route checks, and values it must refuse.
#[derive(Debug, Clone, Copy)]
pub(super) enum Checked {
    /// `If-Match`: `*`, `"N"` or `N`.
    IfMatch,
    /// `Idempotency-Key`: 1–128 visible ASCII characters.
    IdempotencyKey,
}

/// What the corpus knows about one operation.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    /// A valid JSON body, and its fields.
    pub(super) body: Option<(Value, Vec<Field>)>,
    /// Query parameters; empty when the route reads no query.
    pub(super) query: Vec<Param>,
    /// Whether the route reads its query at all (a route that does not ignores junk there).
    pub(super) reads_query: bool,
    /// Headers the route checks, and whether a valid one must be sent (PATCH's `If-Match`).
    pub(super) headers: Vec<Checked>,
    /// Runs a costly read whatever it is sent (a backup): only defects refused by routing
    /// are generated for it.
    pub(super) routing_only: bool,
    /// Valid queries are harmless reads: the search syntax corpus sends any `q`.
    pub(super) query_syntax: bool,
}

const ID: Kind = Kind::Id;
const QTY_ITEMS: usize = 1000;

fn product_input() -> (Value, Vec<Field>) {
    (
        json!({"name": "Fuzz", "description": "d", "category": "kitchen",
               "price_minor": 100, "currency": "EUR", "stock": 5}),
        vec![
            field("name", Kind::Text { min: 1, max: 200 }),
            Field {
                required: false,
                ..field("description", Kind::Text { min: 0, max: 5000 })
            },
            field("category", Kind::Category),
            field(
                "price_minor",
                Kind::Unsigned {
                    min: 0,
                    max: 1_000_000_000_000,
                },
            ),
            field("currency", Kind::Currency),
            field(
                "stock",
                Kind::Unsigned {
                    min: 0,
                    max: 1_000_000_000,
                },
            ),
        ],
    )
}

fn product_patch() -> (Value, Vec<Field>) {
    let (_, fields) = product_input();
    (
        json!({"name": "Renamed", "stock": 9}),
        fields
            .into_iter()
            .map(|f| optional(f.name, f.kind))
            .collect(),
    )
}

fn blank() -> Spec {
    Spec {
        body: None,
        query: Vec::new(),
        reads_query: false,
        headers: Vec::new(),
        routing_only: false,
        query_syntax: false,
    }
}

/// The freshness parameters of every product read.
fn fresh() -> Vec<Param> {
    vec![
        Param {
            name: "min_seq",
            kind: Kind::Unsigned {
                min: 0,
                max: u64::MAX,
            },
        },
        Param {
            name: "wait_ms",
            kind: Kind::Unsigned {
                min: 0,
                max: 10_000,
            },
        },
    ]
}

/// What the corpus knows about `op`; `None` for an operation it has never seen.
pub(super) fn spec(op: &Operation) -> Option<Spec> {
    let unsigned = |min, max| Kind::Unsigned { min, max };
    let q = |name, kind| Param { name, kind };
    Some(match (op.method.as_str(), op.path.as_str()) {
        ("GET", "/v1/products") => Spec {
            query: vec![
                q("ids", Kind::Ids { max: 1000 }),
                q("after", ID),
                q("limit", unsigned(1, 1000)),
                q("min_seq", unsigned(0, u64::MAX)),
                q("wait_ms", unsigned(0, 10_000)),
            ],
            reads_query: true,
            ..blank()
        },
        ("POST", "/v1/products:batchGet") => Spec {
            body: Some((
                json!({"ids": PRODUCTS}),
                vec![field("ids", Kind::Ids { max: 1000 })],
            )),
            query: fresh(),
            reads_query: true,
            ..blank()
        },
        ("GET", "/v1/products/{id}") => Spec {
            query: fresh(),
            reads_query: true,
            ..blank()
        },
        ("DELETE", "/v1/products/{id}") => Spec {
            headers: vec![Checked::IfMatch],
            ..blank()
        },
        ("PUT", "/v1/products/{id}") => Spec {
            body: Some(product_input()),
            headers: vec![Checked::IfMatch],
            ..blank()
        },
        ("PATCH", "/v1/products/{id}") => Spec {
            body: Some(product_patch()),
            headers: vec![Checked::IfMatch],
            ..blank()
        },
        ("PATCH", "/v1/products/{id}/stock") => Spec {
            body: Some((
                json!({"delta": 1}),
                vec![field("delta", Kind::Delta { max: 1_000_000_000 })],
            )),
            ..blank()
        },
        ("POST", "/v1/reservations") => Spec {
            body: Some((
                json!({"id": "r-fuzz", "items": [{"product_id": "p-3", "qty": 1}]}),
                vec![
                    field("id", ID),
                    field("items", Kind::Items { max: QTY_ITEMS }),
                ],
            )),
            ..blank()
        },
        ("GET" | "DELETE", "/v1/reservations/{id}") => blank(),
        ("GET", "/v1/events") => Spec {
            query: vec![
                q("after", unsigned(0, u64::MAX)),
                q("limit", unsigned(1, 5000)),
                q("wait_ms", unsigned(0, 30_000)),
            ],
            reads_query: true,
            ..blank()
        },
        ("GET", "/v1/admin/backup") => Spec {
            routing_only: true,
            ..blank()
        },
        ("GET", "/v1/admin/audit") => Spec {
            query: vec![q("limit", unsigned(1, 1000))],
            reads_query: true,
            ..blank()
        },
        ("GET", "/v1/orders") => Spec {
            query: vec![
                q("customer_id", ID),
                q("limit", unsigned(1, 200)),
                q("cursor", unsigned(0, u64::MAX)),
                q("ids", Kind::Ids { max: 1000 }),
            ],
            reads_query: true,
            ..blank()
        },
        ("POST", "/v1/orders") => Spec {
            body: Some((
                json!({"customer_id": "c-fuzz", "items": [{"product_id": "p-3", "qty": 1}]}),
                vec![
                    field("customer_id", ID),
                    field("items", Kind::Items { max: QTY_ITEMS }),
                ],
            )),
            headers: vec![Checked::IdempotencyKey],
            ..blank()
        },
        ("GET", "/v1/orders/{id}") | ("POST", "/v1/orders/{id}/cancel") => blank(),
        ("GET", "/v1/search") => Spec {
            query: vec![
                q("q", Kind::Text { min: 1, max: 500 }),
                q("limit", unsigned(1, 100)),
                q("offset", unsigned(0, 10_000)),
                q("category", Kind::Category),
                q("min_seq", unsigned(0, u64::MAX)),
                q("wait_ms", unsigned(0, 10_000)),
            ],
            reads_query: true,
            query_syntax: true,
            ..blank()
        },
        _ => return None,
    })
}

/// Families that apply to `op`.
pub(super) fn families(op: &Operation, spec: &Spec) -> Vec<&'static str> {
    let mut out = vec!["path_shape", "wrong_method"];
    if spec.routing_only {
        return out;
    }
    out.push("transport");
    if op.path.contains('{') {
        out.push("bad_path_id");
    }
    if spec.body.is_some() {
        out.extend([
            "not_json",
            "bad_utf8",
            "content_type",
            "wrong_type",
            "missing_field",
            "unknown_field",
            "out_of_range",
            "injection",
            "huge_batch",
            "duplicate_key",
        ]);
    }
    if !spec.headers.is_empty() {
        out.push("bad_header");
    }
    if spec.reads_query {
        out.extend([
            "query_unknown",
            "query_value",
            "query_encoding",
            "query_duplicate",
        ]);
    }
    if spec.query_syntax {
        out.push("query_syntax");
    }
    if spec.reads_query {
        out.push("query_edges");
    }
    out
}
