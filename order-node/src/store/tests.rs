use prometheus_client::metrics::histogram::Histogram;

use super::records::{LineRecord, OrderRecord, StoredAnswer, StoredStatus};
use super::writer::Writer;
use super::writes::{self, CreateOutcome, TransitionOutcome};
use super::*;

fn order(customer: &str, at: u64) -> OrderRecord {
    OrderRecord {
        customer_id: customer.into(),
        status: StoredStatus::Pending,
        reason: None,
        lines: vec![LineRecord {
            product_id: "p".into(),
            name: "P".into(),
            unit_price_minor: 100,
            qty: 2,
        }],
        total_minor: 200,
        currency: "EUR".into(),
        created_ms: at,
        updated_ms: at,
        seq: 0,
        placed_by: Some(super::records::ActorRecord {
            caller: "shop".into(),
            end_user: Some(customer.into()),
        }),
        cancelled_by: None,
    }
}

fn open() -> (tempfile::TempDir, Store, Writer) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let writer = Writer::start(&store, Histogram::new([1.0]));
    (dir, store, writer)
}

async fn create(
    writer: &Writer,
    id: &str,
    record: OrderRecord,
    key: Option<(&str, [u8; 32])>,
) -> CreateOutcome {
    let id = id.to_owned();
    let key = key.map(|(k, f)| (k.to_owned(), f));
    writer
        .write(move |txn| {
            writes::create(
                txn,
                &id,
                record,
                key.as_ref().map(|(k, f)| (k.as_str(), *f)),
            )
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn orders_are_indexed_per_customer_newest_first() {
    let (_d, store, writer) = open();
    for i in 0..5 {
        create(&writer, &format!("a{i}"), order("alice", i), None).await;
        create(&writer, &format!("b{i}"), order("bob", i), None).await;
    }
    let page = store.orders_of_customer("alice", None, 3).unwrap();
    let ids: Vec<&str> = page.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["a4", "a3", "a2"]);
    let rest = store
        .orders_of_customer("alice", Some(page[2].1.seq), 10)
        .unwrap();
    let ids: Vec<&str> = rest.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["a1", "a0"]);
    assert!(
        store
            .orders_of_customer("carol", None, 10)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn unsettled_follows_the_status() {
    let (_d, store, writer) = open();
    create(&writer, "o1", order("c", 1), None).await;
    assert_eq!(store.unsettled().unwrap(), ["o1"]);
    let moved = writer
        .write(|txn| {
            writes::transition(
                txn,
                "o1",
                &[StoredStatus::Pending],
                StoredStatus::Confirmed,
                None,
                2,
                None,
            )
        })
        .await
        .unwrap();
    assert!(
        matches!(moved, TransitionOutcome::Moved(ref r) if r.status == StoredStatus::Confirmed)
    );
    assert!(store.unsettled().unwrap().is_empty());
    let again = writer
        .write(|txn| {
            writes::transition(
                txn,
                "o1",
                &[StoredStatus::Pending],
                StoredStatus::Rejected,
                None,
                3,
                None,
            )
        })
        .await
        .unwrap();
    assert!(
        matches!(again, TransitionOutcome::Unchanged(ref r) if r.status == StoredStatus::Confirmed)
    );
    let missing = writer
        .write(|txn| {
            writes::transition(
                txn,
                "nope",
                &[StoredStatus::Pending],
                StoredStatus::Rejected,
                None,
                3,
                None,
            )
        })
        .await;
    assert!(matches!(missing, Err(StoreError::OrderNotFound(_))));
}

#[tokio::test]
async fn idempotency_keys_are_taken_once_and_expire() {
    let (_d, store, writer) = open();
    let first = create(&writer, "o1", order("c", 10), Some(("k", [1; 32]))).await;
    assert!(matches!(first, CreateOutcome::Created(_)));
    let second = create(&writer, "o2", order("c", 11), Some(("k", [2; 32]))).await;
    match second {
        CreateOutcome::KeyTaken(record) => assert_eq!(
            (record.order_id.as_str(), record.fingerprint),
            ("o1", [1; 32])
        ),
        other => panic!("{other:?}"),
    }
    assert!(store.order("o2").unwrap().is_none());
    writer
        .write(|txn| writes::record_answer(txn, "k", StoredAnswer::Confirmed))
        .await
        .unwrap();
    assert_eq!(
        store.idempotency("k").unwrap().unwrap().answer,
        Some(StoredAnswer::Confirmed)
    );
    assert_eq!(
        writer
            .write(|txn| writes::expire_keys(txn, 10))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        writer
            .write(|txn| writes::expire_keys(txn, 11))
            .await
            .unwrap(),
        1
    );
    assert!(store.idempotency("k").unwrap().is_none());
}

#[tokio::test]
async fn concurrent_writes_all_land_with_distinct_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let batches = Histogram::new([1.0]);
    let writer = Writer::start(&store, batches.clone());
    let writes = (0..200).map(|i| {
        let writer = writer.clone();
        async move { create(&writer, &format!("o{i}"), order("c", i), None).await }
    });
    futures::future::join_all(writes).await;
    assert_eq!(store.order_count().unwrap(), 200);
    let seqs: std::collections::HashSet<u64> = (0..200)
        .map(|i| store.order(&format!("o{i}")).unwrap().unwrap().seq)
        .collect();
    assert_eq!(seqs.len(), 200, "every order got its own seq");
}

#[test]
fn a_second_open_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    match Store::open(dir.path()) {
        Err(e @ StoreError::Locked { .. }) => {
            assert!(e.to_string().contains("in use by another process"))
        }
        Err(other) => panic!("unexpected {other}"),
        Ok(_) => panic!("opened twice"),
    }
}

#[tokio::test]
async fn a_copy_holds_every_table_at_one_commit() {
    use storage::archive::{ArchiveReader, ArchiveWriter, Header, Point};
    let (dir, store, writer) = open();
    for i in 0..50 {
        let key = format!("key-{i}");
        create(
            &writer,
            &format!("o{i}"),
            order("alice", i),
            Some((&key, [7; 32])),
        )
        .await;
    }
    let commits = store.commits().unwrap();
    assert!((1..=50).contains(&commits), "{commits}");

    let mut file = tempfile::tempfile().unwrap();
    assert_eq!(store.copy_into(file.try_clone().unwrap()).unwrap(), commits);
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).unwrap();
    let header = Header {
        kind: "orders".into(),
        point: Point {
            name: "commit".into(),
            value: commits,
        },
        created_ms: 0,
        producer: "test".into(),
    };
    let mut w = ArchiveWriter::new(Vec::new(), header).unwrap();
    w.file(DB_FILE, file).unwrap();
    let (bytes, _) = w.finish().unwrap();

    let restored_dir = dir.path().join("restored");
    std::fs::create_dir(&restored_dir).unwrap();
    let mut r = ArchiveReader::open_kind(&bytes[..], "orders").unwrap();
    let copy = snapshot::import(&restored_dir, &mut r).unwrap();
    r.finish().unwrap();
    assert_eq!(copy.commits().unwrap(), commits);
    assert_eq!(copy.check_orders().unwrap(), 50);
    assert_eq!(copy.order("o7").unwrap(), store.order("o7").unwrap());
    assert_eq!(
        copy.orders_of_customer("alice", None, 100).unwrap(),
        store.orders_of_customer("alice", None, 100).unwrap()
    );
    assert_eq!(copy.unsettled().unwrap(), store.unsettled().unwrap());
    assert_eq!(
        copy.idempotency("key-3").unwrap(),
        store.idempotency("key-3").unwrap()
    );
    assert!(snapshot::in_use(dir.path()), "the live store is open");
    drop(copy);
    assert!(!snapshot::in_use(&restored_dir));
}

