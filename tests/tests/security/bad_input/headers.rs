//! Defects in the headers a route checks: `If-Match` on catalog writes, `Idempotency-Key`
//! on order placement.

use system_tests::Rng;

use super::cases::Draft;
use super::spec::{Checked, Spec};
use crate::Operation;

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
        0 => "k".repeat(rng.size(129, 2000)).into_bytes(),
        1 => rng
            .pick(&[&b"a b"[..], b"key\tkey", b"", b"caf\xE9", b"\xFF\xFE"])
            .to_vec(),
        _ => format!("key{}end", rng.pick(&[" ", "\u{e9}", "\u{1f980}"])).into_bytes(),
    }
}

/// A checked header missing or malformed (`bad_header`).
pub(super) fn bad_header(rng: &mut Rng, op: &Operation, spec: &Spec, d: &mut Draft) {
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
