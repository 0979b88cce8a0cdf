//! A data directory of layout v1 (the first answer to each `Idempotency-Key` kept as an HTTP
//! status and error body) is upgraded to layout v2 (the answer as a domain outcome) at
//! start-up, and every retry is answered exactly as before: same status, same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use contracts::orders::{CreateOrder, OrderItem};
use order_node::service::{Actor, fingerprint, scoped_key};
use order_node::store::migrate::{V1Placement, write_v1_store};
use order_node::store::records::{LineRecord, OrderRecord, StoredResponseV1, StoredStatus};
use reqwest::Method;
use serde_json::json;
use system_tests::orders::ORDER_ROLES;
use system_tests::{Callers, Node, NodeSpec};

/// One order a v1 build placed with an `Idempotency-Key`, and what it first answered.
struct Case {
    key: &'static str,
    order_id: &'static str,
    product: &'static str,
    status: StoredStatus,
    reason: Option<&'static str>,
    /// The stored status and error body, as v1 kept them.
    first: Option<(u16, Option<&'static str>)>,
    /// What a retry must answer: status, and the exact body when it is an error.
    retry: (u16, Option<&'static str>),
}

const CUSTOMER: &str = "vera";
const QTY: u32 = 5;

const INSUFFICIENT: &str = r#"{"error":{"code":"insufficient_stock","message":"not enough stock for: lamp","short_items":[{"product_id":"lamp","requested":5,"available":2}]}}"#;
const UNKNOWN: &str = r#"{"error":{"code":"unknown_products","message":"no such products: gone","missing_ids":["gone"]}}"#;
const RELEASED: &str =
    r#"{"error":{"code":"order_rejected","message":"the reservation was already released"}}"#;
const GIVEN_UP: &str = r#"{"error":{"code":"order_rejected","message":"the order was rejected: the catalog did not confirm the reservation in time"}}"#;

fn cases() -> Vec<Case> {
    vec![
        Case {
            key: "k-stock",
            order_id: "ord-v1-stock",
            product: "lamp",
            status: StoredStatus::Rejected,
            reason: Some("insufficient stock: lamp"),
            first: Some((409, Some(INSUFFICIENT))),
            retry: (409, Some(INSUFFICIENT)),
        },
        Case {
            key: "k-unknown",
            order_id: "ord-v1-unknown",
            product: "gone",
            status: StoredStatus::Rejected,
            reason: Some("products no longer exist: gone"),
            first: Some((422, Some(UNKNOWN))),
            retry: (422, Some(UNKNOWN)),
        },
        Case {
            key: "k-released",
            order_id: "ord-v1-released",
            product: "lamp",
            status: StoredStatus::Rejected,
            reason: Some("the reservation was already released"),
            first: Some((409, Some(RELEASED))),
            retry: (409, Some(RELEASED)),
        },
        Case {
            key: "k-confirmed",
            order_id: "ord-v1-confirmed",
            product: "lamp",
            status: StoredStatus::Confirmed,
            reason: None,
            first: Some((201, None)),
            retry: (201, None),
        },
        // First answered 202 while the catalog was away, confirmed by the saga since.
        Case {
            key: "k-late",
            order_id: "ord-v1-late",
            product: "lamp",
            status: StoredStatus::Confirmed,
            reason: None,
            first: Some((202, None)),
            retry: (202, None),
        },
        // The first request ended before its answer was recorded; the saga gave the order up.
        Case {
            key: "k-unanswered",
            order_id: "ord-v1-unanswered",
            product: "lamp",
            status: StoredStatus::Rejected,
            reason: Some("the catalog did not confirm the reservation in time"),
            first: None,
            retry: (409, Some(GIVEN_UP)),
        },
    ]
}

fn request(product: &str) -> CreateOrder {
    CreateOrder {
        customer_id: CUSTOMER.into(),
        items: vec![OrderItem {
            product_id: product.into(),
            qty: QTY,
        }],
    }
}

fn placement(case: &Case, caller: &str) -> V1Placement {
    // Recent: keys older than the idempotency TTL are expired as the node starts.
    let at = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    V1Placement {
        order_id: case.order_id.into(),
        order: OrderRecord {
            customer_id: CUSTOMER.into(),
            status: case.status,
            reason: case.reason.map(str::to_owned),
            lines: vec![LineRecord {
                product_id: case.product.into(),
                name: format!("{} name", case.product),
                unit_price_minor: 1200,
                qty: QTY,
            }],
            total_minor: 1200 * u64::from(QTY),
            currency: "EUR".into(),
            created_ms: at,
            updated_ms: at,
            seq: 0,
            placed_by: None,
            cancelled_by: None,
        },
        key: scoped_key(
            &Actor {
                caller: caller.into(),
                end_user: None,
            },
            case.key,
        ),
        fingerprint: fingerprint(&request(case.product)),
        response: case.first.map(|(status, body)| StoredResponseV1 {
            status,
            error_body: body.map(|b| b.as_bytes().to_vec()),
        }),
    }
}

fn write_fixture(data: &Path, caller: &str) {
    std::fs::create_dir_all(data).unwrap();
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let placements: Vec<V1Placement> = cases().iter().map(|c| placement(c, caller)).collect();
    write_v1_store(data, &placements).unwrap();
}

async fn retries_answer_as_the_first_answers(node: &Node, callers: &Callers) {
    let shop = node.client(Some(callers.token("shop")));
    for case in cases() {
        let body =
            json!({"customer_id": CUSTOMER, "items": [{"product_id": case.product, "qty": QTY}]});
        let again = shop
            .send(
                Method::POST,
                "/v1/orders",
                Some(&body),
                &[("idempotency-key", case.key)],
            )
            .await;
        let (status, error) = case.retry;
        assert_eq!(
            again.status.as_u16(),
            status,
            "{}: {}",
            case.key,
            again.text
        );
        assert_eq!(
            again.header("location").as_deref(),
            Some(format!("/v1/orders/{}", case.order_id).as_str()),
            "{}",
            case.key
        );
        match error {
            Some(bytes) => assert_eq!(again.text, bytes, "{}", case.key),
            None => {
                assert_eq!(again.body["id"], case.order_id, "{}", case.key);
                assert_eq!(again.body["status"], "confirmed", "{}", case.key);
            }
        }
        // The same key with another body is still refused: the fingerprint came across.
        let reused = shop
            .send(
                Method::POST,
                "/v1/orders",
                Some(&json!({"customer_id": CUSTOMER, "items": [{"product_id": case.product, "qty": 1}]})),
                &[("idempotency-key", case.key)],
            )
            .await;
        assert_eq!(
            (reused.status.as_u16(), reused.code()),
            (422, "idempotency_key_reused"),
            "{}: {}",
            case.key,
            reused.text
        );
    }
    let rejected = shop.get("/v1/orders/ord-v1-stock").await;
    assert_eq!(rejected.body["status"], "rejected", "{}", rejected.text);
    assert_eq!(rejected.body["status_reason"], "insufficient stock: lamp");
}

#[tokio::test]
async fn a_v1_data_directory_answers_retries_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let callers = Callers::write(dir.path(), ORDER_ROLES);
    let data = dir.path().join("orders-data");
    write_fixture(&data, "shop");

    let callers_path = callers.path.to_string_lossy().into_owned();
    // Replays never reach the catalog and every order here is settled, so none is needed.
    let spec = NodeSpec::new(
        PathBuf::from(env!("CARGO_BIN_EXE_order-node")),
        &data,
        &dir.path().join("orders.log"),
        &[
            "--callers",
            &callers_path,
            "--catalog-url",
            "http://127.0.0.1:9",
        ],
    )
    .with_catalog_token("unused-catalog-token-0123456789");
    let mut node = Node::start(spec).await;
    assert!(
        node.log().contains("store layout upgraded"),
        "{}",
        node.log()
    );
    retries_answer_as_the_first_answers(&node, &callers).await;

    // Upgraded for good: after a restart nothing is upgraded again, and retries still
    // answer as the first answers did.
    node.terminate().await;
    let upgrades_before = node.log().matches("store layout upgraded").count();
    node.restart().await;
    retries_answer_as_the_first_answers(&node, &callers).await;
    assert_eq!(
        node.log().matches("store layout upgraded").count(),
        upgrades_before
    );
}
