//! Defects in the query string: unknown parameters, values out of range or of the wrong
//! kind, broken percent-encoding, parameters given twice; valid values at the edges of their
//! ranges; and search's query syntax, valid or not.

use system_tests::Rng;

use super::cases::{Draft, Expect, encode};
use super::paths::{bad_id, is_valid_id};
use super::spec::{Kind, Param, Spec};

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
            1 => (0..max + 1 + rng.index(300))
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
        Kind::Text { max, .. } if rng.chance(50) => "q".repeat(rng.size(max + 1, max * 4)),
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
            (min + rng.next_u64() % (hi - min + 1)).to_string()
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
    let n = rng.size(1, 12);
    (0..n).map(|_| *rng.pick(PIECES)).collect()
}

/// A valid query broken by `family` (`query_unknown`, `query_value`, `query_encoding`,
/// `query_duplicate`); returns what the answer must look like.
pub(super) fn broken_query(rng: &mut Rng, family: &str, spec: &Spec, d: &mut Draft) -> Expect {
    let mut expect = Expect::Refused;
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
                rng.index(pairs.len() + 1),
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
    expect
}

/// Valid values at the edges of their ranges (`query_edges`).
pub(super) fn edges(rng: &mut Rng, spec: &Spec, d: &mut Draft) {
    // Harmless reads that must not trip an overflow or an off-by-one.
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
                .map(|i| format!("{}{i}", "i".repeat(rng.size(1, 60))))
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

/// A search query of random words and query syntax (`query_syntax`).
pub(super) fn search_syntax(rng: &mut Rng, d: &mut Draft) {
    let mut query = format!("q={}", encode(query_syntax(rng).as_bytes()));
    if rng.chance(30) {
        query.push_str(&format!(
            "&limit={}&offset={}",
            rng.size(1, 100),
            rng.size(0, 10_000)
        ));
    }
    if rng.chance(20) {
        query.push_str("&category=kitchen");
    }
    d.query = query;
}
