//! What a search finds and in which order: stemming, name over description, category
//! filter, paging.

use std::collections::BTreeSet;

use contracts::search::SearchResponse;
use system_tests::SearchSystem;
use system_tests::search::{hit_ids, hits, total};

fn scores(r: &system_tests::http::Reply) -> Vec<f64> {
    hits(r)
        .iter()
        .map(|h| {
            h["score"]
                .as_f64()
                .unwrap_or_else(|| panic!("score is not a number: {h}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_stemming_matches_word_forms() {
    let sys = SearchSystem::start().await;
    sys.put_product("shoe1", "Running shoes", "light and quick", "footwear")
        .await;
    sys.put_product(
        "boot1",
        "Walking boots",
        "made for hiking trails",
        "footwear",
    )
    .await;
    let seq = sys
        .put_product("desk1", "Standing desk", "oak top", "office")
        .await;
    let _ = sys.search_after("desk", seq).await;

    for (q, want) in [
        ("run", "shoe1"),
        ("runs", "shoe1"),
        ("running", "shoe1"),
        ("shoe", "shoe1"),
        ("SHOES", "shoe1"),
        ("walked", "boot1"),
        ("boot", "boot1"),
        ("hike", "boot1"),
        ("hikes", "boot1"),
        ("trail", "boot1"),
        ("stand", "desk1"),
    ] {
        let r = sys.search(q).await;
        assert_eq!(hit_ids(&r), [want], "searching {q:?}: {}", r.text);
    }
    assert_eq!(total(&sys.search("sneaker").await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_match_outranks_a_description_match() {
    let sys = SearchSystem::start().await;
    // Same lengths, the word once each: only the field differs.
    sys.put_product(
        "a",
        "Camping light",
        "a small lantern for the tent",
        "outdoor",
    )
    .await;
    sys.put_product(
        "b",
        "Camping lantern",
        "a small light for the tent",
        "outdoor",
    )
    .await;
    sys.put_product("c", "Garden torch", "a small lamp for the yard", "garden")
        .await;
    let seq = sys
        .put_product("d", "Garden lamp", "a small torch for the yard", "garden")
        .await;
    let _ = sys.search_after("lamp", seq).await;

    let r = sys.search("lantern").await;
    assert_eq!(hit_ids(&r), ["b", "a"], "{}", r.text);
    let s = scores(&r);
    assert!(s[0] > s[1], "name match not scored higher: {}", r.text);
    let r = sys.search("torch").await;
    assert_eq!(hit_ids(&r), ["c", "d"], "{}", r.text);
    let r = sys.search("lamp").await;
    assert_eq!(hit_ids(&r), ["d", "c"], "{}", r.text);
    // More matching words rank higher.
    let r = sys.search("camping lantern").await;
    assert_eq!(hit_ids(&r)[0], "b", "{}", r.text);
    assert_eq!(total(&r), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_category_filter_keeps_only_that_category() {
    let sys = SearchSystem::start().await;
    for (id, category) in [
        ("m1", "kitchen"),
        ("m2", "kitchen"),
        ("m3", "office"),
        ("m4", "garden"),
        ("m5", "kitchen"),
    ] {
        sys.put_product(id, "Ceramic mug", "holds coffee", category)
            .await;
    }
    let seq = sys
        .put_product("m6", "Steel bowl", "holds soup", "kitchen")
        .await;
    let all = sys.search_after("mug", seq).await;
    assert_eq!(total(&all), 5);

    let r = sys
        .search_with(&[("q", "mug"), ("category", "kitchen")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: BTreeSet<String> = hit_ids(&r).into_iter().collect();
    assert_eq!(ids, ["m1", "m2", "m5"].map(String::from).into());
    assert_eq!(total(&r), 3, "total counts the filtered hits: {}", r.text);
    assert!(hits(&r).iter().all(|h| h["category"] == "kitchen"));

    let r = sys
        .search_with(&[("q", "mug"), ("category", "office")])
        .await;
    assert_eq!(hit_ids(&r), ["m3"], "{}", r.text);
    let r = sys
        .search_with(&[("q", "holds"), ("category", "kitchen")])
        .await;
    assert_eq!(total(&r), 4, "{}", r.text);
    let r = sys.search_with(&[("q", "mug"), ("category", "toys")]).await;
    assert_eq!((r.status.as_u16(), total(&r)), (200, 0), "{}", r.text);
    // A category is not a prefix.
    let r = sys.search_with(&[("q", "mug"), ("category", "kit")]).await;
    assert_eq!(total(&r), 0, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_offset_and_total_page_through_every_hit() {
    let sys = SearchSystem::start().await;
    let mut seq = 0;
    for i in 0..25 {
        // Different lengths give different scores.
        let name = format!("Widget{}", " deluxe".repeat(i % 7));
        seq = sys
            .put_product(&format!("w{i:02}"), &format!("widget {name}"), "", "toys")
            .await;
    }
    sys.put_product("other", "Gadget", "", "toys").await;
    let first = sys.search_after("widget", seq).await;
    assert_eq!(
        hits(&first).len(),
        10,
        "default limit is 10: {}",
        first.text
    );
    assert_eq!(total(&first), 25);

    let mut seen = Vec::new();
    for (offset, want) in [(0, 10), (10, 10), (20, 5), (25, 0), (1000, 0)] {
        let r = sys
            .search_with(&[
                ("q", "widget"),
                ("limit", "10"),
                ("offset", &offset.to_string()),
            ])
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(hits(&r).len(), want, "offset {offset}: {}", r.text);
        assert_eq!(total(&r), 25, "total ignores paging: {}", r.text);
        let s = scores(&r);
        assert!(
            s.windows(2).all(|w| w[0] >= w[1]),
            "not best first: {}",
            r.text
        );
        seen.extend(hit_ids(&r));
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 25, "{seen:?}");
    assert_eq!(distinct.len(), 25, "a hit appeared on two pages: {seen:?}");

    let one = sys.search_with(&[("q", "widget"), ("limit", "1")]).await;
    assert_eq!(hits(&one).len(), 1);
    assert_eq!(hit_ids(&one)[0], seen[0]);
    let all = sys.search_with(&[("q", "widget"), ("limit", "100")]).await;
    assert_eq!(
        hit_ids(&all),
        seen,
        "one page of 100 equals the pages of 10"
    );
    let deepest = sys
        .search_with(&[("q", "widget"), ("limit", "100"), ("offset", "10000")])
        .await;
    assert_eq!(deepest.status, 200, "{}", deepest.text);
    assert_eq!((hits(&deepest).len(), total(&deepest)), (0, 25));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_follow_the_contract() {
    let sys = SearchSystem::start().await;
    let seq = sys
        .put_product("x1", "Velvet cushion", "soft", "home-decor")
        .await;
    let r = sys.search_after("cushion", seq).await;
    let parsed: SearchResponse = serde_json::from_str(&r.text).expect(&r.text);
    assert_eq!(parsed.total, 1);
    assert!(parsed.caught_up);
    assert!(parsed.indexed_seq >= seq);
    assert_eq!(parsed.hits[0].product_id, "x1");
    assert_eq!(parsed.hits[0].name, "Velvet cushion");
    assert_eq!(parsed.hits[0].category, "home-decor");
    assert!(parsed.hits[0].score > 0.0);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    let none = sys.search("nothing").await;
    let parsed: SearchResponse = serde_json::from_str(&none.text).expect(&none.text);
    assert_eq!((parsed.hits.len(), parsed.total), (0, 0));
}