#[test]
fn a_damaged_stored_order_is_an_error_not_an_abort() {
    let (_d, store, _writer) = open();
    let good = codec::encode(&order("c", 1)).unwrap();
    let mut huge = vec![good[0], 0xFD];
    huge.extend_from_slice(&(1u64 << 63).to_le_bytes());
    for damaged in [
        huge,
        good[..good.len() / 2].to_vec(),
        vec![good[0]],
        Vec::new(),
    ] {
        let txn = store.db().begin_write().unwrap();
        txn.open_table(ORDERS)
            .unwrap()
            .insert("ord-damaged", damaged.as_slice())
            .unwrap();
        txn.commit().unwrap();
        assert!(
            matches!(store.order("ord-damaged"), Err(StoreError::Codec(_))),
            "{damaged:?} was read as an order"
        );
    }
}

#[test]
fn orders_stored_in_layout_v1_read_as_placed_by_nobody_known() {
    use super::records::OrderRecordV1;
    let (_dir, store, _writer) = open();
    let v1 = OrderRecordV1 {
        customer_id: "alice".into(),
        status: StoredStatus::Confirmed,
        reason: None,
        lines: Vec::new(),
        total_minor: 0,
        currency: "EUR".into(),
        created_ms: 1,
        updated_ms: 2,
        seq: 7,
    };
    let bytes = codec::encode(&v1).unwrap();
    assert_eq!(storage::codec::schema_of(&bytes), Some(1));
    let txn = store.db().begin_write().unwrap();
    txn.open_table(ORDERS)
        .unwrap()
        .insert("old", bytes.as_slice())
        .unwrap();
    txn.commit().unwrap();
    let read = store.order("old").unwrap().unwrap();
    assert_eq!(read, OrderRecord::from(v1));
    assert_eq!(read.placed_by, None);
    // Written back, it is v2.
    assert_eq!(
        storage::codec::schema_of(&codec::encode(&read).unwrap()),
        Some(2)
    );
}

