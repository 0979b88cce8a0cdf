//! Damaged backups given to each node's `restore`: every one is refused with a clear message
//! and a plain failure exit, never an abort (a damaged length once made bincode ask for
//! exabytes), and nothing is written. The archive reader itself takes 10,000 damaged archives
//! in process in chassis's unit tests; this runs the real binaries on real backups.

use std::path::Path;

use system_tests::backup::{backup, restore};
use system_tests::{Rng, product};

use crate::system::System;

fn cases() -> usize {
    if crate::long() { 2_000 } else { 150 }
}

fn damage(rng: &mut Rng, good: &[u8]) -> Vec<u8> {
    let mut bad = good.to_vec();
    for _ in 0..=rng.below(3) {
        if bad.is_empty() {
            break;
        }
        let at = rng.index(bad.len());
        match rng.below(6) {
            0 => bad[at] ^= 1 << rng.below(8),
            1 => bad[at] = u8::try_from(rng.below(256)).unwrap(),
            2 => bad.truncate(at),
            3 => bad.insert(at, u8::try_from(rng.below(256)).unwrap()),
            4 => {
                bad.remove(at);
            }
            _ => {
                let end = (at + 4).min(bad.len());
                let huge = (u32::try_from(rng.below(1 << 31)).unwrap() | 0x8000_0000).to_le_bytes();
                let n = end - at;
                bad[at..end].copy_from_slice(&huge[..n]);
            }
        }
    }
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_backups_are_refused_by_every_node_without_an_abort() {
    let _serial = crate::SERIAL.lock().await;
    let system = System::start(&[], None).await;
    let admin = system.catalog_admin();
    for i in 0..30 {
        let reply = admin
            .put(
                &format!("/v1/products/dmg-{i}"),
                &product("Damaged goods", 100 + i, 50),
            )
            .await;
        assert!(reply.status.is_success(), "{}", reply.text);
    }
    let shop = system.shop();
    for i in 0..10 {
        let reply = shop
            .post(
                "/v1/orders",
                &system_tests::orders::order_body(&format!("dmg-c{i}"), &[("dmg-1", 1)]),
            )
            .await;
        assert!(reply.status.is_success(), "{}", reply.text);
    }
    let dir = tempfile::tempdir().unwrap();
    for (bin, base, token) in [
        (
            "catalog-node",
            system.catalog.base(),
            system.catalog_callers.token("operator"),
        ),
        (
            "order-node",
            system.orders.base(),
            system.order_callers.token("operator"),
        ),
        (
            "search-node",
            system.search.base(),
            system.search_callers.token("operator"),
        ),
    ] {
        let good = dir.path().join(format!("{bin}.backup"));
        let taken = backup(bin, base, &token, &good).await;
        assert!(taken.ok, "{bin} backup failed: {}", taken.stderr);
        let bytes = std::fs::read(&good).unwrap();
        let mut rng = Rng::derive(0x00da_3a6e, bin.len() as u64);
        let mut refused = 0;
        for case in 0..cases() {
            let bad = damage(&mut rng, &bytes);
            if bad == bytes {
                continue;
            }
            let file = dir.path().join(format!("{bin}-{case}.backup"));
            std::fs::write(&file, &bad).unwrap();
            let target = dir.path().join(format!("{bin}-{case}-data"));
            let run = restore(bin, &file, &target, false).await;
            assert!(!run.ok, "{bin} case {case}: a damaged archive was restored");
            assert!(
                run.code == Some(1),
                "{bin} case {case}: restore ended with {:?} (an abort or a signal?):\n{}",
                run.code,
                run.stderr
            );
            assert!(
                run.stderr.contains("archive") || run.stderr.contains("backup"),
                "{bin} case {case}: unclear refusal:\n{}",
                run.stderr
            );
            assert!(
                empty_or_absent(&target),
                "{bin} case {case}: restore wrote into {}",
                target.display()
            );
            std::fs::remove_file(&file).unwrap();
            refused += 1;
        }
        eprintln!("{bin}: {refused} damaged archives refused, none aborted");
    }
}

fn empty_or_absent(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
}
