use contracts::catalog::{
    EventKind, ProductInput, ProductPatch, ReservationItem, ReservationRequest, ReservationStatus,
};

use super::*;

fn input(name: &str, stock: u64) -> ProductInput {
    ProductInput {
        name: name.into(),
        description: "d".into(),
        category: "kitchen".into(),
        price_minor: 1000,
        currency: "EUR".into(),
        stock,
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn reservation(id: &str, items: &[(&str, u32)]) -> ReservationRequest {
    ReservationRequest {
        id: id.into(),
        items: items
            .iter()
            .map(|(p, q)| ReservationItem {
                product_id: (*p).into(),
                qty: *q,
            })
            .collect(),
    }
}

#[test]
fn put_then_replace_bumps_version_and_seq() {
    let (_d, store) = open();
    let first = store
        .put_product("a", &input("A", 1), Precondition::None, 1, "test")
        .unwrap();
    assert!(first.created);
    assert_eq!((first.product.version, first.seq), (1, 1));
    let second = store
        .put_product("a", &input("A2", 1), Precondition::Version(1), 2, "test")
        .unwrap();
    assert!(!second.created);
    assert_eq!((second.product.version, second.seq), (2, 2));
    let stale = store.put_product("a", &input("A3", 1), Precondition::Version(1), 3, "test");
    assert!(matches!(
        stale,
        Err(WriteError::Refused(Refusal::VersionMismatch { current: 2 }))
    ));
    assert_eq!(store.product("a").unwrap().unwrap().name, "A2");
    assert_eq!(store.head_seq().unwrap(), 2);
}

#[test]
fn outbox_keeps_the_latest_event_per_product() {
    let (_d, store) = open();
    store
        .put_product("a", &input("A", 5), Precondition::None, 1, "test")
        .unwrap();
    store
        .put_product("b", &input("B", 5), Precondition::None, 1, "test")
        .unwrap();
    store.change_stock("a", -2, 2, "test").unwrap();
    store
        .delete_product("b", Precondition::None, 3, "test")
        .unwrap();
    assert_eq!(store.outbox_len(), 2);
    let events = store.events(0, store.head_seq().unwrap(), 100).unwrap();
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.seq, e.product_id.as_str(), e.kind))
        .collect();
    assert_eq!(
        summary,
        vec![(3, "a", EventKind::Stock), (4, "b", EventKind::Delete)]
    );
    assert_eq!(events[0].product.as_ref().unwrap().stock, 3);
    assert!(events[1].product.is_none());
    // Resuming after 3 yields only the delete; an upper bound hides newer events.
    assert_eq!(store.events(3, 4, 100).unwrap().len(), 1);
    assert!(store.events(0, 2, 100).unwrap().is_empty());
}

#[test]
fn reservations_are_all_or_nothing_and_idempotent() {
    let (_d, store) = open();
    store
        .put_product("a", &input("A", 5), Precondition::None, 1, "test")
        .unwrap();
    store
        .put_product("b", &input("B", 1), Precondition::None, 1, "test")
        .unwrap();
    let short = store.reserve(&reservation("r1", &[("a", 2), ("b", 2)]), 2, "test");
    match short {
        Err(WriteError::Refused(Refusal::InsufficientStock(items))) => {
            assert_eq!(items.len(), 1);
            assert_eq!((items[0].requested, items[0].available), (2, 1));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.product("a").unwrap().unwrap().stock, 5);
    let unknown = store.reserve(&reservation("r1", &[("a", 1), ("zz", 1)]), 2, "test");
    assert!(
        matches!(unknown, Err(WriteError::Refused(Refusal::UnknownProducts(ids))) if ids == ["zz"])
    );

    let held = store
        .reserve(&reservation("r1", &[("a", 2), ("b", 1)]), 3, "test")
        .unwrap();
    assert!(held.created);
    let again = store
        .reserve(&reservation("r1", &[("a", 2), ("b", 1)]), 4, "test")
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.reservation, held.reservation);
    assert!(matches!(
        store.reserve(&reservation("r1", &[("a", 1)]), 4, "test"),
        Err(WriteError::Refused(Refusal::ReservationMismatch(_)))
    ));
    assert_eq!(store.product("a").unwrap().unwrap().stock, 3);
    assert_eq!(store.product("b").unwrap().unwrap().stock, 0);

    let (released, _) = store.release("r1", 5, "test").unwrap();
    assert_eq!(released.status, ReservationStatus::Released);
    let (twice, seq) = store.release("r1", 6, "test").unwrap();
    assert_eq!((twice.status, seq), (ReservationStatus::Released, None));
    assert_eq!(store.product("a").unwrap().unwrap().stock, 5);
    // A released reservation never holds again, even when the request is replayed.
    let replay = store
        .reserve(&reservation("r1", &[("a", 2), ("b", 1)]), 7, "test")
        .unwrap();
    assert_eq!(replay.reservation.status, ReservationStatus::Released);
    assert_eq!(store.product("a").unwrap().unwrap().stock, 5);
}