#[test]
fn a_v1_store_is_upgraded_at_open_once_and_for_good() {
    use super::migrate::{V1Placement, write_v1_store};
    use super::records::{IdempotencyRecordV1, ShortItemRecord, StoredRejection, StoredResponseV1};
    let dir = tempfile::tempdir().unwrap();
    let rejected = br#"{"error":{"code":"insufficient_stock","message":"not enough stock for: p","short_items":[{"product_id":"p","requested":2,"available":1}]}}"#;
    let placement = |id: &str, key: &str, response: Option<StoredResponseV1>| V1Placement {
        order_id: id.into(),
        order: order("c", 5),
        key: key.into(),
        fingerprint: [3; 32],
        response,
    };
    write_v1_store(
        dir.path(),
        &[
            placement(
                "o1",
                "k-rejected",
                Some(StoredResponseV1 {
                    status: 409,
                    error_body: Some(rejected.to_vec()),
                }),
            ),
            placement(
                "o2",
                "k-pending",
                Some(StoredResponseV1 {
                    status: 202,
                    error_body: None,
                }),
            ),
            placement("o3", "k-unanswered", None),
            placement(
                "o4",
                "k-garbled",
                Some(StoredResponseV1 {
                    status: 409,
                    error_body: Some(b"{".to_vec()),
                }),
            ),
        ],
    )
    .unwrap();
    let raw = |store: &Store, key: &str| {
        let txn = store.db().begin_read().unwrap();
        let table = txn.open_table(IDEMPOTENCY).unwrap();
        table.get(key).unwrap().unwrap().value().to_vec()
    };
    let schema = |store: &Store| {
        let txn = store.db().begin_read().unwrap();
        let meta = txn.open_table(META).unwrap();
        let value = meta.get(META_SCHEMA).unwrap().unwrap();
        codec::decode::<records::Counter>(value.value()).unwrap().0
    };

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(schema(&store), CURRENT_SCHEMA);
    let answer = |key: &str| store.idempotency(key).unwrap().unwrap();
    let first = answer("k-rejected");
    assert_eq!(
        (first.order_id.as_str(), first.fingerprint),
        ("o1", [3; 32])
    );
    assert_eq!(
        first.answer,
        Some(StoredAnswer::Rejected(StoredRejection::InsufficientStock(
            vec![ShortItemRecord {
                product_id: "p".into(),
                requested: 2,
                available: 1,
            }]
        )))
    );
    assert_eq!(answer("k-pending").answer, Some(StoredAnswer::Pending));
    assert_eq!(answer("k-unanswered").answer, None);
    assert_eq!(answer("k-garbled").answer, None);
    assert_eq!(store.order("o1").unwrap(), Some(order_seq("c", 5, 1)));
    let upgraded = raw(&store, "k-rejected");
    assert_eq!(codec::schema_of(&upgraded), Some(2));
    drop(store);

    // A second open finds nothing left to upgrade and changes nothing.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(raw(&store, "k-rejected"), upgraded);
    assert!(codec::decode::<IdempotencyRecordV1>(&upgraded).is_err());
}

