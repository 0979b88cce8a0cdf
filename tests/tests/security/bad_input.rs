//! The bad-input corpus: seeded, generated requests that each carry at least one defect the
//! node must refuse before it writes anything, sent over keep-alive connections with a token
//! holding every scope of the node.
//!
//! The operations come from the node's `/openapi.json`. What the corpus must know about a
//! route beyond its path (its JSON body, query parameters and checked headers) is in
//! [`spec`]; an operation the document lists but [`spec`] does not know fails the test, so a
//! new route is noticed here too.
//!
//! `BAD_INPUT_CASES` sets the cases per node (10,000 by default), `BAD_INPUT_SEED` replays a
//! run whose seed was printed, `BAD_INPUT_CONNECTIONS` the concurrent connections per node
//! (4).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::raw::{Outcome, RawConn};
use crate::{Operation, PRODUCTS, RESERVATION, Trio, Which, operations, tail};

/// Cases per node unless `BAD_INPUT_CASES` says otherwise.
const DEFAULT_CASES: usize = 10_000;
/// Seed unless `BAD_INPUT_SEED` says otherwise: CI runs the same corpus every time.
const DEFAULT_SEED: u64 = 0x5EED_BAD1;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: a seeded generator whose every case can be replayed from (seed, index).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    fn for_case(seed: u64, node: u64, index: u64) -> Self {
        let mut r = Self(seed ^ node.wrapping_mul(0xA24B_AED4_963E_E407));
        r.0 ^= index.wrapping_mul(0x9FB2_1C65_1E98_DF25);
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `0..n`.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    /// `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// What the corpus knows about each route.

/// The kind of a JSON field or query parameter, with the limits that make a value invalid.
#[derive(Debug, Clone, Copy)]
enum Kind {
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
struct Field {
    name: &'static str,
    kind: Kind,
    /// Missing is an error.
    required: bool,
    /// `null` means "absent" (an `Option` field), so it is no defect on its own.
    nullable: bool,
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
struct Param {
    name: &'static str,
    kind: Kind,
}

/// A header the route checks, and values it must refuse.
#[derive(Debug, Clone, Copy)]
enum Checked {
    /// `If-Match`: `*`, `"N"` or `N`.
    IfMatch,
    /// `Idempotency-Key`: 1–128 visible ASCII characters.
    IdempotencyKey,
}

/// What the corpus knows about one operation.
#[derive(Debug, Clone)]
struct Spec {
    /// A valid JSON body, and its fields.
    body: Option<(Value, Vec<Field>)>,
    /// Query parameters; empty when the route reads no query.
    query: Vec<Param>,
    /// Whether the route reads its query at all (a route that does not ignores junk there).
    reads_query: bool,
    /// Headers the route checks, and whether a valid one must be sent (PATCH's `If-Match`).
    headers: Vec<Checked>,
    /// Runs a costly read whatever it is sent (a backup): only defects refused by routing
    /// are generated for it.
    routing_only: bool,
    /// Valid queries are harmless reads: the search syntax corpus sends any `q`.
    query_syntax: bool,
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

/// What the corpus knows about `op`; `None` for an operation it has never seen.
fn spec(op: &Operation) -> Option<Spec> {
    let unsigned = |min, max| Kind::Unsigned { min, max };
    let q = |name, kind| Param { name, kind };
    Some(match (op.method.as_str(), op.path.as_str()) {
        ("GET", "/v1/products") => Spec {
            query: vec![
                q("ids", Kind::Ids { max: 1000 }),
                q("after", ID),
                q("limit", unsigned(1, 1000)),
            ],
            reads_query: true,
            ..blank()
        },
        ("POST", "/v1/products:batchGet") => Spec {
            body: Some((
                json!({"ids": PRODUCTS}),
                vec![field("ids", Kind::Ids { max: 1000 })],
            )),
            ..blank()
        },
        ("GET" | "DELETE", "/v1/products/{id}") => Spec {
            headers: if op.method == "DELETE" {
                vec![Checked::IfMatch]
            } else {
                Vec::new()
            },
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

// ---------------------------------------------------------------------------------------------
// Building requests.

/// What an answer must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A 4xx with the JSON error body: the request has a defect the node checks.
    Refused,
    /// Anything but a 5xx (a harmless read may succeed); a 4xx has the JSON error body.
    NoServerError,
    /// Broken HTTP: a 4xx, or the connection closed; never a 5xx.
    Transport,
    /// An HTTP version that does not exist: like [`Expect::Transport`], but 505 (HTTP Version
    /// Not Supported, the server's protocol answer, not a failure) is right too.
    UnknownVersion,
}

/// One generated request.
#[derive(Debug, Clone)]
struct Case {
    family: &'static str,
    op: String,
    bytes: Vec<u8>,
    head: bool,
    expect: Expect,
}

/// The parts of a request before it is written out.
struct Draft {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

impl Draft {
    fn bytes(&self, token: &str) -> Vec<u8> {
        if self.method == "RAW" {
            // The token goes right after the request line, so that requests the server does
            // parse get past the guard to the handler.
            let raw = self.body.as_deref().unwrap_or_default();
            let auth = format!("authorization: Bearer {token}\r\n");
            return match raw.windows(2).position(|w| w == b"\r\n") {
                Some(at) => [&raw[..at + 2], auth.as_bytes(), &raw[at + 2..]].concat(),
                None => raw.to_vec(),
            };
        }
        let target = if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let mut out = format!(
            "{} {target} HTTP/1.1\r\nhost: fuzz\r\nauthorization: Bearer {token}\r\n",
            self.method
        )
        .into_bytes();
        if let Some(ct) = &self.content_type {
            out.extend_from_slice(format!("content-type: {ct}\r\n").as_bytes());
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let body = self.body.as_deref().unwrap_or_default();
        if self.body.is_some() {
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }
}

/// Percent-encodes every byte but unreserved characters.
fn encode(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Strings shaped like injection attacks; each has a character no id, category or currency
/// allows.
const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "1; DROP TABLE products;--",
    "\" OR \"\"=\"",
    "<script>alert(1)</script>",
    "${jndi:ldap://example.invalid/a}",
    "{{7*7}}",
    "../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "$where",
    "{\"$gt\": \"\"}",
    "a\r\nX-Injected: yes",
    "%00",
    "\u{0}",
    "a*",
    "a,b",
    "a b",
    "a.b",
    "a/b",
    "a:b",
    "a@b",
    "é",
    "日本",
    "🦀",
    "\u{202e}gnp.exe",
    "|| ls -la",
    "`id`",
    "$(id)",
];

/// A string no `validate::id` accepts (as raw characters; encode before putting it in a URL).
fn bad_id(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => "a".repeat(rng.range(65, 300)),
        1 => String::new(),
        2 => {
            // Random printable ASCII, with at least one character outside the id alphabet.
            let n = rng.range(1, 40);
            let mut s: String = (0..n)
                .map(|_| char::from(b' ' + rng.below(95) as u8))
                .collect();
            let bad = *rng.pick(&[' ', '.', '/', '%', '\'', '"', '<', '{', '\\', '+', '~']);
            let at = rng.below(s.len() + 1);
            s.insert(at, bad);
            s
        }
        _ => (*rng.pick(INJECTIONS)).to_owned(),
    }
}

/// Whether `validate::id` accepts `value`.
fn is_valid_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A path segment that is no valid id once decoded, ready to put in a request target.
fn bad_id_segment(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => rng
            .pick(&["%FF", "%C0%AF", "%ED%A0%80", "a%FEb", "%80", "%E2%82"])
            .to_string(),
        1 => rng.pick(&["%ZZ", "%", "%4", "a%zz", "%%"]).to_string(),
        2 => rng.pick(&["..", ".", "...", "%2e%2e", "%2E"]).to_string(),
        _ => {
            let id = bad_id(rng);
            if id.is_empty() {
                "%20".to_owned()
            } else {
                encode(id.as_bytes())
            }
        }
    }
}

/// A value of `kind` that its validation refuses (a JSON value of the right type, or of a
/// wrong one).
fn bad_value(rng: &mut Rng, kind: Kind) -> Value {
    match kind {
        Kind::Id => json!(bad_id(rng)),
        Kind::Text { min, max } => match rng.below(3) {
            0 => json!("x".repeat(max + 1 + rng.below(50))),
            1 => json!("é".repeat(max + 1)),
            _ if min > 0 && rng.chance(30) => json!(""),
            _ => {
                let control = *rng.pick(&['\u{0}', '\u{1b}', '\r', '\u{7f}', '\u{85}', '\u{8}']);
                json!(format!("name{control}end"))
            }
        },
        Kind::Category => json!(*rng.pick(&[
            "Kitchen",
            "",
            "kitchen ware",
            "kitchen_ware",
            "küche",
            "a/b",
            "<b>",
            "' OR 1=1 --",
            "../etc",
        ])),
        Kind::Currency => json!(*rng.pick(&[
            "eur", "EURO", "EU", "", "E1R", "€", "E R", "USD;", "<x>", "ÉUR"
        ])),
        Kind::Unsigned { min, max } => {
            let mut options = vec![json!(-1), json!(1.5), json!(-0.5), json!(i64::MIN)];
            if max < u64::MAX {
                options.push(json!(max + 1));
                options.push(json!(u64::MAX));
            }
            if min > 0 {
                options.push(json!(min - 1));
            }
            rng.pick(&options).clone()
        }
        Kind::Delta { max } => {
            let max = max as i64;
            rng.pick(&[
                json!(0),
                json!(max + 1),
                json!(-max - 1),
                json!(i64::MIN),
                json!(i64::MAX),
                json!(u64::MAX),
                json!(0.5),
                json!(-1.5),
            ])
            .clone()
        }
        Kind::Ids { max } => match rng.below(4) {
            0 => json!([]),
            1 => json!(
                (0..max + 1 + rng.below(500))
                    .map(|i| format!("id-{i}"))
                    .collect::<Vec<_>>()
            ),
            2 => {
                let mut ids: Vec<Value> = PRODUCTS.iter().map(|p| json!(p)).collect();
                let at = rng.below(ids.len() + 1);
                ids.insert(at, json!(bad_id(rng)));
                json!(ids)
            }
            _ => json!([
                "p-1",
                rng.pick(&[
                    json!(1),
                    json!(null),
                    json!(["p-2"]),
                    json!({"id": "p-2"}),
                    json!(true)
                ])
                .clone()
            ]),
        },
        Kind::Items { max } => match rng.below(7) {
            0 => json!([]),
            1 => json!(
                (0..max + 1 + rng.below(200))
                    .map(|i| json!({"product_id": format!("p-{i}"), "qty": 1}))
                    .collect::<Vec<_>>()
            ),
            2 => json!([{"product_id": bad_id(rng), "qty": 1}]),
            3 => {
                json!([{"product_id": "p-3", "qty": bad_value(rng, Kind::Unsigned { min: 1, max: 10_000 })}])
            }
            4 => {
                json!([{"product_id": "p-3", "qty": 1, rng.pick(&["price_minor", "unit_price", "__proto__", "name"]).to_string(): 1}])
            }
            5 => json!([rng
                .pick(&[
                    json!({"product_id": "p-3"}),
                    json!({"qty": 1}),
                    json!("p-3"),
                    json!(null),
                    json!([["p-3", 1]])
                ])
                .clone()]),
            // Quantities that only overflow once merged (orders) or a product named twice
            // (reservations): both are refused.
            _ => json!([{"product_id": "p-3", "qty": 10_000}, {"product_id": "p-3", "qty": 1}]),
        },
    }
}

/// A JSON value whose type `kind` never takes.
fn wrong_type(rng: &mut Rng, kind: Kind, nullable: bool) -> Value {
    let candidates: Vec<Value> = match kind {
        Kind::Id | Kind::Text { .. } | Kind::Category | Kind::Currency => {
            vec![
                json!(7),
                json!(true),
                json!(["x"]),
                json!({"x": 1}),
                json!(1.5),
            ]
        }
        Kind::Unsigned { .. } | Kind::Delta { .. } => {
            vec![
                json!("1"),
                json!(true),
                json!([1]),
                json!({"n": 1}),
                json!(""),
            ]
        }
        Kind::Ids { .. } | Kind::Items { .. } => {
            vec![json!("p-1"), json!(1), json!({"0": "p-1"}), json!(true)]
        }
    };
    if !nullable && rng.chance(15) {
        return Value::Null;
    }
    rng.pick(&candidates).clone()
}

/// Serializes `map` with one key written twice (serde refuses duplicate fields).
fn with_duplicate_key(rng: &mut Rng, map: &Map<String, Value>) -> Vec<u8> {
    let keys: Vec<&String> = map.keys().collect();
    let dup = *rng.pick(&keys);
    let mut parts: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}:{}", json!(k), v))
        .collect();
    parts.push(format!("{}:{}", json!(dup), map[dup]));
    format!("{{{}}}", parts.join(",")).into_bytes()
}

/// A body with a defect of `family`'s kind; `None` when the family does not apply.
fn bad_body(rng: &mut Rng, family: &str, template: &Value, fields: &[Field]) -> Option<Vec<u8>> {
    let map = template.as_object()?.clone();
    let mut body = map.clone();
    let chosen = *rng.pick(fields);
    let out = match family {
        "not_json" => {
            let valid = serde_json::to_vec(template).ok()?;
            match rng.below(8) {
                0 => valid[..rng.below(valid.len())].to_vec(),
                1 => [valid.as_slice(), b"}garbage"].concat(),
                2 => (0..rng.range(1, 300)).map(|_| rng.next() as u8).collect(),
                3 => rng
                    .pick(&[
                        &b"null"[..],
                        b"[]",
                        b"\"x\"",
                        b"42",
                        b"true",
                        b"",
                        b" ",
                        b"{",
                        b"}",
                    ])
                    .to_vec(),
                4 => [&b"\xEF\xBB\xBF"[..], valid.as_slice()].concat(),
                5 => valid
                    .iter()
                    .map(|&b| if b == b'"' { b'\'' } else { b })
                    .collect(),
                6 => b"name=Fuzz&stock=5".to_vec(),
                _ => {
                    // Nested far deeper than the parser's recursion limit.
                    let depth = rng.range(200, 50_000);
                    let mut v = b"{\"ids\":".to_vec();
                    v.extend(std::iter::repeat_n(b'[', depth));
                    v.extend(std::iter::repeat_n(b']', depth));
                    v.push(b'}');
                    v
                }
            }
        }
        "bad_utf8" => {
            let text = serde_json::to_string(template).ok()?;
            // Replace the first string value's content with bytes that are not UTF-8, or
            // with escapes JSON does not allow.
            let start = match (text.find(":\""), text.find("[\"")) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b)?,
            } + 2;
            let end = start + text[start..].find('"')?;
            let bad: &[u8] = rng.pick::<&[u8]>(&[
                &b"\xFF"[..],
                b"\xC0\xAF",
                b"\xED\xA0\x80",
                b"ab\x80cd",
                b"\xE9t\xE9",
                b"\\ud800",
                b"\\udc00x",
                b"\\u00",
                b"\\x41",
                b"\\q",
            ]);
            [&text.as_bytes()[..start], bad, &text.as_bytes()[end..]].concat()
        }
        "wrong_type" => {
            body.insert(
                chosen.name.into(),
                wrong_type(rng, chosen.kind, chosen.nullable),
            );
            serde_json::to_vec(&body).ok()?
        }
        "missing_field" => {
            let required: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
            if required.is_empty() {
                // Every field is optional (a patch): naming none is the defect.
                b"{}".to_vec()
            } else {
                let gone = *rng.pick(&required);
                body.remove(gone.name);
                serde_json::to_vec(&body).ok()?
            }
        }
        "unknown_field" => {
            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            let extra = *rng.pick(&[
                "extra",
                "__proto__",
                "constructor",
                "$where",
                "version",
                "seq",
                "is_admin",
                "Name",
                "",
                "stock ",
            ]);
            if names.contains(&extra) {
                return None;
            }
            body.insert(
                extra.into(),
                json!(
                    rng.pick(&[json!(1), json!("x"), json!(null), json!({"$ne": 1})])
                        .clone()
                ),
            );
            serde_json::to_vec(&body).ok()?
        }
        "out_of_range" | "injection" | "huge_batch" => {
            let value = match (family, chosen.kind) {
                ("injection", Kind::Id | Kind::Category | Kind::Currency) => {
                    json!(*rng.pick(INJECTIONS))
                }
                ("injection", Kind::Items { .. }) => {
                    json!([{"product_id": *rng.pick(INJECTIONS), "qty": 1}])
                }
                ("injection", Kind::Ids { .. }) => json!(["p-1", *rng.pick(INJECTIONS)]),
                ("injection", _) => return None,
                ("huge_batch", Kind::Ids { max }) => {
                    // Past the batch limit, or past the body limit altogether.
                    let n = if rng.chance(70) {
                        rng.range(max + 1, max * 3)
                    } else {
                        rng.range(20_000, 60_000)
                    };
                    json!((0..n).map(|i| format!("id-{i}")).collect::<Vec<_>>())
                }
                ("huge_batch", Kind::Items { max }) => {
                    let n = if rng.chance(70) {
                        rng.range(max + 1, max * 2)
                    } else {
                        rng.range(8_000, 20_000)
                    };
                    json!(
                        (0..n)
                            .map(|i| json!({"product_id": format!("p-{i}"), "qty": 1}))
                            .collect::<Vec<_>>()
                    )
                }
                ("huge_batch", Kind::Text { max, .. }) => {
                    json!("x".repeat(rng.range(max + 1, 400_000)))
                }
                ("huge_batch", _) => return None,
                (_, kind) => bad_value(rng, kind),
            };
            body.insert(chosen.name.into(), value);
            serde_json::to_vec(&body).ok()?
        }
        "duplicate_key" => with_duplicate_key(rng, &map),
        _ => return None,
    };
    Some(out)
}

/// An `If-Match` value the catalog refuses.
fn bad_if_match(rng: &mut Rng) -> Vec<u8> {
    rng.pick(&[
        &b"W/\"1\""[..],
        b"abc",
        b"\"-1\"",
        b"1, 2",
        b"18446744073709551616",
        b"\xE9",
        b"",
        b"**",
        b"\"\"",
    ])
    .to_vec()
}

/// An `Idempotency-Key` value order-node refuses.
fn bad_idempotency_key(rng: &mut Rng) -> Vec<u8> {
    match rng.below(3) {
        0 => "k".repeat(rng.range(129, 2000)).into_bytes(),
        1 => rng
            .pick(&[&b"a b"[..], b"key\tkey", b"", b"caf\xE9", b"\xFF\xFE"])
            .to_vec(),
        _ => format!("key{}end", rng.pick(&[" ", "\u{e9}", "\u{1f980}"])).into_bytes(),
    }
}

/// A query parameter value that `param`'s kind refuses, already encoded.
fn bad_param(rng: &mut Rng, param: Param) -> String {
    let raw: String = match param.kind {
        Kind::Unsigned { min, max } => {
            let mut options: Vec<String> = vec![
                "-1".into(),
                "abc".into(),
                "1.5".into(),
                "1e3".into(),
                "99999999999999999999999".into(),
                "0x10".into(),
                String::new(),
                " 1".into(),
                "1;2".into(),
            ];
            if max < u64::MAX {
                options.push((max + 1).to_string());
            }
            if min > 0 {
                options.push((min - 1).to_string());
            }
            rng.pick(&options).clone()
        }
        Kind::Ids { max } => match rng.below(3) {
            0 => String::new(),
            1 => (0..max + 1 + rng.below(300))
                .map(|i| format!("p-{i}"))
                .collect::<Vec<_>>()
                .join(","),
            _ => {
                // A comma splits the list: what follows it must still hold a bad id.
                let bad = loop {
                    let id = bad_id(rng);
                    if id.split(',').any(|part| !is_valid_id(part)) {
                        break id;
                    }
                };
                format!("p-1,{bad}")
            }
        },
        Kind::Text { max, .. } if rng.chance(50) => "q".repeat(rng.range(max + 1, max * 4)),
        Kind::Text { .. } => String::new(),
        Kind::Id => bad_id(rng),
        Kind::Category => (*rng.pick(&["Kitchen", "", "a b", "küche", "<x>", "' OR 1=1"])).into(),
        Kind::Currency | Kind::Delta { .. } | Kind::Items { .. } => "x".into(),
    };
    encode(raw.as_bytes())
}

/// A valid value of `param`, already encoded; `None` when none may be sent.
fn good_param(rng: &mut Rng, param: Param) -> Option<String> {
    // A valid wait would make a case long-poll (or wait for a seq the index never reaches):
    // only invalid ones are ever sent.
    if matches!(param.name, "wait_ms" | "min_seq") {
        return None;
    }
    Some(match param.kind {
        Kind::Unsigned { min, max } => {
            let hi = max.min(min + 50);
            (min + rng.next() % (hi - min + 1)).to_string()
        }
        Kind::Id => "p-1".into(),
        Kind::Ids { .. } => "p-1,p-2".into(),
        Kind::Text { .. } => "kettle".into(),
        Kind::Category => "kitchen".into(),
        _ => return None,
    })
}

/// A `q` for search: random words and tantivy query syntax, valid or not.
fn query_syntax(rng: &mut Rng) -> String {
    // Whole expressions the parser accepts but the index may not be able to run.
    const WHOLE: &[&str] = &[
        "name:[a TO z]",
        "description:{* TO *}",
        "category:[a TO b]",
        "product_id:[* TO p]",
        "name:>=a",
        "name:*",
        "*",
        "name:a*",
        "\"a b\"*",
        "kettle~1",
        "name:/k.*/",
        "kettle^1e39",
        "kettle^-1",
        "kettle^0",
        "kettle^NaN",
        "kettle^inf",
        "name: IN [a b]",
        "\"kettle steel\"~4294967296",
        "\"kettle steel\"~99999999999999999999",
        "-kettle",
        "NOT kettle",
        "+kettle -kettle",
        "((((((((((kettle))))))))))",
        "kettle AND",
        "OR OR OR",
        "_exists_:name",
        "price_minor:[0 TO 100]",
        "name:\"\"",
        "\"\"",
        "a^2^3",
        "name:name:kettle",
        // Field names that exist nowhere (once a 500: the index named the made-up field).
        "a\\*:*",
        "nofield:*",
        "1e999\\*:*",
    ];
    if rng.chance(40) {
        let mut q: String = (*rng.pick(WHOLE)).to_owned();
        if rng.chance(30) {
            q = format!("{q} {}", rng.pick(WHOLE));
        }
        return q;
    }
    const PIECES: &[&str] = &[
        "kettle",
        "steel",
        "name:",
        "description:",
        "category:",
        "product_id:",
        "+",
        "-",
        "\"",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "TO",
        "AND",
        "OR",
        "NOT",
        "*",
        "?",
        "~",
        "~2",
        "^",
        "^2",
        ":",
        "\\",
        "/",
        "/re.*x/",
        "IN",
        "[a TO z]",
        "{* TO 5}",
        "price_minor:>5",
        "stock:[0 TO",
        "'",
        " ",
        " ",
        " ",
        "é",
        "日本",
        "🦀",
        "\u{0}",
        "\t",
        "\n",
        "&&",
        "||",
        "!",
        "<",
        ">",
        "=",
        "$",
        "%",
        "*:*",
        "_exists_:name",
        "name:\"a b\"~3",
        "0x",
        "-1",
        "1e999",
        ".",
    ];
    let n = rng.range(1, 12);
    (0..n).map(|_| *rng.pick(PIECES)).collect()
}

/// Families that apply to `op`.
fn families(op: &Operation, spec: &Spec) -> Vec<&'static str> {
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

/// Ids of things that exist, by the path segment before the parameter.
struct Existing {
    order: String,
}

impl Existing {
    fn fill(&self, op: &Operation) -> String {
        op.path_with(|_, previous| match previous {
            "products" => PRODUCTS[0].to_owned(),
            "reservations" => RESERVATION.to_owned(),
            "orders" => self.order.clone(),
            _ => "x-1".to_owned(),
        })
    }
}

/// Case `index` of the corpus for one node.
fn case(
    seed: u64,
    node: u64,
    index: u64,
    ops: &[(Operation, Spec)],
    existing: &Existing,
    token: &str,
) -> Case {
    let mut rng = Rng::for_case(seed, node, index);
    // Each (operation, family) pair is drawn by its weight: the defects a route's own
    // validation must catch count more than the ones routing or the HTTP parser catch.
    let pairs: Vec<(usize, &'static str, usize)> = ops
        .iter()
        .enumerate()
        .flat_map(|(i, (op, spec))| {
            families(op, spec).into_iter().map(move |f| {
                let weight = match f {
                    "path_shape" | "wrong_method" | "transport" => 1,
                    "query_syntax" => 8,
                    _ => 3,
                };
                (i, f, weight)
            })
        })
        .collect();
    let total: usize = pairs.iter().map(|(_, _, w)| w).sum();
    loop {
        let mut draw = rng.below(total);
        let mut chosen = pairs[0];
        for pair in &pairs {
            if draw < pair.2 {
                chosen = *pair;
                break;
            }
            draw -= pair.2;
        }
        let (op, spec) = &ops[chosen.0];
        let family = chosen.1;
        if let Some((draft, expect)) = draft(&mut rng, family, op, spec, existing) {
            return Case {
                family,
                op: op.label(),
                head: draft.method == "HEAD",
                bytes: draft.bytes(token),
                expect,
            };
        }
    }
}

/// A request of `family` against `op`; `None` when this draw does not apply (draw again).
fn draft(
    rng: &mut Rng,
    family: &'static str,
    op: &Operation,
    spec: &Spec,
    existing: &Existing,
) -> Option<(Draft, Expect)> {
    let mut d = Draft {
        method: op.method.clone(),
        path: existing.fill(op),
        query: String::new(),
        headers: Vec::new(),
        content_type: None,
        body: None,
    };
    // The valid parts, around the defect: a request without its defect would succeed.
    if let Some((template, _)) = &spec.body {
        d.content_type = Some("application/json".into());
        d.body = serde_json::to_vec(template).ok();
    }
    if spec.headers.iter().any(|h| matches!(h, Checked::IfMatch)) {
        d.headers.push(("if-match".into(), b"*".to_vec()));
    }
    if spec.query_syntax {
        d.query = "q=kettle".into();
    }
    let mut expect = Expect::Refused;
    match family {
        "path_shape" => {
            d.path = match rng.below(7) {
                0 => format!("{}/zz-junk", d.path),
                1 => format!("{}/", d.path),
                2 => d.path.replacen("/v1/", "/v1//", 1),
                3 => d.path.to_uppercase(),
                4 => d.path.replacen("/v1/", "/v2/", 1),
                5 => format!("{}/..", d.path),
                _ => d.path.replacen("/v1/", "/v1/../v1/", 1),
            };
        }
        "wrong_method" => {
            let listed = |m: &str| m == op.method;
            let mut options = vec!["OPTIONS", "TRACE", "FOO", "get", "PROPFIND", "M-SEARCH"];
            for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                if !listed(m) {
                    options.push(m);
                }
            }
            let method = *rng.pick(&options);
            // Only methods the path does not serve: the document lists every one it does.
            if op.path_methods.iter().any(|m| m == method) {
                return None;
            }
            d.method = method.into();
        }
        "transport" => {
            // Framing and head defects; path ids name nothing, so that a handler that runs
            // before the body is read finds nothing to change.
            d.path = op.path_with(|_, _| "zz-missing-1".to_owned());
            expect = Expect::Transport;
            let body = d.body.clone().unwrap_or_else(|| b"{}".to_vec());
            let head =
                |method: &str, path: &str| format!("{method} {path} HTTP/1.1\r\nhost: fuzz\r\n");
            let raw: Vec<u8> = match rng.below(12) {
                0 => [head(&d.method, &d.path).as_bytes(), b"content-length: abc\r\n\r\n"].concat(),
                1 => [
                    head(&d.method, &d.path).as_bytes(),
                    b"content-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
                ]
                .concat(),
                2 => [
                    head(&d.method, &d.path).as_bytes(),
                    b"content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                ]
                .concat(),
                3 => [
                    head(&d.method, &d.path).as_bytes(),
                    b"content-type: application/json\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                ]
                .concat(),
                4 => {
                    expect = Expect::UnknownVersion;
                    format!("{} {} HTTP/9.9\r\nhost: fuzz\r\n\r\n", d.method, d.path).into_bytes()
                }
                5 => format!("{} {} extra HTTP/1.1\r\nhost: fuzz\r\n\r\n", d.method, d.path).into_bytes(),
                6 => [head(&d.method, &d.path).as_bytes(), b"bad header line\r\n\r\n"].concat(),
                7 => [head(&d.method, &d.path).as_bytes(), b"x-a: 1\r\n folded: 2\r\n\r\n"].concat(),
                8 => [head(&d.method, &d.path).as_bytes(), b"x-nul: a\x00b\r\n\r\n"].concat(),
                9 => {
                    let mut h = head(&d.method, &d.path);
                    for i in 0..rng.range(101, 300) {
                        h.push_str(&format!("x-h{i}: {i}\r\n"));
                    }
                    h.push_str("\r\n");
                    h.into_bytes()
                }
                10 => [
                    head(&d.method, &d.path).as_bytes(),
                    format!("x-big: {}\r\n\r\n", "b".repeat(rng.range(70_000, 500_000))).as_bytes(),
                ]
                .concat(),
                _ => {
                    // Raw bytes that are not ASCII in the request target.
                    let mut v = format!("{} {}", d.method, d.path).into_bytes();
                    v.extend_from_slice(rng.pick::<&[u8]>(&[b"\xFF\xFE", b"\xC3\xA9", b"\x7F", b"\t"]));
                    v.extend_from_slice(b" HTTP/1.1\r\nhost: fuzz\r\n");
                    v.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
                    v.extend_from_slice(&body);
                    v
                }
            };
            return Some((Draft::raw(raw), expect));
        }
        "bad_path_id" => {
            let params = op.path.matches('{').count();
            let which = rng.below(params);
            let mut seen = 0;
            let segment = bad_id_segment(rng);
            d.path = op.path_with(|_, previous| {
                seen += 1;
                if seen - 1 == which {
                    segment.clone()
                } else {
                    existing_for(previous, existing)
                }
            });
            if rng.chance(20) {
                // Left raw: `reqwest` would normalise these away.
                d.path = d.path.replace(&segment, rng.pick::<&str>(&["..", "."]));
            }
        }
        "content_type" => {
            d.content_type = rng
                .pick(&[
                    Some("text/plain"),
                    Some("application/x-www-form-urlencoded"),
                    Some("multipart/form-data; boundary=x"),
                    Some("application/xml"),
                    Some("text/json"),
                    Some("application/jsonx"),
                    Some("json"),
                    Some(""),
                    Some("application/"),
                    Some("application/octet-stream"),
                    Some("image/png"),
                    None,
                ])
                .map(str::to_owned);
        }
        "bad_header" => {
            let header = *rng.pick(&spec.headers);
            match header {
                Checked::IfMatch => {
                    d.headers.retain(|(k, _)| k != "if-match");
                    // PATCH needs If-Match at all; the others refuse a malformed one.
                    if op.method != "PATCH" || rng.chance(70) {
                        d.headers.push(("if-match".into(), bad_if_match(rng)));
                    }
                }
                Checked::IdempotencyKey => {
                    d.headers
                        .push(("idempotency-key".into(), bad_idempotency_key(rng)));
                }
            }
        }
        "query_unknown" | "query_value" | "query_encoding" | "query_duplicate" => {
            let mut pairs: Vec<String> = Vec::new();
            // Start from a valid query (or none), then break it.
            for p in &spec.query {
                if rng.chance(40)
                    && let Some(v) = good_param(rng, *p)
                {
                    pairs.push(format!("{}={v}", p.name));
                }
            }
            if spec.query_syntax && !pairs.iter().any(|p| p.starts_with("q=")) {
                pairs.push("q=kettle".into());
            }
            match family {
                "query_unknown" => {
                    let name = *rng.pick(&[
                        "foo",
                        "LIMIT",
                        "limit[]",
                        "$where",
                        "q ",
                        "",
                        "ids[0]",
                        "__proto__",
                    ]);
                    pairs.insert(
                        rng.below(pairs.len() + 1),
                        format!("{}=1", encode(name.as_bytes())),
                    );
                }
                "query_value" => {
                    let p = *rng.pick(&spec.query);
                    pairs.retain(|kv| !kv.starts_with(&format!("{}=", p.name)));
                    pairs.push(format!("{}={}", p.name, bad_param(rng, p)));
                }
                "query_encoding" => {
                    let p = *rng.pick(&spec.query);
                    pairs.retain(|kv| !kv.starts_with(&format!("{}=", p.name)));
                    let bad = *rng.pick(&["%ZZ", "%", "%FF", "%C0%AF", "%00", "a%ED%A0%80"]);
                    pairs.push(format!("{}={bad}", p.name));
                    // An id or a number with these is refused; free text (search's q) may be
                    // read as replacement characters and searched: harmless.
                    if matches!(p.kind, Kind::Text { .. }) {
                        expect = Expect::NoServerError;
                    }
                }
                _ => {
                    let p = *rng.pick(&spec.query);
                    let v = good_param(rng, p).unwrap_or_else(|| "1".into());
                    pairs.retain(|kv| !kv.starts_with(&format!("{}=", p.name)));
                    pairs.push(format!("{}={v}", p.name));
                    pairs.push(format!("{}={v}", p.name));
                }
            }
            d.query = pairs.join("&");
        }
        "query_edges" => {
            // Valid values at the edges of their ranges: harmless reads that must not trip
            // an overflow or an off-by-one.
            expect = Expect::NoServerError;
            let mut pairs = Vec::new();
            for p in &spec.query {
                if !rng.chance(60) || matches!(p.name, "wait_ms" | "min_seq") {
                    continue;
                }
                let value = match p.kind {
                    Kind::Unsigned { min, max } => rng
                        .pick(&[min, max, max.saturating_sub(1), min.saturating_add(1)])
                        .to_string(),
                    Kind::Ids { max } => (0..*rng.pick(&[1, max]))
                        .map(|i| format!("{}{i}", "i".repeat(rng.range(1, 60))))
                        .collect::<Vec<_>>()
                        .join(","),
                    Kind::Id => "z".repeat(*rng.pick(&[1, 64])),
                    Kind::Text { min, max } => "k".repeat(*rng.pick(&[min.max(1), max])),
                    Kind::Category => "z".repeat(*rng.pick(&[1, 64])),
                    _ => continue,
                };
                pairs.push(format!("{}={}", p.name, encode(value.as_bytes())));
            }
            if spec.query_syntax && !pairs.iter().any(|p| p.starts_with("q=")) {
                pairs.push("q=kettle".into());
            }
            d.query = pairs.join("&");
        }
        "query_syntax" => {
            expect = Expect::NoServerError;
            let mut query = format!("q={}", encode(query_syntax(rng).as_bytes()));
            if rng.chance(30) {
                query.push_str(&format!(
                    "&limit={}&offset={}",
                    rng.range(1, 100),
                    rng.range(0, 10_000)
                ));
            }
            if rng.chance(20) {
                query.push_str("&category=kitchen");
            }
            d.query = query;
        }
        body_family => {
            let (template, fields) = spec.body.as_ref()?;
            d.body = Some(bad_body(rng, body_family, template, fields)?);
        }
    }
    Some((d, expect))
}

fn existing_for(previous: &str, existing: &Existing) -> String {
    match previous {
        "products" => PRODUCTS[0].to_owned(),
        "reservations" => RESERVATION.to_owned(),
        "orders" => existing.order.clone(),
        _ => "x-1".to_owned(),
    }
}

impl Draft {
    /// A request given as raw bytes (the token is not added).
    fn raw(bytes: Vec<u8>) -> Self {
        Self {
            method: "RAW".into(),
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            content_type: None,
            body: Some(bytes),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running the corpus.

/// What a run found.
#[derive(Default)]
struct Tally {
    by_family: BTreeMap<&'static str, usize>,
    by_status: BTreeMap<String, usize>,
    failures: Vec<String>,
    failed: usize,
}

fn is_error_body(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v["error"]["code"].is_string() && v["error"]["message"].is_string())
}

fn judge(case: &Case, outcome: &Outcome) -> Result<String, String> {
    match outcome {
        Outcome::TimedOut => Err("no answer in time".into()),
        Outcome::Closed if matches!(case.expect, Expect::Transport | Expect::UnknownVersion) => {
            Ok("closed".into())
        }
        Outcome::Answered(r) if case.expect == Expect::UnknownVersion && r.status == 505 => {
            Ok("505".into())
        }
        Outcome::Closed => Err("connection closed without an answer".into()),
        Outcome::Answered(r) => {
            let status = r.status;
            let label = status.to_string();
            if status >= 500 {
                return Err(format!(
                    "server error {status}: {}",
                    String::from_utf8_lossy(&r.body)
                ));
            }
            match case.expect {
                Expect::Transport | Expect::UnknownVersion => Ok(label),
                Expect::Refused if !(400..500).contains(&status) => Err(format!(
                    "accepted with {status}: {}",
                    String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
                )),
                _ if (400..500).contains(&status) && !is_error_body(&r.body) => Err(format!(
                    "{status} without the JSON error body ({:?}): {}",
                    r.content_type,
                    String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
                )),
                _ => Ok(label),
            }
        }
    }
}

fn printable(bytes: &[u8], n: usize) -> String {
    let cut = &bytes[..bytes.len().min(n)];
    cut.escape_ascii().to_string()
}

async fn run_corpus(which: Which) {
    let cases = env_or("BAD_INPUT_CASES", DEFAULT_CASES);
    let seed = env_or("BAD_INPUT_SEED", DEFAULT_SEED);
    let connections = env_or("BAD_INPUT_CONNECTIONS", 4usize).max(1);
    let trio = Trio::start().await;
    let started = trio.node(which);
    let base = started.node.base().to_owned();

    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for op in operations(&base).await {
        if op.scope.is_none() {
            continue;
        }
        match spec(&op) {
            Some(s) => known.push((op, s)),
            None => unknown.push(op.label()),
        }
    }
    assert!(
        unknown.is_empty(),
        "{} publishes operations the bad-input corpus does not know: {unknown:?}; describe \
         their body, query and headers in bad_input::spec",
        which.name()
    );
    assert!(!known.is_empty());

    let before = trio.fingerprint().await;
    let token = started.callers.token("all");
    let existing = Arc::new(Existing {
        order: trio.order_id.clone(),
    });
    let known = Arc::new(known);
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let node_stream = which as u64;
    let started_at = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (known, existing, next, tally, token, base) = (
            known.clone(),
            existing.clone(),
            next.clone(),
            tally.clone(),
            token.clone(),
            base.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut conn = RawConn::new(&base, Duration::from_secs(20));
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases {
                    break;
                }
                let c = case(seed, node_stream, i as u64, &known, &existing, &token);
                let outcome = conn.send(&c.bytes, c.head).await;
                let verdict = judge(&c, &outcome);
                let mut t = tally.lock().unwrap();
                *t.by_family.entry(c.family).or_default() += 1;
                match verdict {
                    Ok(label) => *t.by_status.entry(label).or_default() += 1,
                    Err(why) => {
                        t.failed += 1;
                        *t.by_status.entry("FAILED".into()).or_default() += 1;
                        if t.failures.len() < 30 {
                            t.failures.push(format!(
                                "case {i} ({} on {}): {why}\n    request: {}",
                                c.family,
                                c.op,
                                printable(&c.bytes, 400)
                            ));
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started_at.elapsed();

    // Still alive, nothing written, no panic logged.
    let health = started.node.client(None).get("/healthz").await;
    assert_eq!(health.status, 200, "{} no longer answers", which.name());
    trio.wait_search_at(trio.catalog_head().await).await;
    let after = trio.fingerprint().await;
    let t = tally.lock().unwrap();
    println!(
        "bad input, {}: {cases} cases (seed {seed:#x}, {connections} connections) in {:.1}s \
         ({:.0}/s)\n  families: {:?}\n  outcomes: {:?}",
        which.name(),
        elapsed.as_secs_f64(),
        cases as f64 / elapsed.as_secs_f64().max(0.001),
        t.by_family,
        t.by_status
    );
    assert!(
        t.failed == 0,
        "{} of {cases} bad-input cases against {} failed (seed {seed:#x}); the first:\n{}\n\
         log:\n{}",
        t.failed,
        which.name(),
        t.failures.join("\n"),
        tail(&started.node.log(), 3000)
    );
    crate::assert_unchanged(&before, &after);
    trio.assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_refuses_bad_input_without_writing() {
    run_corpus(Which::Catalog).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_refuse_bad_input_without_writing() {
    run_corpus(Which::Orders).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_refuses_bad_input_without_writing() {
    run_corpus(Which::Search).await;
}

/// Whether `body` would pass the route's own checks: the corpus must never send such a body
/// as its only defect.
fn passes_validation(op: &str, body: &[u8]) -> bool {
    use contracts::catalog::{
        BatchGetRequest, MAX_BATCH_IDS, MAX_STOCK, ProductInput, ProductPatch, ReservationRequest,
        StockChange,
    };
    use contracts::orders::CreateOrder;
    // Larger bodies are refused whole (413), before anything reads them.
    if body.len() > 256 * 1024 {
        return false;
    }
    match op {
        "PUT /v1/products/{id}" => {
            serde_json::from_slice::<ProductInput>(body).is_ok_and(|p| p.validate().is_ok())
        }
        "PATCH /v1/products/{id}" => {
            serde_json::from_slice::<ProductPatch>(body).is_ok_and(|p| p.validate().is_ok())
        }
        "PATCH /v1/products/{id}/stock" => serde_json::from_slice::<StockChange>(body)
            .is_ok_and(|c| c.delta != 0 && c.delta.unsigned_abs() <= MAX_STOCK),
        "POST /v1/reservations" => {
            serde_json::from_slice::<ReservationRequest>(body).is_ok_and(|r| r.validate().is_ok())
        }
        "POST /v1/orders" => {
            serde_json::from_slice::<CreateOrder>(body).is_ok_and(|o| o.validated_items().is_ok())
        }
        "POST /v1/products:batchGet" => {
            serde_json::from_slice::<BatchGetRequest>(body).is_ok_and(|b| {
                !b.ids.is_empty()
                    && b.ids.len() <= MAX_BATCH_IDS
                    && b.ids.iter().all(|id| is_valid_id(id))
            })
        }
        _ => false,
    }
}

#[test]
fn the_generator_never_drafts_a_valid_body_as_the_only_defect() {
    let ops = [
        ("PUT", "/v1/products/{id}"),
        ("PATCH", "/v1/products/{id}"),
        ("PATCH", "/v1/products/{id}/stock"),
        ("POST", "/v1/reservations"),
        ("POST", "/v1/orders"),
        ("POST", "/v1/products:batchGet"),
    ];
    let existing = Existing {
        order: "ord-1".into(),
    };
    for (method, path) in ops {
        let op = Operation {
            method: method.into(),
            path: path.into(),
            scope: Some("any".into()),
            path_methods: vec![method.into()],
        };
        let spec = spec(&op).unwrap();
        let (template, _) = spec.body.as_ref().unwrap();
        assert!(
            passes_validation(&op.label(), &serde_json::to_vec(template).unwrap()),
            "the template of {} must be valid, so that only the defect is refused",
            op.label()
        );
        let body_families: Vec<&str> = families(&op, &spec)
            .into_iter()
            .filter(|f| {
                !matches!(
                    *f,
                    "path_shape"
                        | "wrong_method"
                        | "transport"
                        | "bad_path_id"
                        | "bad_header"
                        | "content_type"
                )
            })
            .collect();
        let mut rng = Rng::for_case(DEFAULT_SEED, 99, 0);
        for i in 0..1_500 {
            let family = *rng.pick(&body_families);
            let Some((draft, _)) = draft(&mut rng, family, &op, &spec, &existing) else {
                continue;
            };
            let body = draft.body.unwrap_or_default();
            assert!(
                !passes_validation(&op.label(), &body),
                "draw {i} of {family} on {} is a valid body: {}",
                op.label(),
                String::from_utf8_lossy(&body[..body.len().min(500)])
            );
        }
    }
}
