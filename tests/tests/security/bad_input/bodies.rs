//! Defects in the JSON body: not JSON, not UTF-8, wrong types, missing, unknown or duplicate
//! fields, values out of range, injection-shaped strings, batches past their limit, and
//! content types that are not JSON.

use serde_json::{Map, Value, json};
use system_tests::Rng;

use super::cases::{Draft, Existing, draft};
use super::paths::{INJECTIONS, bad_id, is_valid_id};
use super::runner::DEFAULT_SEED;
use super::spec::{Field, Kind, families, spec};
use crate::{Operation, PRODUCTS};

/// A value of `kind` that its validation refuses (a JSON value of the right type, or of a
/// wrong one).
fn bad_value(rng: &mut Rng, kind: Kind) -> Value {
    match kind {
        Kind::Id => json!(bad_id(rng)),
        Kind::Text { min, max } => match rng.below(3) {
            0 => json!("x".repeat(max + 1 + rng.index(50))),
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
                (0..max + 1 + rng.index(500))
                    .map(|i| format!("id-{i}"))
                    .collect::<Vec<_>>()
            ),
            2 => {
                let mut ids: Vec<Value> = PRODUCTS.iter().map(|p| json!(p)).collect();
                let at = rng.index(ids.len() + 1);
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
                (0..max + 1 + rng.index(200))
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
pub(super) fn bad_body(
    rng: &mut Rng,
    family: &str,
    template: &Value,
    fields: &[Field],
) -> Option<Vec<u8>> {
    let map = template.as_object()?.clone();
    let mut body = map.clone();
    let chosen = *rng.pick(fields);
    let out = match family {
        "not_json" => {
            let valid = serde_json::to_vec(template).ok()?;
            match rng.below(8) {
                0 => valid[..rng.index(valid.len())].to_vec(),
                1 => [valid.as_slice(), b"}garbage"].concat(),
                2 => (0..rng.size(1, 300))
                    .map(|_| rng.next_u64() as u8)
                    .collect(),
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
                    let depth = rng.size(200, 50_000);
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
                        rng.size(max + 1, max * 3)
                    } else {
                        rng.size(20_000, 60_000)
                    };
                    json!((0..n).map(|i| format!("id-{i}")).collect::<Vec<_>>())
                }
                ("huge_batch", Kind::Items { max }) => {
                    let n = if rng.chance(70) {
                        rng.size(max + 1, max * 2)
                    } else {
                        rng.size(8_000, 20_000)
                    };
                    json!(
                        (0..n)
                            .map(|i| json!({"product_id": format!("p-{i}"), "qty": 1}))
                            .collect::<Vec<_>>()
                    )
                }
                ("huge_batch", Kind::Text { max, .. }) => {
                    json!("x".repeat(rng.size(max + 1, 400_000)))
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

/// A `Content-Type` that is not JSON, or none (`content_type`).
pub(super) fn bad_content_type(rng: &mut Rng, d: &mut Draft) {
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
                // Query defects come with a valid body by design.
                !f.starts_with("query_")
                    && !matches!(
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
