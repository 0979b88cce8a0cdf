//! Bad requests: 400 with the error shape, never 500, and nothing changes.

use contracts::search::SearchResponse;
use reqwest::Method;
use system_tests::SearchSystem;
use system_tests::search::{hit_ids, search_path, total};

async fn sys_with_products() -> SearchSystem {
    let sys = SearchSystem::start().await;
    sys.put_product("r1", "Running shoes", "for people who run", "footwear")
        .await;
    let seq = sys
        .put_product("r2", "Trail runners", "grip on mud", "footwear")
        .await;
    let _ = sys.search_after("run", seq).await;
    sys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_refused_with_400() {
    let sys = sys_with_products().await;
    let long = "a".repeat(501);
    let max = "a".repeat(500);
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        ("/v1/search".into(), "invalid_query", None),
        ("/v1/search?limit=3".into(), "invalid_query", None),
        ("/v1/search?q=".into(), "invalid_input", Some("q")),
        (search_path(&[("q", &long)]), "invalid_input", Some("q")),
        ("/v1/search?q=run%00".into(), "invalid_input", Some("q")),
        (
            "/v1/search?q=run&limit=0".into(),
            "invalid_input",
            Some("limit"),
        ),
        (
            "/v1/search?q=run&limit=101".into(),
            "invalid_input",
            Some("limit"),
        ),
        ("/v1/search?q=run&limit=-1".into(), "invalid_query", None),
        ("/v1/search?q=run&limit=ten".into(), "invalid_query", None),
        (
            "/v1/search?q=run&offset=10001".into(),
            "invalid_input",
            Some("offset"),
        ),
        ("/v1/search?q=run&offset=-5".into(), "invalid_query", None),
        (
            "/v1/search?q=run&category=Footwear".into(),
            "invalid_input",
            Some("category"),
        ),
        (
            "/v1/search?q=run&category=".into(),
            "invalid_input",
            Some("category"),
        ),
        (
            "/v1/search?q=run&category=foot%20wear".into(),
            "invalid_input",
            Some("category"),
        ),
        (
            "/v1/search?q=run&wait_ms=10001".into(),
            "invalid_input",
            Some("wait_ms"),
        ),
        ("/v1/search?q=run&min_seq=abc".into(), "invalid_query", None),
        ("/v1/search?q=run&min_seq=-1".into(), "invalid_query", None),
        (
            "/v1/search?q=run&min_seq=18446744073709551616".into(),
            "invalid_query",
            None,
        ),
        ("/v1/search?q=run&foo=1".into(), "invalid_query", None),
        ("/v1/search?q=run&Limit=5".into(), "invalid_query", None),
        ("/v1/search?q=run&q=shoe".into(), "invalid_query", None),
    ];
    for (path, code, field) in &cases {
        let r = sys.shop().get(path).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, *code),
            "{path}: {}",
            r.text
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}: {}",
            r.text
        );
        if let Some(field) = field {
            assert_eq!(r.body["error"]["field"], *field, "{path}: {}", r.text);
        }
    }
    // The limits themselves are fine.
    for path in [
        search_path(&[("q", &max)]),
        "/v1/search?q=run&limit=1".into(),
        "/v1/search?q=run&limit=100".into(),
        "/v1/search?q=run&offset=10000".into(),
        "/v1/search?q=run&wait_ms=10000&min_seq=1".into(),
        "/v1/search?q=run&wait_ms=0".into(),
        "/v1/search?q=run&category=a".into(),
        format!("/v1/search?q=run&category={}", "a".repeat(64)),
    ] {
        let r = sys.shop().get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    let r = sys
        .shop()
        .get(&format!("/v1/search?q=run&category={}", "a".repeat(65)))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_input"),
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_syntax_errors_are_400_invalid_query_syntax() {
    let sys = sys_with_products().await;
    for q in [
        "name:(",
        "(run",
        "run)",
        "\"unclosed",
        "run AND",
        "run OR",
        "name:",
        ":",
        "+",
        "-",
        "\\",
        "^2",
        "run^",
        "unknown_field:run",
        "price_minor:5",
        "-run",
        "NOT run",
        "name:/ru.*/",
    ] {
        let r = sys.search_with(&[("q", q)]).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_query_syntax"),
            "{q:?}: {}",
            r.text
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{q:?}: {}",
            r.text
        );
    }
    // The query language itself works.
    for (q, want) in [
        ("name:running", vec!["r1"]),
        ("description:mud", vec!["r2"]),
        ("run AND shoe", vec!["r1"]),
        ("+trail -shoe", vec!["r2"]),
        ("\"running shoes\"", vec!["r1"]),
        ("product_id:r2", vec!["r2"]),
        ("category:footwear AND grip", vec!["r2"]),
    ] {
        let r = sys.search_with(&[("q", q)]).await;
        assert_eq!(r.status, 200, "{q:?}: {}", r.text);
        assert_eq!(hit_ids(&r), want, "{q:?}: {}", r.text);
    }
    // Nothing changed.
    assert_eq!(total(&sys.search("run").await), 1);
}

