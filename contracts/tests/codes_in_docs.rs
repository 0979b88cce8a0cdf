//! The error codes of the API documents and [`Code`] stay in step: every code the system
//! answers with is in an error table of the docs, with its status, and every code of those
//! tables is one of [`Code`].
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;

use contracts::Code;

/// The documents whose `| status | code | when |` tables list the codes clients see.
const DOCS: [&str; 4] = [
    "catalog-api.md",
    "order-api.md",
    "search-api.md",
    "composer.md",
];

/// Every (code text, status) of the error tables, with the file that lists it.
fn documented() -> Vec<(String, u16, &'static str)> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut found = Vec::new();
    for name in DOCS {
        let text = std::fs::read_to_string(docs.join(name)).unwrap();
        let mut in_file = 0;
        for line in text.lines() {
            // A row of an error table: `| 409 | `a`, `b` | when |`.
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, status, codes, ..] = cells.as_slice() else {
                continue;
            };
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            for code in codes.split('`').skip(1).step_by(2) {
                found.push((code.to_owned(), status, name));
                in_file += 1;
            }
        }
        assert!(in_file > 0, "{name} has no error table");
    }
    found
}

#[test]
fn every_documented_code_is_a_code_with_the_documented_status() {
    for (text, status, file) in documented() {
        let code = text
            .parse::<Code>()
            .unwrap_or_else(|e| panic!("{file}: {e}; add it to contracts::Code"));
        assert_eq!(
            code.status(),
            status,
            "{file} lists `{text}` as {status}, contracts::Code says {}",
            code.status()
        );
    }
}

#[test]
fn every_code_is_documented() {
    let mut where_listed: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (text, _, file) in documented() {
        where_listed.entry(text).or_default().push(file);
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !where_listed.contains_key(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes in no error table of docs/{DOCS:?}: {missing:?}"
    );
}
