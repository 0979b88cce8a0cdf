//! Defects in the request line: ids in the path that no `validate::id` accepts, paths of
//! the wrong shape, and methods the path does not serve.

use super::cases::{Draft, Existing, encode, existing_for};
use crate::Operation;
use system_tests::Rng;

/// Strings shaped like injection attacks; each has a character no id, category or currency
/// allows.
pub(super) const INJECTIONS: &[&str] = &[
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
pub(super) fn bad_id(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => "a".repeat(rng.size(65, 300)),
        1 => String::new(),
        2 => {
            // Random printable ASCII, with at least one character outside the id alphabet.
            let n = rng.size(1, 40);
            let mut s: String = (0..n)
                .map(|_| char::from(b' ' + rng.below(95) as u8))
                .collect();
            let bad = *rng.pick(&[' ', '.', '/', '%', '\'', '"', '<', '{', '\\', '+', '~']);
            let at = rng.index(s.len() + 1);
            s.insert(at, bad);
            s
        }
        _ => (*rng.pick(INJECTIONS)).to_owned(),
    }
}

/// Whether `validate::id` accepts `value`.
pub(super) fn is_valid_id(value: &str) -> bool {
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

/// Breaks the shape of the path (`path_shape`).
pub(super) fn break_path(rng: &mut Rng, d: &mut Draft) {
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

/// A method the path does not serve (`wrong_method`); false when the draw picked one it
/// does (draw again).
pub(super) fn wrong_method(rng: &mut Rng, op: &Operation, d: &mut Draft) -> bool {
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
        return false;
    }
    d.method = method.into();
    true
}

/// One path parameter replaced by a segment no id validation accepts (`bad_path_id`).
pub(super) fn bad_path_id(rng: &mut Rng, op: &Operation, existing: &Existing, d: &mut Draft) {
    let params = op.path.matches('{').count();
    let which = rng.index(params);
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
