//! catalog-node: a backup taken while writers run is exactly the catalog at its seq.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use system_tests::backup::{self, demo_catalog, listing};
use system_tests::{Client, product};

use crate::{Stop, WRITES_AROUND_BACKUP};

/// Writers running at once during the backup.
const WRITERS: usize = 4;
/// Demo products each writer changes (its own, so that few of its writes hit a deleted one).
const PER_WRITER: usize = 40;

/// Every product of the catalog by id, and the first page's `head_seq`.
async fn all_products(client: &Client) -> (BTreeMap<String, Value>, u64) {
    let mut out = BTreeMap::new();
    let mut after: Option<String> = None;
    let mut head = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/products?limit=1000&after={a}"),
            None => "/v1/products?limit=1000".to_owned(),
        };
        let page = client.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        head.get_or_insert(page.body["head_seq"].as_u64().unwrap());
        for p in page.body["products"].as_array().unwrap() {
            out.insert(p["id"].as_str().unwrap().to_owned(), p.clone());
        }
        match page.body["next_after"].as_str() {
            Some(a) => after = Some(a.to_owned()),
            None => return (out, head.unwrap()),
        }
    }
}

/// One acknowledged write: its seq, the product, and its state afterwards (`None`: deleted).
type Write = (u64, String, Option<Value>);

/// Changes `ids` in turn (stock up, a new price, a delete, a re-create) until `stop`;
/// returns every acknowledged write.
async fn write_until(admin: Client, ids: Vec<String>, stop: Stop) -> Vec<Write> {
    let mut done = Vec::new();
    let mut round = 0u64;
    while !stop.is_set() {
        for (i, id) in ids.iter().enumerate() {
            let path = format!("/v1/products/{id}");
            let step = (round + i as u64) % 4;
            let r = match step {
                0 => {
                    admin
                        .patch(&format!("{path}/stock"), &json!({"delta": 1}))
                        .await
                }
                1 => {
                    admin
                        .put(&path, &product(&format!("Changed {id}"), 100 + round, 7))
                        .await
                }
                2 => admin.delete(&path).await,
                _ => {
                    admin
                        .put(&path, &product(&format!("Back {id}"), 200 + round, 3))
                        .await
                }
            };
            match r.status.as_u16() {
                200 | 201 => done.push((r.seq(), id.clone(), Some(r.body.clone()))),
                204 => done.push((r.seq(), id.clone(), None)),
                // A stock change of a product deleted in an earlier round changes nothing.
                404 => {}
                other => panic!("{id} step {step}: {other} {}", r.text),
            }
            if stop.is_set() {
                break;
            }
        }
        round += 1;
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_restores_the_catalog_at_its_seq() {
    let (mut cat, _data) = demo_catalog().await;
    let admin = cat.as_role("admin");
    let (initial, head) = all_products(&admin).await;
    assert_eq!(initial.len(), 3000);

    let stop = Stop::default();
    let ids: Vec<String> = initial.keys().take(WRITERS * PER_WRITER).cloned().collect();
    let writers: Vec<_> = ids
        .chunks(PER_WRITER)
        .map(|chunk| tokio::spawn(write_until(admin.clone(), chunk.to_vec(), stop.clone())))
        .collect();
    tokio::time::sleep(WRITES_AROUND_BACKUP).await;

    let out = cat.dir.path().join("catalog.backup");
    let token = cat.callers.token("operator");
    let run = backup::backup("catalog-node", cat.node.base(), &token, &out).await;
    run.expect_ok("catalog-node backup");
    let seq = run.point("seq");
    tokio::time::sleep(WRITES_AROUND_BACKUP).await;
    stop.now();
    let mut writes: Vec<Write> = Vec::new();
    for w in writers {
        writes.extend(w.await.unwrap());
    }
    writes.sort_by_key(|(s, _, _)| *s);
    assert!(
        writes.iter().any(|(s, _, _)| *s <= seq) && writes.iter().any(|(s, _, _)| *s > seq),
        "the backup (seq {seq}) must fall among the writes ({} of them, seqs {:?}..{:?})",
        writes.len(),
        writes.first().map(|w| w.0),
        writes.last().map(|w| w.0)
    );
    assert!(
        seq > head,
        "the backup includes writes made after the import"
    );

    // What the catalog held at `seq`: the initial state with every write up to it applied.
    let mut expected = initial.clone();
    for (s, id, state) in writes.iter().filter(|(s, _, _)| *s <= seq) {
        assert!(*s > head, "a write older than the initial read");
        match state {
            Some(p) => expected.insert(id.clone(), p.clone()),
            None => expected.remove(id),
        };
    }

    let code = cat.node.terminate().await;
    assert_eq!(code, Some(0), "catalog-node stops cleanly");
    let data = cat.node.data_dir().to_owned();
    std::fs::remove_dir_all(&data).unwrap();
    let restored = backup::restore("catalog-node", &out, &data, false).await;
    restored.expect_ok("catalog-node restore");
    assert_eq!(restored.point("seq"), seq);
    assert!(
        !listing(data.parent().unwrap())
            .iter()
            .any(|n| n.contains("restoring")),
        "no staging directory is left behind"
    );
    cat.node.restart().await;

    let (now, page_head) = all_products(&admin).await;
    assert_eq!(page_head, seq);
    assert_eq!(now.len(), expected.len());
    for (id, want) in &expected {
        assert_eq!(
            now.get(id),
            Some(want),
            "product {id} differs from seq {seq}"
        );
    }
    let ready = cat.node.client(None).get("/readyz").await;
    assert_eq!(ready.body["details"]["durable_seq"], seq, "{}", ready.text);

    // The feed resumes from the same point: nothing past `seq`, and new writes follow it.
    let feed = cat
        .as_role("search-node")
        .get("/v1/events?after=0&limit=5000")
        .await;
    assert_eq!(feed.body["head_seq"], seq, "{}", feed.text);
    let next = admin
        .put("/v1/products/after-restore", &product("New", 1, 1))
        .await;
    assert_eq!(next.status, 201, "{}", next.text);
    assert_eq!(next.seq(), seq + 1);
}