/// Odd but well-formed queries: each answers 200 or 400 with the error shape, never 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_query_is_a_server_error() {
    let sys = sys_with_products().await;
    let nested = format!("{}run{}", "(".repeat(200), ")".repeat(200));
    let deep = "(".repeat(250);
    let many = "run ".repeat(120);
    let mut failures = Vec::new();
    for q in [
        "*",
        "name:*",
        "description:*",
        "product_id:*",
        "category:*",
        "run*",
        "name:r*",
        "sh?e",
        "run~2",
        "name:run~1",
        "\"run shoe\"~3",
        "name:[a TO z]",
        "name:{a TO *}",
        "name: IN [run shoe]",
        "name:IN []",
        "product_id:\"r1 r2\"",
        "category:\"foot wear\"",
        "run^0",
        "run^2.5",
        " ",
        "~",
        "ümlaut 🦀 日本",
        nested.as_str(),
        deep.as_str(),
        many.as_str(),
    ] {
        let r = sys.search_with(&[("q", q)]).await;
        let ok = match r.status.as_u16() {
            200 => serde_json::from_str::<SearchResponse>(&r.text).is_ok(),
            400 => !r.code().is_empty(),
            _ => false,
        };
        if !ok {
            failures.push(format!("{q:?} -> {} {}", r.status, r.text));
        }
    }
    assert!(
        failures.is_empty(),
        "queries answered with neither a result nor a 400:\n{}",
        failures.join("\n")
    );
    // The node still serves.
    assert_eq!(total(&sys.search("run").await), 1);
}

/// Scores must stay numbers (`score` is an f32 in the contract): a huge boost must not turn
/// them into `null`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_are_always_numbers() {
    let sys = sys_with_products().await;
    for q in [
        "run^1000000000000000000000",
        "run^99999999999999999999999999999999999999999999",
    ] {
        let r = sys.search_with(&[("q", q)]).await;
        if r.status == 200 {
            assert!(
                serde_json::from_str::<SearchResponse>(&r.text).is_ok(),
                "{q:?}: an answer the contract type cannot read: {}",
                r.text
            );
        } else {
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (400, "invalid_query_syntax"),
                "{q:?}: {}",
                r.text
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_and_routes_are_refused() {
    let sys = sys_with_products().await;
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let r = sys
            .shop()
            .send(method.clone(), "/v1/search?q=run", None, &[])
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (405, "method_not_allowed"),
            "{method}: {}",
            r.text
        );
    }
    for path in ["/v1/products", "/v1/searches?q=run", "/v1/search/run", "/"] {
        let r = sys.shop().get(path).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "route_not_found"),
            "{path}: {}",
            r.text
        );
    }
}