#[test]
fn a_store_of_a_newer_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let txn = store.db().begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert(
                META_SCHEMA,
                codec::encode(&records::Counter(CURRENT_SCHEMA + 1))
                    .unwrap()
                    .as_slice(),
            )
            .unwrap();
        txn.commit().unwrap();
    }
    match Store::open(dir.path()) {
        Err(StoreError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (CURRENT_SCHEMA + 1, CURRENT_SCHEMA));
        }
        Err(other) => panic!("unexpected {other}"),
        Ok(_) => panic!("opened a store of a newer layout"),
    }
}

fn order_seq(customer: &str, at: u64, seq: u64) -> OrderRecord {
    OrderRecord {
        seq,
        ..order(customer, at)
    }
}

#[test]
fn v1_answers_read_back_into_the_outcomes_they_were_made_from() {
    use super::migrate::answer_of;
    use super::records::{ShortItemRecord, StoredRejection, StoredResponseV1};
    let v1 = |status, body: &[u8]| StoredResponseV1 {
        status,
        error_body: Some(body.to_vec()),
    };
    let rejected = |r| Some(StoredAnswer::Rejected(r));
    assert_eq!(
        answer_of(&v1(
            409,
            br#"{"error":{"code":"insufficient_stock","message":"not enough stock for: a","short_items":[{"product_id":"a","requested":5,"available":2}]}}"#
        )),
        rejected(StoredRejection::InsufficientStock(vec![ShortItemRecord {
            product_id: "a".into(),
            requested: 5,
            available: 2,
        }]))
    );
    assert_eq!(
        answer_of(&v1(
            422,
            br#"{"error":{"code":"unknown_products","message":"no such products: x, y","missing_ids":["x","y"]}}"#
        )),
        rejected(StoredRejection::UnknownProducts(vec!["x".into(), "y".into()]))
    );
    assert_eq!(
        answer_of(&v1(
            409,
            br#"{"error":{"code":"order_rejected","message":"the reservation was already released"}}"#
        )),
        rejected(StoredRejection::ReservationReleased)
    );
    assert_eq!(
        answer_of(&v1(
            409,
            br#"{"error":{"code":"order_rejected","message":"the order was rejected: too late"}}"#
        )),
        rejected(StoredRejection::Settled("too late".into()))
    );
    let plain = |status| StoredResponseV1 {
        status,
        error_body: None,
    };
    assert_eq!(answer_of(&plain(201)), Some(StoredAnswer::Confirmed));
    assert_eq!(answer_of(&plain(202)), Some(StoredAnswer::Pending));
    // What no v1 build stored is dropped (the order's state answers instead), never a failure
    // to open the store.
    assert_eq!(answer_of(&plain(200)), None);
    for junk in [
        &b"not json"[..],
        br#"{"error":{"code":"what_is_this","message":"m"}}"#,
        br#"{"error":{"code":"order_rejected","message":"for no known reason"}}"#,
        // A code whose status is not the one stored beside it.
        br#"{"error":{"code":"unknown_products","message":"m"}}"#,
    ] {
        assert_eq!(
            answer_of(&v1(409, junk)),
            None,
            "{}",
            String::from_utf8_lossy(junk)
        );
    }
}