#[test]
fn stock_never_goes_negative() {
    let (_d, store) = open();
    store
        .put_product("a", &input("A", 1), Precondition::None, 1, "test")
        .unwrap();
    assert!(matches!(
        store.change_stock("a", -2, 2, "test"),
        Err(WriteError::Refused(Refusal::InsufficientStock(_)))
    ));
    assert!(matches!(
        store.change_stock("a", i64::MAX, 2, "test"),
        Err(WriteError::Refused(Refusal::StockOverflow { .. }))
    ));
    assert_eq!(store.change_stock("a", -1, 2, "test").unwrap().0.stock, 0);
}

#[test]
fn patch_changes_only_named_fields() {
    let (_d, store) = open();
    store
        .put_product("a", &input("A", 1), Precondition::None, 1, "test")
        .unwrap();
    let patch = ProductPatch {
        price_minor: Some(5),
        ..Default::default()
    };
    let (p, _) = store
        .patch_product("a", &patch, Precondition::Version(1), 2, "test")
        .unwrap();
    assert_eq!((p.name.as_str(), p.price_minor, p.version), ("A", 5, 2));
}

#[test]
fn expired_tombstones_raise_the_horizon() {
    let (_d, store) = open();
    store
        .put_product("a", &input("A", 1), Precondition::None, 1, "test")
        .unwrap();
    store
        .put_product("b", &input("B", 1), Precondition::None, 1, "test")
        .unwrap();
    let deleted = store
        .delete_product("a", Precondition::None, 10, "test")
        .unwrap();
    assert_eq!(store.prune_tombstones(10).unwrap(), 0);
    assert_eq!(store.prune_tombstones(11).unwrap(), 1);
    assert_eq!(store.horizon().unwrap(), deleted);
    assert_eq!(store.outbox_len(), 1);
}

#[test]
fn v1_stores_are_upgraded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    migrate::write_v1_store(dir.path(), &[("a".into(), input("Old name", 4))]).unwrap();
    let store = reopen(dir.path());
    let product = store.product("a").unwrap().unwrap();
    assert_eq!((product.name.as_str(), product.stock), ("Old name", 4));
    let raw = store.products.get("a").unwrap().unwrap();
    assert_eq!(codec::schema_of(&raw), Some(2));
    drop(store);
    // Opening again is a no-op.
    assert_eq!(
        reopen(dir.path()).product("a").unwrap().unwrap().name,
        "Old name"
    );
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let (dir, _store) = open();
    // sled's lock is per process: a second process is tested end to end; within one process
    // sled refuses too, which is what this checks.
    match Store::open(dir.path()) {
        Err(StoreError::Locked { .. }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("opened twice"),
    }
}

#[test]
fn a_damaged_stored_value_is_an_error_not_an_abort() {
    let (_d, store) = open();
    store
        .put_product("a", &input("A", 1), Precondition::None, 1, "admin")
        .unwrap();
    let good = store.products.get(b"a").unwrap().unwrap().to_vec();
    // The product's tag, then a length prefix claiming 2^63 bytes for its first string.
    let mut huge = vec![good[0], 0xFD];
    huge.extend_from_slice(&(1u64 << 63).to_le_bytes());
    for damaged in [
        huge,
        good[..good.len() / 2].to_vec(),
        vec![good[0]],
        Vec::new(),
    ] {
        store.products.insert(b"a", damaged.clone()).unwrap();
        assert!(
            matches!(store.product("a"), Err(StoreError::Codec(_))),
            "{damaged:?} was read as a product"
        );
    }
}

#[test]
fn every_write_names_its_caller_in_the_audit_trail_and_the_feed() {
    let (_d, store) = open();
    store
        .put_product("a", &input("A", 5), Precondition::None, 1, "admin")
        .unwrap();
    store
        .reserve(&reservation("r1", &[("a", 2)]), 2, "order-node")
        .unwrap();
    store.release("r1", 3, "order-node").unwrap();
    // A refused write leaves no entry.
    assert!(store.change_stock("a", -99, 4, "admin").is_err());
    let audit = store.audit(10).unwrap();
    let summary: Vec<(u64, &str, &str, &str)> = audit
        .iter()
        .map(|(seq, e)| {
            (
                *seq,
                e.caller.as_str(),
                e.action.as_str(),
                e.target.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, "order-node", "reservation.release", "r1"),
            (2, "order-node", "reservation.reserve", "r1"),
            (1, "admin", "product.put", "a"),
        ]
    );
    assert_eq!(store.audit(1).unwrap().len(), 1);
    let events = store.events(0, store.head_seq().unwrap(), 10).unwrap();
    assert_eq!(events.last().unwrap().caller.as_deref(), Some("order-node"));
}

#[test]
fn events_stored_in_layout_v1_read_without_a_caller() {
    use super::records::{EventRecord, EventRecordV1};
    let v1 = EventRecordV1 {
        product_id: "a".into(),
        kind: StoredEventKind::Upsert,
        at_ms: 5,
    };
    let read: EventRecord = codec::decode(&codec::encode(&v1).unwrap()).unwrap();
    assert_eq!(read.caller, None);
    assert_eq!(read.product_id, "a");
}
